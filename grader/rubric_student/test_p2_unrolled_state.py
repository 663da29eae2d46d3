"""Problem 2, public check: G_3 (2.1) parses as an expression in F, h0 and x1, x2, ... (the grammar of
checks/answer_format.py, which the instructor's judge reads it with too). Whether it is G_3 is judged only by
the instructor's run; 2.2 (two reasons) is graded by hand."""
from __future__ import annotations

import pytest

from checks.answer_format import StateParseError, parse_state_expression
from checks.verdict import Verdict


@pytest.mark.rubric("2.1")
def test_g3_expression_parses(ctx, record):
    text, problem = ctx.answer("problem2.G_3")
    if problem:
        return record(Verdict(0.0, problem))
    if not isinstance(text, str):
        return record(Verdict(0.0, f"problem2.G_3 must be a string, got {type(text).__name__}"))
    shown = text if len(text) <= 120 else text[:117] + "..."
    try:
        expr = parse_state_expression(text)
    except StateParseError as err:
        return record(Verdict(0.0, f"Could not read {shown!r} as an expression in F, h0 and x1, x2, ...: {err}."))
    record(Verdict(1.0, f"problem2.G_3 reads as {expr}, an expression in F, h0 and x1, x2, ..."))
