"""Runs a traced forward pass again from its layer events and the network's tensors, optionally without some
of its operations: the test of whether a structural difference changes the function (an extra ReLU after
max-pooling a ReLU output changes nothing; one on the logits does).

The events are those of `grader.sandbox.trace` (conv, linear, relu, pooling, batch_norm, dropout, softmax,
other activations); `replay` refuses anything it cannot run exactly (`ReplayError`), and a caller compares
the replay of the whole pass with the network's real output before trusting a replay without some events:
operations the trace does not record (additions, reshapes other than the flatten before the first FC) make
the two differ, and then no difference is called redundant.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu, "silu": F.silu, "elu": F.elu,
               "softplus": F.softplus}  # activations whose default parameters the trace implies


class ReplayError(ValueError):
    """The events hold an operation that cannot be replayed exactly."""


def _tensor(tensors: dict[str, np.ndarray], name: str | None) -> torch.Tensor | None:
    if name is None:
        return None
    if name not in tensors:
        raise ReplayError(f"tensor {name} was not exported")
    return torch.as_tensor(tensors[name], dtype=torch.float64)


def replay(events: list[dict], tensors: dict[str, np.ndarray], x: np.ndarray, skip: tuple[int, ...] = ()) -> np.ndarray:
    """The eval-mode output (N, 10) float64 of the forward pass `events` on x (N, 3, 32, 32), without the
    events at the indices in `skip`."""
    h = torch.as_tensor(x, dtype=torch.float64)
    for i, e in enumerate(events):
        if i in skip:
            continue
        op = e["op"]
        if op == "conv":
            h = F.conv2d(h, _tensor(tensors, e["weight"]), _tensor(tensors, e.get("bias")), e["stride"], e["padding"],
                         e.get("dilation", [1, 1]), e.get("groups", 1))
        elif op == "linear":
            w = _tensor(tensors, e["weight"])
            h = F.linear(h.flatten(1), w, _tensor(tensors, e.get("bias")))
        elif op == "relu":
            h = F.relu(h)
        elif op == "max_pool" and not e.get("adaptive"):
            h = F.max_pool2d(h, e["kernel"], e["stride"], e.get("padding", 0))
        elif op == "avg_pool" and not e.get("adaptive"):
            h = F.avg_pool2d(h, e["kernel"], e["stride"])
        elif op == "batch_norm":
            mean, var = _tensor(tensors, e.get("running_mean")), _tensor(tensors, e.get("running_var"))
            if mean is None or var is None:
                raise ReplayError("a BatchNorm without running statistics")
            h = F.batch_norm(h, mean, var, _tensor(tensors, e.get("weight")), _tensor(tensors, e.get("bias")), False,
                             0.0, e.get("eps", 1e-5))
        elif op == "dropout":
            continue  # eval mode
        elif op == "softmax":
            h = F.log_softmax(h, dim=1) if e.get("log") else F.softmax(h, dim=1)
        elif op == "activation" and e.get("name") in ACTIVATIONS:
            h = ACTIVATIONS[e["name"]](h)
        else:
            raise ReplayError(f"cannot replay {op}")
    return h.numpy()


def log_softmax(y: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of (N, C) scores in float64: what a classifier's outputs mean, whether it returns
    logits or log-probabilities."""
    y = np.asarray(y, dtype=np.float64)
    m = y.max(axis=1, keepdims=True)
    return y - m - np.log(np.exp(y - m).sum(axis=1, keepdims=True))


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|: the measure every comparison of network outputs uses."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / (np.abs(b).max() + 1e-6)) if b.size else 0.0
