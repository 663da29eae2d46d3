"""The known variants of Adam and RMSProp, for naming how a hand-written optimiser differs from torch.optim's
(Problem 5.4): the form of epsilon, bias correction, coupled or decoupled weight decay, momentum placement,
and other defaults. Each variant runs on the grader's least-squares problem in float64 numpy, so the judge
can say "matches torch.optim.Adam except weight decay is decoupled (AdamW)".

Tolerance: two trajectories of the same update rule differ only by rounding, far below a millionth of the
distance the parameters travelled, so every comparison is relative to that distance (`trajectory_error`),
whatever epsilon is. The epsilon policy (documented in the README's rubric): epsilon exists to keep the
division finite, so the Adam paper's "efficient" form (epsilon added to sqrt(v) before the bias
correction) and a default of 1e-10 instead of 1e-8 are accepted, with a note; epsilon inside the square
root (sqrt(v + eps), TensorFlow's RMSProp) is a different update and fails the setting, whether or not a
given problem makes the difference large. Which form a submission uses is decided by which variant its
trajectory matches, not by whether the difference happens to exceed a tolerance.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

UPDATE_RTOL = 1e-6  # of the distance travelled: float32 rounding anywhere in the update stays below it
IDENTIFIED = 100.0  # a variant fits "clearly better" than torch's rule when its error is this many times smaller


@dataclass(frozen=True)
class Variant:
    """One update rule: torch's unless a field says otherwise. `defaults` overrides constructor defaults the
    setting did not pass ({"lr": 1e-2})."""

    eps_form: str = "torch"  # "torch": m_hat / (sqrt(v_hat) + eps); "efficient": eps added before the bias
    # correction of v; "inside": sqrt(v_hat + eps)
    bias: str = "both"  # Adam's bias correction: "both", "none", "first" (m only), "second" (v only)
    weight_decay: str = "coupled"  # "coupled" (g + wd p, torch), "decoupled" (AdamW), "ignored"
    momentum: str = "torch"  # RMSProp: "torch" (buf of g / denom), "before" (buf of g, divided after), "ignored"
    defaults: tuple[tuple[str, float | tuple], ...] = ()

    def differences(self, optimizer: str, torch_defaults: dict) -> list[str]:
        """How this variant differs from torch's, in words."""
        out = []
        if self.eps_form == "efficient":
            out.append("epsilon is added before the bias correction (the Adam paper's efficient form)")
        if self.eps_form == "inside":
            out.append("epsilon is inside the square root")
        out += {"none": ["there is no bias correction"], "first": ["the second moment has no bias correction"],
                "second": ["the first moment has no bias correction"]}.get(self.bias, [])
        if self.weight_decay == "decoupled":
            out.append("weight decay is decoupled" + (" (AdamW)" if optimizer == "Adam" else ""))
        if self.weight_decay == "ignored":
            out.append("weight decay is ignored")
        if self.momentum == "before":
            out.append("momentum accumulates the raw gradient, divided by sqrt(s) afterwards")
        if self.momentum == "ignored":
            out.append("momentum is ignored")
        out += [f"the default {k} is {v} (torch's: {torch_defaults[k]})" for k, v in self.defaults]
        return out

    def accepted(self) -> bool:
        """Whether the epsilon policy accepts this variant as torch's update."""
        return self.eps_form in ("torch", "efficient") and self.bias == "both" and self.weight_decay == "coupled" \
            and self.momentum == "torch" and all(k == "eps" and v <= 1e-8 for k, v in self.defaults)


TORCH_DEFAULTS = {"Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
                  "RMSProp": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0}}
OTHER_DEFAULTS = {"lr": {"Adam": (1e-2, 1e-4, 3e-4, 5e-4, 2e-3, 1e-1), "RMSProp": (1e-3, 1e-4, 1e-1)},
                  "eps": {"Adam": (1e-10, 1e-6), "RMSProp": (1e-10, 1e-6)},
                  "betas": {"Adam": ((0.9, 0.99),)}, "alpha": {"RMSProp": (0.9, 0.95, 0.999)}}


