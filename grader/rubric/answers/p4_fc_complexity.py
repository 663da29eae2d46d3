"""Problem 4: parameter count (4.1), multiplications of an SGD step (4.2) and of the path-enumeration method
(4.3) of a fully connected network, as sympy expressions in d, n, L, c, against the reference
(checks.fc_complexity)."""
from __future__ import annotations

from checks.fc_complexity import judge_parameters, judge_path_multiplications, judge_sgd_multiplications
from checks.verdict import Verdict
from grader.rubric.public.common import answer_text
from grader.rubric.public.p4_fc_complexity import EXPECTED, KINDS


def _judge(ctx, key: str, judge) -> Verdict:
    text, problem = answer_text(ctx, f"problem4.{key}", KINDS, EXPECTED)
    return problem or judge(str(text))


def parameter_count(ctx) -> Verdict:
    return _judge(ctx, "parameters", judge_parameters)


def sgd_multiplications(ctx) -> Verdict:
    return _judge(ctx, "sgd_multiplications", judge_sgd_multiplications)


def path_multiplications(ctx) -> Verdict:
    return _judge(ctx, "path_multiplications", judge_path_multiplications)
