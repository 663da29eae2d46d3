"""The grader's side of the reference networks: building them, tracing them, loading a student's tensors
into them, and the trained reference classifier (the oracle is `solutions/`; nothing here restates a formula)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from checks.architecture import block_orders, map_parameters
from checks.replay import log_softmax, relative_difference
from grader.sandbox import protocol as P
from grader.sandbox.process import load_array
from grader.sandbox.trace import trace_forward
from solutions.cnn import HANDOUT_ORDERS, Net, NetBN

IDENTITY_FILL = {"bias": 0.0, "running_mean": 0.0, "weight": 1.0, "running_var": 1.0}  # for tensors a student may omit


def reference_model(name: str, student_events: list[dict] | None = None) -> nn.Module:
    """The handout's network; for NetBN, with each BatchNorm before or after its layer's ReLU as the student's
    traced forward pass has it (the handout allows either)."""
    if name == "NetBN" and student_events:
        orders = block_orders(student_events)[:4]
        if [sorted(o) for o in orders] == [sorted(o) for o in HANDOUT_ORDERS]:
            return NetBN(orders=orders)
    return {"Net": Net, "NetBN": NetBN}[name]()


def reference_classifier(path: Path) -> nn.Module | None:
    """The calibrated reference NetBN (`hw2-grade calibrate` saves its weights), in eval mode; None if absent."""
    if not path.exists():
        return None
    model = NetBN()
    with np.load(path, allow_pickle=False) as z:
        model.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
    return model.eval()


@lru_cache(maxsize=4)
def _reference_trace(name: str, train: bool) -> tuple[tuple[dict, ...], tuple[tuple[str, tuple[int, ...]], ...]]:
    model = reference_model(name).train(train)
    with torch.no_grad():
        events, _ = trace_forward(model, torch.zeros(4, 3, 32, 32))
    shapes = tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())
    return tuple(events), shapes


def reference_events(name: str, train: bool = False) -> list[dict]:
    return list(_reference_trace(name, train)[0])


def load_into_reference(model: nn.Module, name: str, student_events: list[dict], tensors: list, owner: str,
                        out_dir: Path) -> dict[str, str | None]:
    """Copy the student's tensors into `model` (a fresh reference network), matched by forward order. The
    child saved tensor i as P.state_tensor(owner, i) and listed it as tensors[i] = [name, shape].
    Returns the mapping used. Raises MappingError / ValueError when they do not fit."""
    ref_events = reference_events(name)
    state = model.state_dict()
    if not isinstance(tensors, list):
        raise ValueError("the exported tensors are not a list")
    index = {str(t[0]): i for i, t in enumerate(tensors) if isinstance(t, list) and len(t) == 2}
    student_shapes = {name: tensors[i][1] for name, i in index.items()}
    mapping = map_parameters(student_events, ref_events, student_shapes, {k: list(v.shape) for k, v in state.items()})
    new_state = dict(state)
    for ref_name, s_name in mapping.items():
        shape = tuple(state[ref_name].shape)
        if s_name is None:
            new_state[ref_name] = torch.full(shape, IDENTITY_FILL[ref_name.rsplit(".", 1)[1]])
        else:
            arr = load_array(out_dir, P.state_tensor(owner, index[s_name]), shape=shape, dtype="float32")
            new_state[ref_name] = torch.from_numpy(arr.copy())
    model.load_state_dict(new_state)
    return mapping


OUTPUT_RTOL = 1e-4  # relative tolerance on logits of functionally equal networks (float32 summation order)


def output_difference(model: nn.Module, checks: list[tuple[str, np.ndarray, np.ndarray]],
                      log_probabilities: bool = False) -> float:
    """Largest relative difference between the reference network's logits and the student's, over
    (mode, inputs (N, 3, 32, 32), student logits (N, 10)) in the order given (a train-mode pass moves
    BatchNorm statistics, so eval mode comes first). `log_probabilities`: compare the log-softmax of both,
    which is what a classifier's outputs mean (a network that returns log_softmax of the handout's logits is
    the same classifier). The model's state is left as it was found."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    worst = 0.0
    try:
        for mode, x, y_student in checks:
            model.train(mode == "train")
            with torch.no_grad():
                y_ref = model(torch.from_numpy(x)).numpy()
            if log_probabilities:
                y_student, y_ref = log_softmax(y_student), log_softmax(y_ref)
            worst = max(worst, relative_difference(y_student, y_ref))
    finally:
        model.load_state_dict(state)
    return worst


def student_tensors(tensors: list, owner: str, out_dir: Path) -> dict[str, np.ndarray]:
    """The tensors a child exported for `owner` (P.state_tensor(owner, i), listed as tensors[i] = [name,
    shape]), by the student's names, for replaying the student's forward pass (checks.replay)."""
    if not isinstance(tensors, list):
        raise ValueError("the exported tensors are not a list")
    return {str(t[0]): load_array(out_dir, P.state_tensor(owner, i), dtype="float32")
            for i, t in enumerate(tensors) if isinstance(t, list) and len(t) == 2}
