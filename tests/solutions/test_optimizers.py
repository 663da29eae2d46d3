"""The hand-written Adam and RMSProp follow torch.optim's trajectories without calling into it."""
from __future__ import annotations

import pytest
import torch

from solutions.optimizers import Adam, RMSProp

SETTINGS = [
    (Adam, torch.optim.Adam, {}), (Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {"amsgrad": True, "eps": 1e-4}),
    (RMSProp, torch.optim.RMSprop, {}), (RMSProp, torch.optim.RMSprop, {"momentum": 0.9, "weight_decay": 0.01}),
    (RMSProp, torch.optim.RMSprop, {"centered": True, "alpha": 0.9}),
]


def _trajectory(cls, kwargs, steps=60):
    torch.manual_seed(0)
    X, Y, w = torch.randn(64, 5, dtype=torch.float64), torch.randn(64, 3, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    w = w.requires_grad_(True)
    opt = cls([w], **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        ((X @ w.T - Y) ** 2).mean().backward()
        opt.step()
        out.append(w.detach().clone())
    return torch.stack(out)


@pytest.mark.parametrize("mine,library,kwargs", SETTINGS)
def test_trajectory_equals_torch_optim(mine, library, kwargs):
    assert torch.allclose(_trajectory(mine, kwargs), _trajectory(library, kwargs), rtol=1e-10, atol=1e-12)


def test_sources_do_not_call_the_library_optimisers():
    from pathlib import Path

    from checks.library_use import library_uses
    import solutions.optimizers as module

    assert library_uses(Path(module.__file__).read_text(), "optimizer") == []


def test_invalid_hyperparameters_are_rejected():
    with pytest.raises(ValueError):
        Adam([torch.zeros(1, requires_grad=True)], lr=-1)
