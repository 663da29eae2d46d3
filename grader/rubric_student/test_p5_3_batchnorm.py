"""Problem 5.3, public checks: `NetBN()` builds, maps (N, 3, 32, 32) inputs to finite (N, 10) logits in train
and eval mode, and its traced forward pass runs a BatchNorm after each conv and each FC layer but the last, as
the handout asks (5.3.1); the graded training run completes (5.3.2)."""
from __future__ import annotations

import pytest

from checks.verdict import Verdict
from grader.rubric_student.common import judge_network_output, judge_training_run


def layers_without_batchnorm(events: list[dict]) -> tuple[int, list[str]]:
    """(conv and hidden FC layers, the ones not followed by a BatchNorm of their width before the next layer)."""
    layers = [i for i, e in enumerate(events) if e.get("op") in ("conv", "linear")]
    missing = []
    for j, i in enumerate(layers[:-1]):  # the very last FC (the classifier) has none
        e, nxt = events[i], layers[j + 1]
        if not any(b.get("op") == "batch_norm" and b.get("features") == e.get("out") for b in events[i + 1:nxt]):
            kind = "conv" if e["op"] == "conv" else "FC"
            missing.append(f"{kind} {e.get('in')}->{e.get('out')}")
    return max(len(layers) - 1, 0), missing


@pytest.mark.rubric("5.3.1")
def test_netbn_builds_with_batchnorm(ctx, record):
    problem, data = judge_network_output(ctx, "NetBN")
    if problem:
        return record(problem)
    events = data.get("events", [])
    norms = sum(e.get("op") == "batch_norm" for e in events)
    count, missing = layers_without_batchnorm(events)
    shapes = "NetBN() builds and maps a batch of shape (8, 3, 32, 32) to finite (8, 10) logits in train and eval mode"
    if norms == 0:
        return record(Verdict(0.0, f"{shapes}, but its forward pass runs no BatchNorm."))
    if missing:
        return record(Verdict(0.5, f"{shapes}; {norms} BatchNorm operations run, but none follows "
                                   f"{', '.join(missing)} (the handout: after each conv and FC layer but the last)."))
    record(Verdict(1.0, f"{shapes}, with a BatchNorm after each of its {count} conv and hidden FC layers."))


@pytest.mark.rubric("5.3.2")
def test_netbn_trains(ctx, record):
    record(judge_training_run(ctx, "bn", "NetBN()"))
