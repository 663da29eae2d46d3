"""The inputs the parent hands to a probe child, drawn from the run's seeded generator, and the request
that describes them. The same inputs feed the reference, so every comparison is like for like."""
from __future__ import annotations

import numpy as np

BPTT_SIZES = ((3, 2, 4, 1), (4, 3, 5, 5), (5, 4, 3, 8))  # (H, D, K, T): T = 1 included
LOSS_SCALES = (0.1, 1.0, 5.0, 30.0)  # logit scales: large ones expose a missing log-sum-exp shift
ADAM_SETTINGS = ({}, {"lr": 0.01, "betas": [0.8, 0.99]}, {"lr": 0.005, "weight_decay": 0.1}, {"lr": 0.02, "eps": 1e-3})
RMSPROP_SETTINGS = ({}, {"lr": 0.001, "alpha": 0.9}, {"lr": 0.005, "weight_decay": 0.1}, {"lr": 0.001, "momentum": 0.9})
OPTIMIZER_STEPS = 30
INIT_DRAWS = 8  # fresh Net()s initialised by init_weights: 8 x 450 weights in conv 1 at the least


def random_instance(rng: np.random.Generator, H: int, D: int, K: int, T: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """A random Problem-1 RNN of the given sizes: (params, xs (T, D), ys (T,), h0 (H,)), all float64 but ys.

    Weights are scaled down so tanh is not saturated: a saturated unit has 1 - h^2 ~ 0, which would hide
    a wrong tanh derivative from the checks that use these instances. (Public: both editions probe with it.)
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


def make_probe_inputs(rng: np.random.Generator, aug_images_uint8: np.ndarray | None) -> tuple[dict[str, np.ndarray], dict]:
    arrays: dict[str, np.ndarray] = {
        "arch_x1": rng.standard_normal((8, 3, 32, 32)).astype(np.float32),
        "arch_x2": rng.standard_normal((8, 3, 32, 32)).astype(np.float32),
        "loss_logits": np.stack([s * rng.standard_normal((16, 10)) for s in LOSS_SCALES]).astype(np.float32),  # (R, N, 10)
        "loss_targets": rng.integers(0, 10, size=(len(LOSS_SCALES), 16)).astype(np.int64),  # (R, N)
        "opt_X": rng.standard_normal((64, 5)),  # float64 least-squares problem
        "opt_Y": rng.standard_normal((64, 3)),
        "opt_W0": rng.standard_normal((3, 5)),
    }
    for i, (h, d, k, t) in enumerate(BPTT_SIZES):
        params, xs, ys, h0 = random_instance(rng, H=h, D=d, K=k, T=t)
        arrays.update({f"bptt{i}_{key}": v for key, v in params.items()})
        arrays.update({f"bptt{i}_xs": xs, f"bptt{i}_ys": np.asarray(ys, dtype=np.int64), f"bptt{i}_h0": h0})
    if aug_images_uint8 is not None:
        arrays["aug_images"] = (aug_images_uint8.astype(np.float32) / 127.5 - 1.0)  # (N, 3, 32, 32) in [-1, 1]
    request = {"bptt_instances": len(BPTT_SIZES), "init_draws": INIT_DRAWS, "optimizer_steps": OPTIMIZER_STEPS,
               "optimizer_settings": {"Adam": list(ADAM_SETTINGS), "RMSProp": list(RMSPROP_SETTINGS)}}
    return arrays, request


def bptt_instance(arrays: dict[str, np.ndarray], i: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    keys = ("W_xh", "W_hh", "b_h", "W_hz", "b_z")
    return ({k: arrays[f"bptt{i}_{k}"] for k in keys}, arrays[f"bptt{i}_xs"], arrays[f"bptt{i}_ys"], arrays[f"bptt{i}_h0"])
