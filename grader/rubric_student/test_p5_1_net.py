"""Problem 5.1, public checks: `Net()` builds and maps (N, 3, 32, 32) inputs to finite (N, 10) logits (5.1.1),
`loss_fn` equals torch's cross-entropy on random logits (5.1.2: torch is the oracle, a public one), and the
graded training run completes (5.1.3). The instructor's run also compares Net's function with the handout's
network."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from checks.softmax_loss import judge_loss
from checks.verdict import Verdict
from grader.rubric.common import failed
from grader.rubric_student.common import judge_network_output, judge_training_run


@pytest.mark.rubric("5.1.1")
def test_net_builds_and_outputs_logits(ctx, record):
    names = ctx.probe()["names"]
    if names.ok and names.data.get("names", {}).get("Net") not in (None, "class"):
        return record(Verdict(0.0, f"Net must be an nn.Module class, found {names.data['names']['Net']}"))
    problem, data = judge_network_output(ctx, "Net")
    if problem:
        return record(problem)
    layers = sum(e.get("op") in ("conv", "linear") for e in data.get("events", []))
    record(Verdict(1.0, f"Net() builds and maps a batch of shape (8, 3, 32, 32) to finite (8, 10) logits in eval "
                        f"mode, through {layers} conv/linear layers."))


@pytest.mark.rubric("5.1.2")
def test_loss_equals_cross_entropy(ctx, record):
    o = ctx.probe()["loss"]
    if not o.ok:
        return record(failed(o, "loss_fn"))
    logits, targets = ctx.inputs["loss_logits"], ctx.inputs["loss_targets"]
    expected = np.array([float(F.cross_entropy(torch.from_numpy(lg), torch.from_numpy(tg)))
                         for lg, tg in zip(logits, targets)])
    try:
        student = o.array("loss_values", shape=expected.shape, dtype="float64")
    except ValueError as e:
        msg = str(e)
        return record(Verdict(0.0, "loss_fn returned NaN or infinite values on large logits: it is numerically "
                                   "unstable (compute log-softmax with the log-sum-exp shift, as F.cross_entropy does)"
                              if "NaN" in msg else f"loss_fn output not usable: {msg}"))
    record(judge_loss(student, expected, logits, targets))


@pytest.mark.rubric("5.1.3")
def test_net_trains(ctx, record):
    record(judge_training_run(ctx, "net", "Net()"))
