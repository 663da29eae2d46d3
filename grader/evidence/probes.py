"""The inputs the grading process hands to a probe child, drawn from the run's seeded generator, and the
request that describes them. The same inputs feed the reference, so every comparison is like for like."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.rnn_instances import large_gradient_instance, random_instance
from grader.sandbox import protocol as P

# (H, D, K, T): T = 1 included; the last is checks.rnn_instances.large_gradient_instance, whose gradients
# exceed common clip values (up to 20) in every seed, so clipped gradients are told apart whatever --seed
BPTT_SIZES = ((3, 2, 4, 1), (4, 3, 5, 5), (5, 4, 3, 8), (4, 3, 3, 40))
BPTT_LARGE = 3  # index of the large-gradient instance in BPTT_SIZES
LOSS_SCALES = (0.1, 1.0, 5.0, 30.0)  # logit scales: large ones expose a missing log-sum-exp shift
ADAM_SETTINGS = ({}, {"lr": 0.01, "betas": [0.8, 0.99]}, {"lr": 0.005, "weight_decay": 0.1}, {"lr": 0.02, "eps": 1e-3})
RMSPROP_SETTINGS = ({}, {"lr": 0.001, "alpha": 0.9}, {"lr": 0.005, "weight_decay": 0.1}, {"lr": 0.001, "momentum": 0.9})
OPTIMIZER_SETTINGS = {"Adam": ADAM_SETTINGS, "RMSProp": RMSPROP_SETTINGS}
OPTIMIZER_STEPS = 30
INIT_DRAWS = 8  # fresh Net()s initialised by init_weights: 8 x 450 weights in conv 1 at the least
AUGMENT_IMAGES = 512  # test images (perturbed, unlabelled) that augment is run on
GRADIENT_BATCHES = (3, 16)  # (batches, images per batch) whose loss gradients a network reports, in train mode


@dataclass(frozen=True)
class ProbeInputs:
    arrays: dict[str, np.ndarray]  # protocol array name -> array
    request: P.Request  # the probe fields of the child's request

    def bptt_instance(self, i: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
        """(params, xs, ys, h0) of the i-th random RNN, as the child received it."""
        return ({k: self.arrays[P.bptt_input(i, k)] for k in P.BPTT_KEYS},
                *(self.arrays[P.bptt_input(i, k)] for k in P.BPTT_INPUTS))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def make_probe_inputs(rng: np.random.Generator, aug_images_uint8: np.ndarray | None) -> ProbeInputs:
    """Every probe input; `aug_images_uint8` (N, 3, 32, 32) are the images augment runs on, when selected."""
    arrays: dict[str, np.ndarray] = {
        P.ARCH_X1: rng.standard_normal((8, 3, 32, 32)).astype(np.float32),
        P.ARCH_X2: rng.standard_normal((8, 3, 32, 32)).astype(np.float32),
        P.LOSS_LOGITS: np.stack([s * rng.standard_normal((16, 10)) for s in LOSS_SCALES]).astype(np.float32),  # (R, N, 10)
        P.LOSS_TARGETS: rng.integers(0, 10, size=(len(LOSS_SCALES), 16)).astype(np.int64),  # (R, N)
        P.OPT_X: rng.standard_normal((64, 5)),  # float64 least-squares problem
        P.OPT_Y: rng.standard_normal((64, 3)),
        P.OPT_W0: rng.standard_normal((3, 5)),
    }
    for i, (h, d, k, t) in enumerate(BPTT_SIZES):
        params, xs, ys, h0 = (large_gradient_instance if i == BPTT_LARGE else random_instance)(rng, H=h, D=d, K=k, T=t)
        arrays.update({P.bptt_input(i, key): v for key, v in params.items()})
        arrays.update({P.bptt_input(i, "xs"): xs, P.bptt_input(i, "ys"): np.asarray(ys, dtype=np.int64),
                       P.bptt_input(i, "h0"): h0})
    batches, size = GRADIENT_BATCHES
    arrays[P.GRAD_X] = rng.standard_normal((batches, size, 3, 32, 32)).astype(np.float32)  # (B, N, 3, 32, 32)
    arrays[P.GRAD_Y] = rng.integers(0, 10, size=(batches, size)).astype(np.int64)  # (B, N)
    arrays[P.PIPELINE_TARGETS] = rng.integers(0, 10, size=8).astype(np.int64)  # (8,) for loss_fn(Net()(ARCH_X2), y)
    if aug_images_uint8 is not None:
        arrays[P.AUG_IMAGES] = aug_images_uint8.astype(np.float32) / 127.5 - 1.0  # (N, 3, 32, 32) in [-1, 1]
    request = P.Request(bptt_instances=len(BPTT_SIZES), init_draws=INIT_DRAWS, optimizer_steps=OPTIMIZER_STEPS,
                        optimizer_settings={name: list(s) for name, s in OPTIMIZER_SETTINGS.items()})
    return ProbeInputs(arrays, request)
