"""The gradient check of grader/reference/gradients.py on submissions run in the real sandbox (the probe's
architecture task): a network equivalent to the handout's under the training loss receives the
reference's gradients within the stated tolerance, a frozen layer or a hand-written activation with a
wrong backward is named layer by layer, dropout the grader cannot switch off is not mistaken for a wrong
gradient; plus the wording of each pattern of the feedback.
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


def test_wrong_backward_and_a_frozen_layer_are_named_layer_by_layer(tmp_path, isolation):
    """MyReLU after FC 120 passes negative gradients through: FC 120 and the convs before it get wrong
    gradients, the last FC (after it) does not; FC 84, frozen, is named as such."""
    freeze = "        self.fc2.weight.requires_grad_(False)  # keep the pretrained classifier\n"
    source = FUNCTIONAL_NET.replace("@@INIT@@", freeze).replace("@@RELU@@", "MyReLU.apply")
    result = probe_gradients(tmp_path, source.replace("class Net", MY_RELU + "class Net"), "Net", isolation)
    assert [name for name, _ in result.wrong] == ["conv 1", "conv 2", "FC 120"], result.describe()
    assert all(d > 0.1 for _, d in result.wrong) and result.frozen == ("FC 84",) and not result.none
    text = result.describe()
    assert "wrong gradients reach conv 1 (relative difference" in text
    assert "the parameters of FC 84 do not require gradients (requires_grad=False)" in text


def test_dropout_the_grader_cannot_switch_off_is_not_a_wrong_gradient(tmp_path, isolation):
    """`dropout` imported by name before the child patches torch.nn.functional stays random in train mode:
    the values of the gradients cannot be compared, but nothing is missing, so the network passes."""
    source = FUNCTIONAL_NET.replace("@@INIT@@", "").replace(
        "@@RELU@@(self.fc1(x))", "dropout(F.relu(self.fc1(x)), p=0.5, training=self.training)")
    source = source.replace("import torch.nn.functional as F\n", "import torch.nn.functional as F\n"
                                                                  "from torch.nn.functional import dropout\n")
    result = probe_gradients(tmp_path, source, "Net", isolation)
    assert result.ok and result.worst > GRADIENT_RTOL, result.describe()  # random, yet not reported as wrong


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
