"""Records the sequence of layer operations a model's forward pass runs, at the ATen level, so that any
coding style (nn.Sequential or functional, `view` or `flatten`, `nn.ReLU` or `F.relu`) gives the same events.

Each event is a plain dict (JSON-safe) such as
    {"op": "conv", "in": 3, "out": 6, "kernel": [5, 5], "stride": [1, 1], "padding": [0, 0], "weight": "c1.weight", ...}
    {"op": "relu"}, {"op": "max_pool", "kernel": [2, 2], "stride": [2, 2]}, {"op": "linear", "in": 400, "out": 120, ...}
Parameters are named by matching tensor storage with the model's named parameters and buffers. The checks
that compare events with the reference live in `checks/architecture.py`.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
ACTIVATIONS = {"leaky_relu", "gelu", "sigmoid", "tanh", "elu", "hardtanh", "silu", "softplus", "prelu"}
MAX_EVENTS = 500  # a forward pass of this homework runs a few dozen; more means a loop we should not record


def _pair(v, default=None) -> list[int]:
    """ATen passes sizes as an int, a 1-list or a 2-list; an empty list means "use the default"."""
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        return _pair(default) if default is not None else []
    values = [int(x) for x in v] if isinstance(v, (list, tuple)) else [int(v)]
    return values * 2 if len(values) == 1 else values


class _Recorder(TorchDispatchMode):
    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.names = names
        self.events: list[dict] = []

    def _name(self, t) -> str | None:
        return self.names.get(t.untyped_storage().data_ptr()) if isinstance(t, torch.Tensor) else None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if len(self.events) < MAX_EVENTS:
            event = self._event(func.overloadpacket.__name__, args)
            if event is not None:
                self.events.append(event)
        return out

    def _event(self, name: str, a: tuple) -> dict | None:
        if name == "convolution":
            w, groups = a[1], int(a[8])
            return {"op": "conv", "in": int(w.shape[1]) * groups, "out": int(w.shape[0]), "kernel": list(w.shape[2:]),
                    "stride": _pair(a[3]), "padding": _pair(a[4]), "dilation": _pair(a[5]), "groups": groups,
                    "weight": self._name(w), "bias": self._name(a[2])}
        if name in ("addmm", "mm"):
            bias, w = (a[0], a[2]) if name == "addmm" else (None, a[1])
            wname = self._name(w)
            if wname is None:
                return {"op": "other", "name": name}
            return {"op": "linear", "in": int(w.shape[0]), "out": int(w.shape[1]), "weight": wname, "bias": self._name(bias)}
        if name in ("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                    "_native_batch_norm_legit_functional", "batch_norm"):
            x = a[0]
            return {"op": "batch_norm", "features": int(x.shape[1]), "dims": x.dim(), "weight": self._name(a[1]),
                    "bias": self._name(a[2]), "running_mean": self._name(a[3]) if len(a) > 3 else None,
                    "running_var": self._name(a[4]) if len(a) > 4 else None}
        if name in ("relu", "relu_") or (name in ("clamp", "clamp_", "clamp_min", "clamp_min_") and len(a) > 1 and a[1] == 0) \
                or (name == "threshold" and len(a) > 2 and a[1] == 0 and a[2] == 0):
            return {"op": "relu"}
        if name.rstrip("_") in ACTIVATIONS:
            return {"op": "activation", "name": name.rstrip("_")}
        if name in ("max_pool2d_with_indices", "max_pool2d"):
            k = _pair(a[1])
            return {"op": "max_pool", "kernel": k, "stride": _pair(a[2] if len(a) > 2 else None, k),
                    "padding": _pair(a[3] if len(a) > 3 else 0)}
        if name == "avg_pool2d":
            k = _pair(a[1])
            return {"op": "avg_pool", "kernel": k, "stride": _pair(a[2] if len(a) > 2 else None, k)}
        if name in ("_adaptive_avg_pool2d", "adaptive_max_pool2d"):
            return {"op": "avg_pool" if "avg" in name else "max_pool", "adaptive": True, "kernel": [], "stride": []}
        if name in ("native_dropout", "bernoulli_", "bernoulli"):
            return {"op": "dropout"}
        if name in ("_softmax", "_log_softmax", "softmax", "log_softmax"):
            return {"op": "softmax", "log": "log" in name}
        return None


def storage_names(model: nn.Module) -> dict[int, str]:
    names = {}
    for n, t in list(model.named_buffers()) + list(model.named_parameters()):
        names.setdefault(t.untyped_storage().data_ptr(), n)
    return names


def trace_forward(model: nn.Module, x: torch.Tensor) -> tuple[list[dict], torch.Tensor]:
    """Run `model(x)` once while recording layer events; returns (events, output)."""
    rec = _Recorder(storage_names(model))
    with rec:
        out = model(x)
    return rec.events, out
