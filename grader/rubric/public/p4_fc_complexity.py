"""Problem 4, public checks: the parameter count (4.1) and the multiplications of an SGD step (4.2) and of
the path-enumeration method (4.3) parse as expressions in d, n, L, c (sympy syntax, O(...) accepted; the
parser of checks/answer_format.py, which the instructor's judges read them with too). Whether they are right
is judged only by the instructor's run."""
from __future__ import annotations

from checks.answer_format import parse_complexity
from checks.verdict import Verdict
from grader.rubric.public.common import answer_text

KINDS, EXPECTED = (str, int), "a string in sympy syntax"


def _parses(ctx, key: str) -> Verdict:
    text, problem = answer_text(ctx, f"problem4.{key}", KINDS, EXPECTED)
    if problem:
        return problem
    try:
        expr = parse_complexity(str(text))
    except ValueError as error:
        return Verdict(0.0, f"Could not read the answer: {error}")
    return Verdict(1.0, f"problem4.{key} reads as {expr}, an expression in d, n, L, c.")


def parameter_count_parses(ctx) -> Verdict:
    return _parses(ctx, "parameters")


def sgd_multiplications_parse(ctx) -> Verdict:
    return _parses(ctx, "sgd_multiplications")


def path_multiplications_parse(ctx) -> Verdict:
    return _parses(ctx, "path_multiplications")
