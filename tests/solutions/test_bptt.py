"""Problem 1 reference (solutions/bptt.py): BPTT gradients against finite differences and torch.autograd."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks.rnn_instances import random_instance
from solutions import bptt

SIZES = [(1, 1, 2, 1), (3, 4, 5, 1), (3, 4, 5, 6), (4, 2, 3, 3)]  # (H, D, K, T)


def finite_difference_gradients(params, xs, ys, h0, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Central differences of solutions.bptt.loss, entry by entry."""
    grads = {}
    for key, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][index] += eps
            minus[key][index] -= eps
            grad[index] = (bptt.loss(plus, xs, ys, h0) - bptt.loss(minus, xs, ys, h0)) / (2 * eps)
        grads[key] = grad
    return grads


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_gradients_match_central_finite_differences(size) -> None:
    instance = random_instance(np.random.default_rng(1), *size)
    ours = bptt.bptt_gradients(*instance)
    numeric = finite_difference_gradients(*instance)
    for key in bptt.PARAM_NAMES:
        assert rel_error(ours[key], numeric[key]) < 1e-7, key


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_gradients_and_loss_match_torch_autograd_in_float64(size) -> None:
    params, xs, ys, h0 = random_instance(np.random.default_rng(2), *size)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h, total = torch.tensor(h0), torch.zeros((), dtype=torch.float64)
    for t in range(xs.shape[0]):
        h = torch.tanh(tp["W_xh"] @ torch.tensor(xs[t]) + tp["W_hh"] @ h + tp["b_h"])
        total = total + torch.nn.functional.cross_entropy((tp["W_hz"] @ h + tp["b_z"])[None], torch.tensor([ys[t]]))
    total.backward()
    ours = bptt.bptt_gradients(params, xs, ys, h0)
    assert bptt.loss(params, xs, ys, h0) == pytest.approx(total.item(), rel=1e-12)
    for key in bptt.PARAM_NAMES:
        assert rel_error(ours[key], tp[key].grad.numpy()) < 1e-12, key


def test_gradients_follow_the_contract_keys_shapes_and_dtype() -> None:
    H, D, K, T = 3, 4, 5, 2
    params, xs, ys, h0 = random_instance(np.random.default_rng(0), H, D, K, T)
    grads = bptt.bptt_gradients(params, xs, ys, h0)
    expected = {"W_xh": (H, D), "W_hh": (H, H), "b_h": (H,), "W_hz": (K, H), "b_z": (K,)}
    assert {k: v.shape for k, v in grads.items()} == expected
    assert all(v.dtype == np.float64 for v in grads.values())


def test_forward_returns_states_in_tanh_range_and_probability_rows() -> None:
    params, xs, _, h0 = random_instance(np.random.default_rng(0), 3, 2, 4, 5)
    hs, zs = bptt.forward(params, xs, h0)
    assert hs.shape == (5, 3) and zs.shape == (5, 4)
    assert np.all(np.abs(hs) < 1)
    np.testing.assert_allclose(zs.sum(axis=1), 1.0, rtol=1e-14)
    # first state by hand: h_1 = tanh(W_xh x_1 + W_hh h_0 + b_h)
    np.testing.assert_allclose(hs[0], np.tanh(params["W_xh"] @ xs[0] + params["W_hh"] @ h0 + params["b_h"]))


def test_loss_is_summed_cross_entropy_over_time() -> None:
    params, xs, ys, h0 = random_instance(np.random.default_rng(3), 2, 2, 3, 4)
    _, zs = bptt.forward(params, xs, h0)
    assert bptt.loss(params, xs, ys, h0) == pytest.approx(-sum(np.log(zs[t, ys[t]]) for t in range(4)))


def test_later_losses_reach_earlier_states_through_W_hh() -> None:
    """With two steps the W_xh gradient must include the path L_2 -> h_2 -> h_1 -> W_xh: the recursion."""
    params, xs, ys, h0 = random_instance(np.random.default_rng(4), 3, 2, 3, 2)
    full = bptt.bptt_gradients(params, xs, ys, h0)
    first_step_only = bptt.bptt_gradients(params, xs[:1], ys[:1], h0)["W_xh"]
    second_only = full["W_xh"] - first_step_only
    hs, zs = bptt.forward(params, xs, h0)
    do2 = zs[1] - np.eye(3)[ys[1]]
    delta2 = (params["W_hz"].T @ do2) * (1 - hs[1] ** 2)
    delta1_from_l2 = (params["W_hh"].T @ delta2) * (1 - hs[0] ** 2)
    np.testing.assert_allclose(second_only, np.outer(delta2, xs[1]) + np.outer(delta1_from_l2, xs[0]), rtol=1e-12)


def test_random_instance_is_reproducible_with_contract_types() -> None:
    a = random_instance(np.random.default_rng(7), 2, 3, 4, 5)
    b = random_instance(np.random.default_rng(7), 2, 3, 4, 5)
    for x, y in zip(a[1:], b[1:]):
        np.testing.assert_array_equal(x, y)
    params, xs, ys, h0 = a
    assert set(params) == set(bptt.PARAM_NAMES) and all(v.dtype == np.float64 for v in params.values())
    assert xs.shape == (5, 3) and h0.shape == (2,) and np.issubdtype(ys.dtype, np.integer) and ys.max() < 4


def test_docstring_states_the_recursion_and_the_tanh_derivative() -> None:
    doc = bptt.__doc__
    for piece in ("W_hh^T delta_{t+1}", "(1 - h_t^2)", "z_t - e(y_t)", "delta_t h_{t-1}^T", "sum_t delta_t x_t^T"):
        assert piece in doc, piece
