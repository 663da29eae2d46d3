"""Problem 4: parameter count (4.1), multiplications of an SGD step (4.2) and of the path-enumeration
method (4.3) of a fully connected network, as sympy expressions in d, n, L, c."""
from __future__ import annotations

import pytest

from checks.fc_complexity import judge_parameters, judge_path_multiplications, judge_sgd_multiplications
from checks.verdict import Verdict


def _judge(ctx, key: str, judge) -> Verdict:
    text, problem = ctx.answer(f"problem4.{key}")
    if problem:
        return Verdict(0.0, problem)
    if not isinstance(text, (str, int)):
        return Verdict(0.0, f"problem4.{key} must be a string in sympy syntax, got {type(text).__name__}")
    return judge(str(text))


@pytest.mark.rubric("4.1")
def test_parameter_count(ctx, record):
    record(_judge(ctx, "parameters", judge_parameters))


@pytest.mark.rubric("4.2")
def test_sgd_multiplications(ctx, record):
    record(_judge(ctx, "sgd_multiplications", judge_sgd_multiplications))


@pytest.mark.rubric("4.3")
def test_path_multiplications(ctx, record):
    record(_judge(ctx, "path_multiplications", judge_path_multiplications))
