"""Whether a student's network learns as the reference network holding its tensors does: the loss gradients
of every parameter, in train mode, on the probe's random batches, compared tensor by tensor with those the
child reported (grader.sandbox.tasks: P.state_gradient), and the feedback that names the layers receiving
no gradient or a wrong one.

Equal outputs are not enough: a forward that detaches after the convs (or goes through numpy, `.data`,
`torch.no_grad()`, or re-wraps with `torch.tensor`) computes the handout's logits, but its layers before
the cut never learn, so training the reference in its place would grade a network the student did not
write. The loss is the training loss (cross-entropy), so networks that differ only where it cannot see
(logits against log-softmax outputs) get the same gradients.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from checks.architecture import blocks, layer_names
from grader.reference.networks import reference_events
from grader.sandbox import protocol as P
from grader.sandbox.runner import TaskOutcome

# Largest difference of a tensor's gradient from the reference's, relative to the larger of the reference's
# largest entry in it and GRADIENT_FLOOR times the network's largest entry. Measured on the CPU (torch
# 2.14.1, tests/grader/test_gradients.py): 0 for the corpus's correct styles (the same operations in the same
# order); for a NetBN with a doubled ReLU and log-softmax outputs, about 1e-6 on tensors with a real
# gradient and up to 5.7e-5 (12 seeds) on the biases before BatchNorm; a cut or a wrong backward: 0.1 to 1.
GRADIENT_RTOL = 1e-3
# A reference gradient below this share of the network's largest entry counts as zero: a bias followed by
# BatchNorm has a true gradient of zero, and float32 noise of a few 1e-7 there (the largest entry: about 0.7).
GRADIENT_FLOOR = 1e-2
CUT_CAUSES = ".detach(), .data, a numpy round trip, torch.tensor(...) or torch.no_grad()"


def reference_units(network: str) -> list[tuple[str, list[str]]]:
    """The reference's parameters grouped by layer, in forward order: [("conv 1", ["conv1.weight",
    "conv1.bias"]), ("conv 1's BatchNorm", ["bn1.weight", "bn1.bias"]), ...]."""
    _, ref_blocks = blocks(reference_events(network))
    units = []
    for name, b in zip(layer_names(ref_blocks), ref_blocks):
        units.append((name, [t for t in (b.layer.get("weight"), b.layer.get("bias")) if t]))
        units += [(f"{name}'s BatchNorm", [t for t in (e.get("weight"), e.get("bias")) if t])
                  for e in b.after if e["op"] == "batch_norm"]
    return units


def reference_gradients(model: nn.Module, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """name -> (B, *shape) float32: the gradients of the cross-entropy of `model` (train mode) on each batch
    x[b] (N, 3, 32, 32) against y[b] (N,). The model's state (BatchNorm statistics, mode) is restored."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    params = dict(model.named_parameters())
    found: dict[str, list[torch.Tensor]] = {k: [] for k in params}
    try:
        model.train()
        for xb, yb in zip(torch.from_numpy(x), torch.from_numpy(y)):
            grads = torch.autograd.grad(F.cross_entropy(model(xb), yb), list(params.values()))
            for k, g in zip(params, grads):
                found[k].append(g)
    finally:
        model.load_state_dict(state)
        model.train(was_training)
    return {k: torch.stack(v).numpy() for k, v in found.items()}


@dataclass(frozen=True)
class GradientComparison:
    units: tuple[str, ...]  # every layer, forward order
    none: tuple[str, ...] = ()  # layers whose parameters receive no gradient
    frozen: tuple[str, ...] = ()  # layers with a parameter whose requires_grad is off
    wrong: tuple[tuple[str, float], ...] = ()  # (layer, largest relative difference)
    error: str = ""  # backpropagation raised in the child
    worst: float = 0.0  # largest relative difference over the tensors compared

    @property
    def ok(self) -> bool:
        return not (self.none or self.frozen or self.wrong or self.error)

    def describe(self) -> str:
        """What the student is told, e.g. "conv 1, conv 2 receive no gradient: something in forward cuts
        the graph after conv 2 (...)"; "" when the gradients agree."""
        if self.error:
            return f"backpropagating the loss through it fails: {self.error}"
        parts = []
        if self.none:
            verb = "receives" if len(self.none) == 1 else "receive"
            if len(self.none) == len(self.units):
                parts.append(f"no layer receives a gradient: forward computes its output outside autograd "
                             f"({CUT_CAUSES} cut the graph)")
            elif self.none == self.units[:len(self.none)]:
                parts.append(f"{', '.join(self.none)} {verb} no gradient: something in forward cuts the graph after "
                             f"{self.none[-1]} ({CUT_CAUSES})")
            else:
                parts.append(f"{', '.join(self.none)} {verb} no gradient: forward uses them outside the graph that "
                             f"reaches the output ({CUT_CAUSES})")
        if self.frozen:
            parts.append(f"the parameters of {', '.join(self.frozen)} do not require gradients (requires_grad=False): "
                         f"training would not change them")
        if self.wrong:
            listed = ", ".join(f"{name} (relative difference {d:.2g})" if math.isfinite(d) else
                               f"{name} (none, or not finite, for some of its parameters)" for name, d in self.wrong)
            parts.append(f"wrong gradients reach {listed}: forward scales or bends the gradient where the reference "
                         f"does not")
        return "; ".join(parts)


