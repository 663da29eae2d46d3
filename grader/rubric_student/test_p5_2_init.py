"""Problem 5.2, public checks: `init_weights` gives every conv and linear layer Var[w] = 2 / fan-in (5.2.1:
the instructor's statistical check itself, which needs no reference), and the Kaiming-initialised training
run completes (5.2.2). The proofs (5.2.3) are graded by hand."""
from __future__ import annotations

import pytest

from checks.verdict import Verdict
from grader.rubric import test_p5_2_init as instructor
from grader.rubric_student.common import judge_training_run


@pytest.mark.rubric("5.2.1")
def test_init_weights_variance(ctx, record):
    instructor.test_init_weights_variance(ctx, record)  # the same check and verdict as the instructor's run


@pytest.mark.rubric("5.2.2")
def test_kaiming_trains(ctx, record):
    v = judge_training_run(ctx, "kaiming", "Net() with init_weights")
    base = ctx.training().get("net")
    if v.fraction > 0 and base and base.ok and base.epoch_accuracy:
        v = Verdict(v.fraction, v.feedback + f" Baseline (default initialisation) under the same protocol: "
                                             f"{100 * base.epoch_accuracy[-1]:.1f}%.", v.notes)
    record(v)
