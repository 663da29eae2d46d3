"""The grader's side of the reference networks: building them, tracing them, and loading a student's
tensors into them (the oracle is `solutions/`; nothing here restates a formula)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from checks.architecture import map_parameters
from grader.sandbox import load_array
from grader.trace import trace_forward

IDENTITY_FILL = {"bias": 0.0, "running_mean": 0.0, "weight": 1.0, "running_var": 1.0}  # for tensors a student may omit


def reference_model(name: str) -> nn.Module:
    from solutions.cnn import Net, NetBN

    return {"Net": Net, "NetBN": NetBN}[name]()


@lru_cache(maxsize=4)
def _reference_trace(name: str, train: bool) -> tuple[tuple[dict, ...], tuple[tuple[str, tuple[int, ...]], ...]]:
    model = reference_model(name).train(train)
    with torch.no_grad():
        events, _ = trace_forward(model, torch.zeros(4, 3, 32, 32))
    shapes = tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())
    return tuple(events), shapes


def reference_events(name: str, train: bool = False) -> list[dict]:
    return list(_reference_trace(name, train)[0])


def load_into_reference(model: nn.Module, name: str, student_events: list[dict], tensors: dict[str, list],
                        out_dir: Path) -> dict[str, str | None]:
    """Copy the student's tensors (saved by the child as `.npy`, listed in `tensors` as
    name -> [array file, shape]) into `model` (a fresh reference network), matched by forward order.
    Returns the mapping used. Raises MappingError / ValueError when they do not fit."""
    ref_events = reference_events(name)
    state = model.state_dict()
    student_shapes = {k: v[1] for k, v in tensors.items() if isinstance(v, list) and len(v) == 2}
    mapping = map_parameters(student_events, ref_events, student_shapes, {k: list(v.shape) for k, v in state.items()})
    new_state = dict(state)
    for ref_name, s_name in mapping.items():
        shape = tuple(state[ref_name].shape)
        if s_name is None:
            new_state[ref_name] = torch.full(shape, IDENTITY_FILL[ref_name.rsplit(".", 1)[1]])
        else:
            arr = load_array(out_dir, str(tensors[s_name][0]), shape=shape, dtype="float32")
            new_state[ref_name] = torch.from_numpy(arr.copy())
    model.load_state_dict(new_state)
    return mapping


OUTPUT_RTOL = 1e-4  # relative tolerance on logits of functionally equal networks (float32 summation order)


def output_difference(model: nn.Module, checks: list[tuple[str, np.ndarray, np.ndarray]]) -> float:
    """Largest relative difference between the reference network's logits and the student's, over
    (mode, inputs (N, 3, 32, 32), student logits (N, 10)) in the order given (a train-mode pass moves
    BatchNorm statistics, so eval mode comes first). The model's state is left as it was found."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    worst = 0.0
    try:
        for mode, x, y_student in checks:
            model.train(mode == "train")
            with torch.no_grad():
                y_ref = model(torch.from_numpy(x)).numpy()
            worst = max(worst, float(np.abs(y_student - y_ref).max() / (np.abs(y_ref).max() + 1e-6)))
    finally:
        model.load_state_dict(state)
    return worst
