"""Problem 3: the stages at which the two GPUs of Krizhevsky et al.'s network synchronise (3.1), against the
stages derived from the reference network by perturbation (checks.alexnet_sync)."""
from __future__ import annotations

from checks.alexnet_sync import judge_sync_stages
from checks.verdict import Verdict
from grader.rubric.public.common import answer_text
from grader.rubric.public.p3_alexnet_sync import KEY


def sync_stages(ctx) -> Verdict:
    stages, problem = answer_text(ctx, KEY, (list,), "a list of stage names")
    return problem or judge_sync_stages(stages)
