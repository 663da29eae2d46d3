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


def large_gradient_instance(rng: np.random.Generator, H: int, D: int, K: int, T: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """A Problem-1 RNN whose true gradients are large (every gradient has an entry of magnitude well above
    20 when T >= 40, in every seed), so that gradients clipped to a common value (min-char-rnn clips to
    [-5, 5]) differ from dL/dtheta whatever the seed.

    How: a nearly constant input drives h_t to about 0.66 s for a random sign vector s (tanh not saturated,
    so a wrong tanh derivative still shows); every target is class k, whose logit W_hz[k] h + b_z[k] is
    about -2.6 H - 1, so z_{t,k} is small and dL/do_{t,k} is about -1 at every step; then dL/db_z[k] is
    about -T, dL/dW_hz[k] about -0.66 T s, and delta_t about 1.1 s, summed over T steps in dL/db_h,
    dL/dW_xh (|x| >= 0.5) and dL/dW_hh.
    """
    s = rng.choice([-1.0, 1.0], size=H)
    x = rng.choice([-1.0, 1.0], size=D) * rng.uniform(0.5, 1.5, size=D)
    k = int(rng.integers(0, K))
    W_hz = 0.5 * rng.standard_normal((K, H))
    W_hz[k] = -2.0 * s
    b_z = 0.3 * rng.standard_normal(K)
    b_z[k] = -1.0
    params = {
        "W_xh": 0.8 * np.outer(s, x) / (x @ x) + 0.02 * rng.standard_normal((H, D)),
        "W_hh": 0.05 * rng.standard_normal((H, H)),
        "b_h": 0.05 * rng.standard_normal(H),
        "W_hz": W_hz,
        "b_z": b_z,
    }
    xs = x + 0.05 * rng.standard_normal((T, D))
    ys = np.full(T, k)
    h0 = 0.5 * rng.standard_normal(H)
    return params, xs, ys, h0
