"""Static detection of library optimisers and transforms in a submission's source, and of automatic
differentiation in Problem 1's bptt_gradients."""
from checks.library_use import function_library_uses, library_uses


def test_aliased_import_of_torch_adam_is_found():
    src = "import torch.optim as o\nclass Adam(o.Adam):\n    pass\n"
    assert library_uses(src, "optimizer") == ["torch.optim.Adam (line 2)"]


def test_from_import_of_rmsprop_is_found():
    assert library_uses("from torch.optim import RMSprop\n", "optimizer") == ["torch.optim.RMSprop (line 1)"]


def test_torchvision_transforms_found_and_plain_torch_not():
    assert library_uses("import torchvision.transforms.functional as TF\n", "transforms")
    assert library_uses("import torch\nx = torch.optim.SGD\n", "optimizer") == []


def test_unparseable_source_reports_nothing():
    assert library_uses("def (:\n", "optimizer") == []


BPTT_BY_AUTOGRAD = '''
import numpy as np
import torch


def _loss(p, xs, ys, h0):
    h, loss = torch.tensor(h0), 0.0
    for t in range(len(xs)):
        h = torch.tanh(p["W_xh"] @ torch.tensor(xs[t]) + p["W_hh"] @ h + p["b_h"])
        loss = loss - torch.log_softmax(p["W_hz"] @ h + p["b_z"], 0)[ys[t]]
    return loss


def bptt_gradients(params, xs, ys, h0):
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    _loss(p, xs, ys, h0).backward()
    return {k: v.grad.numpy() for k, v in p.items()}


def train(net, batches, opt):  # Problem 5's loop: autograd is fine here
    for x, y in batches:
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
'''


def test_autograd_in_bptt_gradients_is_found_but_not_in_a_training_loop():
    uses = function_library_uses(BPTT_BY_AUTOGRAD, "bptt_gradients", "differentiation")
    assert uses == [".backward() (line 16)"]


def test_autodiff_libraries_reached_through_a_helper_are_found():
    src = ("from torch.func import grad as g\nimport jax\n\ndef helper(f):\n    return g(f)\n\n"
           "def bptt_gradients(params, xs, ys, h0):\n    jax.grad(len)\n    return helper(sum)\n")
    uses = function_library_uses(src, "bptt_gradients", "differentiation")
    assert "jax.grad (line 8)" in uses and "torch.func.grad (line 5)" in uses


def test_a_derived_bptt_gradients_uses_no_autodiff():
    from pathlib import Path

    source = (Path(__file__).parents[1] / "corpus" / "bptt_student.py").read_text()
    assert function_library_uses(source, "bptt_gradients", "differentiation") == []
    assert function_library_uses(BPTT_BY_AUTOGRAD, "no_such_function", "differentiation") == []
