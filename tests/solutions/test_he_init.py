"""Reference solution of Problem 5.2 (solutions/he_init.py)."""
from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from torch import nn

from solutions import he_init


def _problem5_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def test_fan_in_is_in_features_or_in_channels_times_kernel_area() -> None:
    assert he_init.fan_in(nn.Linear(400, 120)) == 400
    assert he_init.fan_in(nn.Conv2d(6, 16, 5)) == 6 * 5 * 5
    assert he_init.fan_in(nn.Conv2d(8, 8, 3, groups=4)) == 2 * 3 * 3  # grouped: in_channels / groups


def test_eq6_gives_weight_variance_two_over_fan_in() -> None:
    n_l = sp.Symbol("n_l", positive=True)
    assert sp.simplify(he_init.eq6_weight_variance() - 2 / n_l) == 0
    assert he_init.he_weight_variance(50) == pytest.approx(0.04)


def test_init_weights_gives_var_w_times_fan_in_over_two_near_one() -> None:
    # seed 0; per layer m weights; sample variance of m normals has relative SE sqrt(2/(m-1)); z = 4.
    torch.manual_seed(0)
    model = _problem5_cnn()
    he_init.init_weights(model)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            m = module.weight.numel()
            ratio = module.weight.double().var().item() * he_init.fan_in(module) / 2
            assert abs(ratio - 1) <= 4 * math.sqrt(2 / (m - 1)), (module, ratio)
            assert abs(module.weight.double().mean().item()) <= 4 * math.sqrt(2 / he_init.fan_in(module) / m)


def test_init_weights_zeroes_biases() -> None:
    model = _problem5_cnn()
    he_init.init_weights(model)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            assert torch.count_nonzero(module.bias) == 0


def test_init_weights_leaves_other_modules_alone() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with torch.no_grad():
        model[1].weight.fill_(3.0)
    he_init.init_weights(model)
    assert torch.all(model[1].weight == 3.0)


def test_init_weights_handles_layers_without_bias() -> None:
    layer = nn.Linear(1000, 50, bias=False)
    he_init.init_weights(layer)
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.05)  # 50000 weights


def test_predicted_variance_is_eq5_symbolically() -> None:
    v1, n2, n3, w2, w3 = sp.symbols("v1 n2 n3 w2 w3", positive=True)
    assert sp.simplify(he_init.predicted_variance(v1, [n2, n3], [w2, w3]) - v1 * n2 * w2 * n3 * w3 / 4) == 0


def test_predicted_variance_is_constant_under_he_init() -> None:
    fan_ins = [64, 128, 576]
    weight_vars = [he_init.he_weight_variance(f) for f in fan_ins]
    assert he_init.predicted_variance(2.0, fan_ins, weight_vars) == pytest.approx(2.0)


def test_predicted_variance_collapses_geometrically_under_small_init() -> None:
    # N(0, 0.01^2), fan-in 64: each layer multiplies the variance by 64 * 1e-4 / 2 = 0.0032
    assert he_init.predicted_variance(1.0, [64] * 3, [1e-4] * 3) == pytest.approx(0.0032**3)


def test_predicted_profile_starts_at_var_y1_and_applies_eq5_per_layer() -> None:
    assert he_init.predicted_profile(1.0, [10, 10], [0.1, 0.4]) == pytest.approx([1.0, 0.5, 1.0])


def test_predicted_variance_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="fan-ins"):
        he_init.predicted_variance(1.0, [1, 2], [1.0])
