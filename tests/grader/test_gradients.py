"""The gradient check of grader/reference/gradients.py on submissions run in the real sandbox (the probe's
architecture task): a network equivalent to the handout's under the training loss receives the
reference's gradients within the stated tolerance, and a frozen layer or a hand-written activation with a
wrong backward is named layer by layer; plus the wording of each pattern of the feedback.
(The graph-cutting forms of forward are graded whole in tests/grader/test_rubric_problem5.py.)"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from grader.evidence.probes import make_probe_inputs
from grader.reference.gradients import GRADIENT_RTOL, GradientComparison, compare_gradients
from grader.reference.networks import load_into_reference, reference_model
from grader.sandbox import protocol as P
from grader.sandbox.limits import Limits
from grader.sandbox.runner import SubmissionRun

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
LOG_SOFTMAX_NETBN = HEADER + '''class NetBN(nn.Module):
    """BatchNorm after each conv and hidden FC, a ReLU written twice, and log-probabilities out (the loss is
    then nll_loss): the cross-entropy sees the handout's network."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.BatchNorm2d(6), nn.ReLU(), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),
            nn.Linear(84, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.net(x)
'''
FUNCTIONAL_NET = HEADER + '''class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)
@@INIT@@
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = @@RELU@@(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
'''
MY_RELU = '''class MyReLU(torch.autograd.Function):
    """A hand-written ReLU whose backward forgets the mask."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


'''


def probe_gradients(tmp_path: Path, source: str, network: str, isolation) -> GradientComparison:
    """Run the probe's architecture task on `source` in a sandboxed child, and compare its gradients with
    the reference's holding its tensors, as 5.1.1 and 5.3.1 do."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "submission.py").write_text(source)
    inputs = make_probe_inputs(np.random.default_rng(0), None)
    run = SubmissionRun(folder, Limits(), isolation, hidden=[])
    try:
        run.put_inputs(inputs.arrays)
        o = run.run([P.arch(network)], replace(inputs.request, task_timeout_s=120))[P.arch(network)]
        assert o.ok, o.error
        model = reference_model(network)
        mapping = load_into_reference(model, network, o.data["events"], o.data["tensors"], network, o.out_dir)
        return compare_gradients(model, network, mapping, o, network, inputs[P.GRAD_X], inputs[P.GRAD_Y])
    finally:
        run.close()


def test_network_equal_under_the_training_loss_receives_the_reference_gradients(tmp_path, isolation):
    """Log-softmax outputs and a doubled ReLU: the cross-entropy's gradients agree within a tenth of the
    tolerance (measured: up to 5.7e-5 over 12 seeds, on the biases before BatchNorm)."""
    result = probe_gradients(tmp_path, LOG_SOFTMAX_NETBN, "NetBN", isolation)
    assert result.ok and result.worst < GRADIENT_RTOL / 10, result.describe()
    assert result.units == ("conv 1", "conv 1's BatchNorm", "conv 2", "conv 2's BatchNorm", "FC 120",
                            "FC 120's BatchNorm", "FC 84", "FC 84's BatchNorm", "the last FC")


def test_wrong_backward_of_a_hand_written_relu_is_named_with_the_layers_it_reaches(tmp_path, isolation):
    """MyReLU after FC 120 passes negative gradients through: FC 120 and the convs before it get wrong
    gradients, FC 84 and the last FC (after it) do not."""
    source = FUNCTIONAL_NET.replace("@@INIT@@", "").replace("@@RELU@@", "MyReLU.apply")
    result = probe_gradients(tmp_path, source.replace("class Net", MY_RELU + "class Net"), "Net", isolation)
    assert [name for name, _ in result.wrong] == ["conv 1", "conv 2", "FC 120"], result.describe()
    assert all(d > 0.1 for _, d in result.wrong)
    assert "wrong gradients reach conv 1 (relative difference" in result.describe()


def test_frozen_layer_is_named_as_not_requiring_gradients(tmp_path, isolation):
    freeze = "        self.fc2.weight.requires_grad_(False)  # keep the pretrained classifier\n"
    result = probe_gradients(tmp_path, FUNCTIONAL_NET.replace("@@INIT@@", freeze).replace("@@RELU@@", "F.relu"),
                             "Net", isolation)
    assert result.frozen == ("FC 84",) and not result.none and not result.wrong
    assert "the parameters of FC 84 do not require gradients (requires_grad=False)" in result.describe()


UNITS = ("conv 1", "conv 2", "FC 120", "FC 84", "the last FC")


@pytest.mark.parametrize("none,expected", [
    (("conv 1", "conv 2"), "conv 1, conv 2 receive no gradient: something in forward cuts the graph after conv 2"),
    (("conv 1",), "conv 1 receives no gradient: something in forward cuts the graph after conv 1"),
    (UNITS, "no layer receives a gradient: forward computes its output outside autograd"),
    (("FC 84",), "FC 84 receives no gradient: forward uses them outside the graph that reaches the output"),
])
def test_feedback_names_the_layers_without_gradient_and_where_the_graph_is_cut(none, expected):
    assert GradientComparison(UNITS, none=none).describe().startswith(expected)


def test_feedback_on_a_failing_backward_quotes_the_error():
    text = GradientComparison(UNITS, error="RuntimeError: one of the variables needed for gradient computation "
                                           "has been modified by an inplace operation").describe()
    assert text.startswith("backpropagating the loss through it fails: RuntimeError: one of the variables")
