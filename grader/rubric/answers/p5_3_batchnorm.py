"""Problem 5.3.1: NetBN (BatchNorm after every conv and hidden FC) computes the reference's function in train
and eval mode (the judge of 5.1.1, grader.rubric.answers.p5_1_net)."""
from __future__ import annotations

from checks.verdict import Verdict
from grader.rubric.answers.p5_1_net import judge_architecture


def netbn_architecture(ctx) -> Verdict:
    return judge_architecture(ctx, "NetBN")
