"""Problem 4, public checks: the parameter count (4.1) and the multiplications of an SGD step (4.2) and of
the path-enumeration method (4.3) parse as expressions in d, n, L, c (sympy syntax, O(...) accepted; the
parser of checks/answer_format.py, which the instructor's judges read them with too). Whether they are right
is judged only by the instructor's run."""
from __future__ import annotations

import pytest

from checks.answer_format import parse_complexity
from checks.verdict import Verdict


def judge_parses(ctx, key: str) -> Verdict:
    text, problem = ctx.answer(f"problem4.{key}")
    if problem:
        return Verdict(0.0, problem)
    if not isinstance(text, (str, int)):
        return Verdict(0.0, f"problem4.{key} must be a string in sympy syntax, got {type(text).__name__}")
    try:
        expr = parse_complexity(str(text))
    except ValueError as error:
        return Verdict(0.0, f"Could not read the answer: {error}")
    return Verdict(1.0, f"problem4.{key} reads as {expr}, an expression in d, n, L, c.")


@pytest.mark.rubric("4.1")
def test_parameter_count_parses(ctx, record):
    record(judge_parses(ctx, "parameters"))


@pytest.mark.rubric("4.2")
def test_sgd_multiplications_parse(ctx, record):
    record(judge_parses(ctx, "sgd_multiplications"))


@pytest.mark.rubric("4.3")
def test_path_multiplications_parse(ctx, record):
    record(judge_parses(ctx, "path_multiplications"))