def compare_gradients(model: nn.Module, network: str, mapping: dict[str, str | None], outcome: TaskOutcome,
                      owner: str, x: np.ndarray, y: np.ndarray) -> GradientComparison:
    """The student's gradients (the child's P.state_gradient(owner, i), for the tensors it listed in
    outcome.data["tensors"] with the statuses of outcome.data["gradients"]) against those of `model`, the
    reference holding the student's tensors by `mapping` (reference name -> student name, from
    load_into_reference), on the batches x (B, N, 3, 32, 32) and targets y (B, N). When the student's forward
    is random in train mode (dropout the child could not switch off), only missing gradients are judged:
    their values differ from pass to pass."""
    units = reference_units(network)
    names = tuple(u for u, _ in units)
    if outcome.data.get("gradient_error"):
        return GradientComparison(names, error=str(outcome.data["gradient_error"])[:500])
    tensors, status = outcome.data.get("tensors", []), outcome.data.get("gradients")
    if not isinstance(status, list) or len(status) != len(tensors):
        return GradientComparison(names, error="the child reported no gradients")
    index = {str(t[0]): i for i, t in enumerate(tensors) if isinstance(t, list) and len(t) == 2}
    stochastic = outcome.data.get("stochastic") is True
    ref = reference_gradients(model, x, y)
    scale = max(float(np.abs(g).max()) for g in ref.values())  # the network's largest gradient entry
    none, frozen, wrong, worst = [], [], [], 0.0
    for unit, ref_names in units:
        verdicts = []  # per tensor: "none", "frozen", or its relative difference
        for r in ref_names:
            s = mapping.get(r)
            if s is None or s not in index:  # the student has no such tensor (a bias before BatchNorm)
                continue
            g_ref, i = ref[r], index[s]
            magnitude = float(np.abs(g_ref).max())
            if status[i] == "frozen":
                verdicts.append("frozen")
                continue
            g = _student_gradient(outcome, owner, i, g_ref.shape) if status[i] == "ok" else None
            if status[i] == "ok" and g is None:  # reported, but missing or not finite
                verdicts.append(math.inf)
                continue
            if magnitude > GRADIENT_FLOOR * scale and (g is None or not np.any(g)):
                verdicts.append("none")
                continue
            if g is None:  # none where the reference's is zero too (a bias before BatchNorm): no evidence
                continue
            diff = float(np.abs(g - g_ref).max()) / max(magnitude, GRADIENT_FLOOR * scale)
            worst = max(worst, diff)
            verdicts.append(diff)
        if verdicts and all(v == "none" for v in verdicts):
            none.append(unit)
        elif "frozen" in verdicts:
            frozen.append(unit)
        elif verdicts:
            d = max(v if isinstance(v, float) else math.inf for v in verdicts)
            if d > GRADIENT_RTOL and not (stochastic and math.isfinite(d)):
                wrong.append((unit, d))
    return GradientComparison(names, tuple(none), tuple(frozen), tuple(wrong), worst=worst)


def _student_gradient(outcome: TaskOutcome, owner: str, index: int, shape: tuple[int, ...]) -> np.ndarray | None:
    """The child's gradient of tensor `index`, (B, *shape); None when it is missing or not usable."""
    try:
        return outcome.array(P.state_gradient(owner, index), shape=shape, dtype="float32")
    except ValueError:
        return None
