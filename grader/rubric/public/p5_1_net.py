"""Problem 5.1, public checks: `Net()` builds and maps (N, 3, 32, 32) inputs to finite (N, 10) logits (5.1.1;
the instructor's run compares its function with the handout's network instead), `loss_fn` equals torch's
cross-entropy on random logits with the classic mistakes named, or, for a Net that returns log-probabilities,
the student's own pipeline loss_fn(Net()(x), y) is the softmax loss (5.1.2), and the graded training run of
`Net()` meets the calibrated pass mark (5.1.3)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from checks.softmax_loss import RTOL, judge_loss
from checks.verdict import Verdict
from grader.rubric.public.common import failed, judge_training, network_output
from grader.sandbox import protocol as P


def net_outputs_logits(ctx) -> Verdict:
    names = ctx.probe(P.NAMES)
    if names.ok and names.data.get("names", {}).get("Net") not in (None, "class"):
        return Verdict(0.0, f"Net must be an nn.Module class, found {names.data['names']['Net']}")
    problem, data = network_output(ctx, "Net")
    if problem:
        return problem
    layers = sum(e.get("op") in ("conv", "linear") for e in data.get("events", []))
    return Verdict(1.0, f"Net() builds and maps a batch of shape (8, 3, 32, 32) to finite (8, 10) logits in eval "
                        f"mode, through {layers} conv/linear layers.")


def loss(ctx) -> Verdict:
    """torch's cross-entropy is the oracle: the handout's softmax loss, averaged over the batch."""
    o = ctx.probe(P.LOSS)
    if not o.ok:
        return failed(o, "loss_fn")
    logits, targets = ctx.inputs()[P.LOSS_LOGITS], ctx.inputs()[P.LOSS_TARGETS]  # (R, N, 10), (R, N)
    expected = np.array([float(F.cross_entropy(torch.from_numpy(lg), torch.from_numpy(tg)))
                         for lg, tg in zip(logits, targets)])
    try:
        student = o.array(P.LOSS_VALUES, shape=expected.shape, dtype="float64")
    except ValueError as e:
        if "NaN" not in str(e):
            return Verdict(0.0, f"loss_fn output not usable: {e}")
        return Verdict(0.0, "loss_fn returned NaN or infinite values on large logits: it is numerically unstable "
                            "(compute log-softmax with the log-sum-exp shift, as F.cross_entropy does)",
                       diagnoses=("loss.unstable",))
    verdict = judge_loss(student, expected, logits, targets)
    return verdict if verdict.fraction == 1.0 else pipeline_loss(ctx.probe(P.PIPELINE), ctx.inputs()[P.PIPELINE_TARGETS]) or verdict


LOG_PROB_TOL = 1e-4  # rows of exp(output) summing to 1 within this are log-probabilities


def pipeline_loss(o, targets: np.ndarray) -> Verdict | None:
    """A full verdict when the student's own pipeline computes the softmax loss although loss_fn alone is not
    cross-entropy: Net returns log-probabilities and loss_fn(Net()(x), y) equals the cross-entropy of Net's
    outputs (for log-probabilities, the cross-entropy of the handout's logits). None otherwise, and the
    verdict on loss_fn alone stands (nll_loss on raw logits, the course starter's bug, still fails)."""
    if not o.ok or o.data.get("skipped"):
        return None
    try:
        out = o.array(P.PIPELINE_OUTPUT, shape=(8, 10), dtype="float32").astype(np.float64)
        value = float(o.array(P.PIPELINE_LOSS, shape=(1,), dtype="float64")[0])
    except ValueError:
        return None
    if not np.allclose(np.exp(out).sum(axis=1), 1.0, atol=LOG_PROB_TOL):
        return None  # Net returns scores, not log-probabilities: loss_fn alone is what the pipeline computes
    expected = float(F.cross_entropy(torch.from_numpy(out), torch.from_numpy(targets)))
    if not np.isclose(value, expected, rtol=RTOL, atol=1e-6):
        return None
    return Verdict(1.0, f"loss_fn(Net()(x), y) equals the softmax cross-entropy of the network's logits on 8 random "
                        f"inputs ({value:.6g}): Net returns log-probabilities (log_softmax at the end) and loss_fn "
                        f"takes log-probabilities (nll_loss), which together make the softmax loss. loss_fn alone is "
                        f"not cross-entropy, so keep the log_softmax in Net whenever loss_fn is used.")


def net_trains(ctx) -> Verdict:
    return judge_training(ctx, "net", "Net()")
