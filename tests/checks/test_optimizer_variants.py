"""The known variants of Adam and RMSProp (checks.optimizer_variants): torch's rule reproduced to rounding,
each variant identified by its trajectory whatever the problem's scale (so the epsilon policy, not chance,
decides), and the closest variant named. Problems: the grader's float64 least squares, seeds 0-2."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks.optimizer_variants import (TORCH_DEFAULTS, UPDATE_RTOL, Variant, closest, trajectory,
                                       trajectory_error)
from grader.evidence.probes import OPTIMIZER_SETTINGS, OPTIMIZER_STEPS
from grader.sandbox.tasks import least_squares_trajectory

LIBRARY = {"Adam": torch.optim.Adam, "RMSProp": torch.optim.RMSprop}


def problem(seed: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal((64, 5)), scale * rng.standard_normal((64, 3)), rng.standard_normal((3, 5))


def torch_trajectory(name, kwargs, X, Y, W0):
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return least_squares_trajectory(LIBRARY[name], kw, *map(torch.from_numpy, (X, Y, W0)), OPTIMIZER_STEPS).numpy()


@pytest.mark.parametrize("name", ["Adam", "RMSProp"])
def test_torchs_rule_is_reproduced_to_rounding_on_every_setting(name):
    X, Y, W0 = problem(0)
    start = np.concatenate([W0.ravel(), np.zeros(3)])
    for kwargs in OPTIMIZER_SETTINGS[name]:
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        ours = trajectory(name, Variant(), kw, X, Y, W0, OPTIMIZER_STEPS)
        assert trajectory_error(ours, torch_trajectory(name, kwargs, X, Y, W0), start)[0] < 1e-12


@pytest.mark.parametrize("seed,scale", [(0, 1.0), (1, 0.01), (2, 100.0)])
def test_each_variant_is_identified_whatever_the_scale_of_the_gradients(seed, scale):
    """Gradients from 0.01 to 100: epsilon's effect on the update ranges over eight orders of magnitude, and
    the verdict must not depend on it."""
    X, Y, W0 = problem(seed, scale)
    cases = [("Adam", {"lr": 0.005, "weight_decay": 0.1}, Variant(weight_decay="decoupled"), False),
             ("Adam", {}, Variant(eps_form="efficient"), True),
             ("Adam", {}, Variant(eps_form="inside"), False),
             ("Adam", {}, Variant(bias="none"), False),
             ("Adam", {}, Variant(defaults=(("eps", 1e-10),)), True),
             ("RMSProp", {}, Variant(eps_form="inside"), False),
             ("RMSProp", {"lr": 0.001, "momentum": 0.9}, Variant(momentum="before"), False),
             ("RMSProp", {}, Variant(defaults=(("lr", 1e-3),)), False)]
    for name, kwargs, variant, accepted in cases:
        got = trajectory(name, variant, kwargs, X, Y, W0, OPTIMIZER_STEPS)
        match = closest(name, kwargs, got, torch_trajectory(name, kwargs, X, Y, W0), X, Y, W0)
        assert match.variant == variant, (name, kwargs, variant, match)
        assert match.passes is accepted, (name, variant, match)


def test_the_closest_variant_is_named_as_the_issue_asks():
    X, Y, W0 = problem(0)
    kwargs = {"lr": 0.005, "weight_decay": 0.1}
    got = trajectory("Adam", Variant(weight_decay="decoupled"), kwargs, X, Y, W0, OPTIMIZER_STEPS)
    match = closest("Adam", kwargs, got, torch_trajectory("Adam", kwargs, X, Y, W0), X, Y, W0)
    assert match.variant.differences("Adam", TORCH_DEFAULTS["Adam"]) == ["weight decay is decoupled (AdamW)"]
    assert match.error <= UPDATE_RTOL < match.torch_error and match.first == 0


def test_float32_rounding_in_a_correct_update_passes():
    """A learning rate held as a float32 tensor (1e-3 is 1.00000005e-3 in float32): torch's rule, rounded."""
    X, Y, W0 = problem(0)
    ref = torch_trajectory("Adam", {}, X, Y, W0)
    got = trajectory("Adam", Variant(), {"lr": float(np.float32(1e-3))}, X, Y, W0, OPTIMIZER_STEPS)
    assert closest("Adam", {}, got, ref, X, Y, W0).passes
