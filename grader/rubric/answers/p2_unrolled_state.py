"""Problem 2: G_3 as the composition of F (2.1), compared with the reference by sympy (checks.unrolled_state);
2.2 (two reasons) is graded by hand."""
from __future__ import annotations

from checks.unrolled_state import judge_g3
from checks.verdict import Verdict
from grader.rubric.public.common import answer_text
from grader.rubric.public.p2_unrolled_state import KEY


def g3_expression(ctx) -> Verdict:
    text, problem = answer_text(ctx, KEY)
    return problem or judge_g3(text)
