"""Random instances of Problem 1's RNN, shared by the BPTT checks and by the grader's probes (public: it
holds no answer, so the student edition ships it too)."""
from __future__ import annotations

import numpy as np


def random_instance(rng: np.random.Generator, H: int, D: int, K: int, T: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """A random Problem-1 RNN of the given sizes: (params, xs (T, D), ys (T,), h0 (H,)), all float64 but ys.

    Weights are scaled down so tanh is not saturated: a saturated unit has 1 - h^2 ~ 0, which would hide
    a wrong tanh derivative from the checks that use these instances.
    """
    params = {
        "W_xh": 0.5 * rng.standard_normal((H, D)),
        "W_hh": 0.5 * rng.standard_normal((H, H)),
        "b_h": 0.3 * rng.standard_normal(H),
        "W_hz": 0.5 * rng.standard_normal((K, H)),
        "b_z": 0.3 * rng.standard_normal(K),
    }
    xs = rng.standard_normal((T, D))
    ys = rng.integers(0, K, size=T)
    h0 = 0.5 * rng.standard_normal(H)
    return params, xs, ys, h0