def gradient(theta: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """d/dtheta of mean((X w^T + b - Y)^2), theta = [w (K, D) flattened, b (K,)]: the grader's problem."""
    k, d = Y.shape[1], X.shape[1]
    w, b = theta[: k * d].reshape(k, d), theta[k * d:]
    r = X @ w.T + b - Y  # (N, K)
    scale = 2.0 / r.size
    return np.concatenate([(scale * r.T @ X).ravel(), scale * r.sum(axis=0)])


def trajectory(optimizer: str, variant: Variant, kwargs: dict, X: np.ndarray, Y: np.ndarray, W0: np.ndarray,
               steps: int) -> np.ndarray:
    """(steps, K*D + K): the parameters after each step of `variant` of `optimizer` ("Adam", "RMSProp")."""
    h = {**TORCH_DEFAULTS[optimizer], **dict(variant.defaults), **kwargs}
    theta = np.concatenate([W0.ravel(), np.zeros(W0.shape[0])])
    m, v, buf = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    lr, wd, eps = h["lr"], h["weight_decay"], h["eps"]
    out = []
    for t in range(1, steps + 1):
        g = gradient(theta, X, Y)
        if variant.weight_decay == "coupled" and wd:
            g = g + wd * theta
        if variant.weight_decay == "decoupled" and wd:
            theta = theta * (1 - lr * wd)
        if optimizer == "Adam":
            b1, b2 = h["betas"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            c1 = 1 - b1 ** t if variant.bias in ("both", "first") else 1.0
            c2 = 1 - b2 ** t if variant.bias in ("both", "second") else 1.0
            if variant.eps_form == "efficient":
                theta = theta - lr * np.sqrt(c2) / c1 * m / (np.sqrt(v) + eps)
            elif variant.eps_form == "inside":
                theta = theta - lr / c1 * m / np.sqrt(v / c2 + eps)
            else:
                theta = theta - lr / c1 * m / (np.sqrt(v) / np.sqrt(c2) + eps)
        else:
            v = h["alpha"] * v + (1 - h["alpha"]) * g * g
            denom = np.sqrt(v + eps) if variant.eps_form == "inside" else np.sqrt(v) + eps
            if h["momentum"] > 0 and variant.momentum == "torch":
                buf = h["momentum"] * buf + g / denom
                theta = theta - lr * buf
            elif h["momentum"] > 0 and variant.momentum == "before":
                buf = h["momentum"] * buf + g
                theta = theta - lr * buf / denom
            else:
                theta = theta - lr * g / denom
        out.append(theta.copy())
    return np.stack(out)


def trajectory_error(got: np.ndarray, ref: np.ndarray, start: np.ndarray) -> tuple[float, int]:
    """(largest deviation of `got` from `ref` divided by the distance `ref` travelled up to that step (the sum
    of each step's largest move), 0-based step where it first exceeds UPDATE_RTOL or -1)."""
    moves = np.abs(np.diff(np.vstack([start[None], ref]), axis=0)).max(axis=1)  # (steps,)
    travelled = np.maximum(np.cumsum(moves), 1e-300)
    errors = np.abs(got - ref).max(axis=1) / travelled
    over = np.nonzero(errors > UPDATE_RTOL)[0]
    return float(errors.max()), int(over[0]) if over.size else -1


def variants(optimizer: str, kwargs: dict) -> list[Variant]:
    """Every variant that could differ from torch's on a setting with these explicit `kwargs` (options the
    setting fixes, or leaves at zero, are not varied)."""
    eps_forms = ("torch", "efficient", "inside") if optimizer == "Adam" else ("torch", "inside")
    biases = ("both", "none", "first", "second") if optimizer == "Adam" else ("both",)
    decays = ("coupled", "decoupled", "ignored") if kwargs.get("weight_decay") else ("coupled",)
    momenta = ("torch", "before", "ignored") if kwargs.get("momentum") else ("torch",)
    free = [k for k in ("lr", "eps", "betas", "alpha") if k not in kwargs and optimizer in OTHER_DEFAULTS[k]]
    default_sets = [()]
    for k in free:
        default_sets += [((k, value),) for value in OTHER_DEFAULTS[k][optimizer]]
    return [Variant(e, b, w, m, d) for e, b, w, m, d in itertools.product(eps_forms, biases, decays, momenta, default_sets)]


@dataclass(frozen=True)
class Match:
    variant: Variant  # the variant the trajectory matches best (Variant() is torch's rule)
    error: float  # its trajectory_error
    torch_error: float  # the error against torch's own trajectory
    first: int  # 0-based step where the trajectory first departs from torch's, or -1

    @property
    def passes(self) -> bool:
        """Torch's update within rounding, and no rejected variant clearly identified; or an accepted variant."""
        if self.variant.accepted():
            return self.error <= UPDATE_RTOL
        return self.torch_error <= UPDATE_RTOL and not self.error * IDENTIFIED < self.torch_error


def closest(optimizer: str, kwargs: dict, got: np.ndarray, torch_ref: np.ndarray, X: np.ndarray, Y: np.ndarray,
            W0: np.ndarray) -> Match:
    """The variant whose trajectory `got` matches best; torch_ref is torch.optim's own trajectory (the
    oracle, used for torch's rule in place of this module's)."""
    start = np.concatenate([W0.ravel(), np.zeros(W0.shape[0])])
    torch_error, first = trajectory_error(got, torch_ref, start)
    best, best_error = Variant(), torch_error
    for variant in variants(optimizer, kwargs)[1:]:
        error = trajectory_error(got, trajectory(optimizer, variant, kwargs, X, Y, W0, len(got)), start)[0]
        if error < best_error:
            best, best_error = variant, error
    return Match(best, best_error, torch_error, first)
