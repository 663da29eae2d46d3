"""Problem 2, public check: G_3 (2.1) parses as an expression in F, h0 and x1, x2, ... (the grammar of
checks/answer_format.py, which the instructor's judge reads it with too). Whether it is G_3 is judged only by
the instructor's run; 2.2 (two reasons) is graded by hand."""
from __future__ import annotations

from checks.answer_format import StateParseError, parse_state_expression
from checks.verdict import Verdict
from grader.rubric.public.common import answer_text

KEY = "problem2.G_3"


def g3_parses(ctx) -> Verdict:
    text, problem = answer_text(ctx, KEY)
    if problem:
        return problem
    shown = text if len(text) <= 120 else text[:117] + "..."
    try:
        expr = parse_state_expression(text)
    except StateParseError as err:
        return Verdict(0.0, f"Could not read {shown!r} as an expression in F, h0 and x1, x2, ...: {err}.")
    return Verdict(1.0, f"{KEY} reads as {expr}, an expression in F, h0 and x1, x2, ...")
