"""Judging a submitted softmax loss (Problem 5.1.2) against the reference values, and naming the classic
mistakes by matching the student's values with what each mistake computes. Pure numpy."""
from __future__ import annotations

import numpy as np

from checks.verdict import Verdict

RTOL = 1e-4  # float32 loss values of equal formulas agree far closer than this


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _picked(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, t[..., None], axis=-1)[..., 0]


# the classic mistakes: diagnosis code (checks.diagnoses) -> what the feedback names
MISTAKES = {
    "loss.nll_on_logits": "nll_loss applied to raw logits (it expects log-probabilities: use F.cross_entropy, or "
                          "log_softmax first)",
    "loss.summed": "summed over the batch instead of averaged",
    "loss.double_softmax": "softmax applied twice (softmax in forward or before F.cross_entropy)",
    "loss.no_minus": "the negative sign is missing",
    "loss.no_log": "the log is missing (mean of -softmax probability)",
    "loss.per_class": "divided by the number of classes as well as the batch",
    "loss.double_mean": "averaged over the batch twice",
}


def mistakes(logits: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """What common wrong losses return for each (logits (R, N, 10), targets (R, N)) pair: code -> (R,)."""
    logp = _log_softmax(logits)
    probs = np.exp(logp)
    n = logits.shape[1]
    return {
        "loss.nll_on_logits": -_picked(logits.astype(np.float64), targets).mean(-1),
        "loss.summed": -_picked(logp, targets).sum(-1),
        "loss.double_softmax": -_picked(_log_softmax(probs), targets).mean(-1),
        "loss.no_minus": _picked(logp, targets).mean(-1),
        "loss.no_log": -_picked(probs, targets).mean(-1),
        "loss.per_class": -_picked(logp, targets).mean(-1) / logits.shape[2],
        "loss.double_mean": -_picked(logp, targets).mean(-1) / n,
    }


def judge_loss(student: np.ndarray, reference: np.ndarray, logits: np.ndarray, targets: np.ndarray) -> Verdict:
    """student, reference (R,) loss values for the R (logits, targets) pairs the parent sent."""
    close = np.isclose(student, reference, rtol=RTOL, atol=1e-6)
    if close.all():
        return Verdict(1.0, f"loss_fn equals the softmax cross-entropy averaged over the batch on {len(reference)} "
                            f"random batches (logit scales 0.1 to 30).")
    for code, values in mistakes(logits, targets).items():
        if np.isclose(student, values, rtol=RTOL, atol=1e-6).all():
            return Verdict(0.0, f"loss_fn is not the softmax loss: {MISTAKES[code]}.", diagnoses=(code,))
    worst = int(np.argmax(np.abs(student - reference)))
    unstable = bool(close[:2].all())
    return Verdict(0.0, f"loss_fn differs from the softmax cross-entropy: on batch {worst + 1} it returns "
                        f"{student[worst]:.6g} where the reference gives {reference[worst]:.6g}"
                        + ("; it is right for small logits only, so it is numerically unstable (use log-sum-exp)"
                           if unstable else "") + ".", diagnoses=("loss.unstable",) if unstable else ())
