"""Problem 5.3: NetBN (BatchNorm after every conv and hidden FC) is the right function in train and eval
mode (5.3.1) and trains to the calibrated accuracy (5.3.2)."""
from __future__ import annotations

import pytest

from grader.architecture_verdict import judge_architecture
from grader.training_verdict import judge_training


@pytest.mark.rubric("5.3.1")
def test_netbn_architecture(ctx, record):
    record(judge_architecture(ctx, "NetBN"))


@pytest.mark.rubric("5.3.2")
def test_netbn_trains(ctx, record):
    record(judge_training(ctx, "bn", "NetBN()"))
