"""Confidence bounds: stated coverage holds for a correct value and a wrong value is caught.
Seeds, sample sizes and tolerances are stated in each test."""
from __future__ import annotations

import numpy as np

from checks.statistics import lower_prediction_bound, two_sided_z, variance_ratio_bound


def test_variance_bound_covers_correct_normal_and_uniform_draws_at_the_stated_rate():
    # seed 0, 2000 repetitions of 450 weights (conv 1's size); z for coverage 0.99 -> expect <= 1% misses (+ slack)
    rng = np.random.default_rng(0)
    z = two_sided_z(0.99)
    misses = 0
    for i in range(2000):
        w = rng.normal(0, 1, 450) if i % 2 else rng.uniform(-np.sqrt(3), np.sqrt(3), 450)
        ratio, hw = variance_ratio_bound(w, 1.0, z)
        misses += abs(ratio - 1) > hw
    assert misses / 2000 < 0.02


def test_variance_bound_rejects_pytorch_default_init_scale():
    # seed 1; PyTorch's default kaiming_uniform(a=sqrt(5)) has Var = 1/(3 fan_in), i.e. ratio 1/6 of He
    rng = np.random.default_rng(1)
    fan_in = 75
    bound = 1 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, 450 * 8)
    ratio, hw = variance_ratio_bound(w, 2.0 / fan_in, two_sided_z(0.999, tests=10))
    assert abs(ratio - 1 / 6) < 0.02 and abs(ratio - 1) > hw


def test_lower_prediction_bound_is_exceeded_by_new_draws_at_the_stated_rate():
    # seed 2; 8 calibration draws, then one new draw, 20000 times; coverage 0.99 -> misses about 1%
    rng = np.random.default_rng(2)
    misses = sum(rng.normal(0.5, 0.01) < lower_prediction_bound(rng.normal(0.5, 0.01, 8), 0.99) for _ in range(20000))
    assert 0.005 < misses / 20000 < 0.015
