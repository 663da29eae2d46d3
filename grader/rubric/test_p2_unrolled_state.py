"""Problem 2: G_3 as the composition of F (2.1), compared with sympy; 2.2 (two reasons) is graded by hand."""
from __future__ import annotations

import pytest

from checks.unrolled_state import judge_g3
from checks.verdict import Verdict


@pytest.mark.rubric("2.1")
def test_g3_expression(ctx, record):
    text, problem = ctx.answer("problem2.G_3")
    if problem:
        return record(Verdict(0.0, problem))
    if not isinstance(text, str):
        return record(Verdict(0.0, f"problem2.G_3 must be a string, got {type(text).__name__}"))
    record(judge_g3(text))
