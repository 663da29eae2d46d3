"""Replaying a traced forward pass from its events (checks.replay): equal to the network's own output, and
without an operation, the test of whether that operation changes the function."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks.replay import ReplayError, log_softmax, relative_difference, replay
from grader.sandbox.trace import trace_forward
from tests.corpus.fair import HERE


def traced(path, name: str = "Net"):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"replayed_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model = getattr(module, name)().eval()
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))  # (8, 3, 32, 32)
    with torch.no_grad():
        events, y = trace_forward(model, x)
    tensors = {k: v.detach().numpy() for k, v in list(model.named_parameters()) + list(model.named_buffers())}
    return events, tensors, x.numpy(), y.numpy()


def test_replay_equals_the_network_and_an_extra_relu_after_pooling_changes_nothing():
    events, tensors, x, y = traced(HERE / "redundant_relu_efficient_adam" / "submission.py")
    full = replay(events, tensors, x)
    assert relative_difference(full, y) < 1e-6
    extra = [i for i, e in enumerate(events) if e["op"] == "relu"][1]  # the ReLU after conv 1's pooling
    assert relative_difference(replay(events, tensors, x, skip=(extra,)), full) == 0.0
    first = [i for i, e in enumerate(events) if e["op"] == "relu"][0]  # conv 1's own ReLU: the other stays
    assert relative_difference(replay(events, tensors, x, skip=(first, extra)), full) > 1e-3


def test_replay_of_batchnorm_after_relu_and_of_log_softmax_outputs():
    events, tensors, x, y = traced(HERE / "logsoftmax_bn_after_relu" / "submission.py", "NetBN")
    assert relative_difference(replay(events, tensors, x), y) < 1e-6
    last = len(events) - 1
    assert events[last]["op"] == "softmax" and events[last]["log"]
    without = replay(events, tensors, x, skip=(last,))  # the logits: the same classifier
    assert relative_difference(log_softmax(without), y) < 1e-6 and relative_difference(without, y) > 1e-3


def test_an_operation_it_cannot_run_exactly_is_refused():
    with pytest.raises(ReplayError):
        replay([{"op": "activation", "name": "prelu"}], {}, np.zeros((1, 3, 32, 32)))
