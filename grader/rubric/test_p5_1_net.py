"""Problem 5.1: the network's architecture (5.1.1), its softmax loss (5.1.2), and a training run (5.1.3)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks.softmax_loss import judge_loss
from checks.verdict import Verdict
from grader.architecture_verdict import judge_architecture
from grader.rubric.common import failed
from grader.training_verdict import judge_training

@pytest.mark.rubric("5.1.1")
def test_net_architecture(ctx, record):
    record(judge_architecture(ctx, "Net"))


@pytest.mark.rubric("5.1.2")
def test_loss(ctx, record):
    from solutions.cnn import loss_fn

    o = ctx.probe()["loss"]
    if not o.ok:
        return record(failed(o, "loss_fn"))
    logits, targets = ctx.inputs["loss_logits"], ctx.inputs["loss_targets"]
    reference = np.array([float(loss_fn(torch.from_numpy(lg), torch.from_numpy(tg))) for lg, tg in zip(logits, targets)])
    try:
        student = o.array("loss_values", shape=reference.shape, dtype="float64")
    except ValueError as e:
        msg = str(e)
        return record(Verdict(0.0, "loss_fn returned NaN or infinite values on large logits: it is numerically "
                                   "unstable (compute log-softmax with the log-sum-exp shift, as F.cross_entropy does)"
                      if "NaN" in msg else f"loss_fn output not usable: {msg}"))
    record(judge_loss(student, reference, logits, targets))


@pytest.mark.rubric("5.1.3")
def test_net_trains(ctx, record):
    record(judge_training(ctx, "net", "Net()"))
