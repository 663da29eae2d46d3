"""Problem 3: the stages at which the two GPUs of Krizhevsky et al.'s network synchronise (3.1)."""
from __future__ import annotations

import pytest

from checks.alexnet_sync import judge_sync_stages
from checks.verdict import Verdict


@pytest.mark.rubric("3.1")
def test_sync_stages(ctx, record):
    stages, problem = ctx.answer("problem3.sync_stages")
    if problem:
        return record(Verdict(0.0, problem))
    if not isinstance(stages, list):
        return record(Verdict(0.0, f"problem3.sync_stages must be a list of stage names, got {type(stages).__name__}"))
    record(judge_sync_stages(stages))
