"""Problem 5.4 (bonus): hand-written Adam (5.4.1) and RMSProp (5.4.2), whose trajectories must equal
torch.optim's on fixed least-squares problems without calling into it, and a hand-written augmentation
(5.4.3)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks.library_use import library_uses
from checks.verdict import Verdict
from grader.probe_inputs import OPTIMIZER_STEPS
from grader.rubric.common import failed

TRAJECTORY_RTOL = 1e-6  # float64 trajectories of the same update rule agree to ~1e-12
MAX_ACCURACY_DROP = 0.15  # augmented images may cost the reference classifier at most this much accuracy
LIBRARY = {"Adam": torch.optim.Adam, "RMSProp": torch.optim.RMSprop}


def reference_trajectory(name: str, kwargs: dict, X, Y, W0) -> np.ndarray:
    """(steps, K*D + K): the library optimiser on the problem the child solved (float64)."""
    w = torch.from_numpy(W0).clone().requires_grad_(True)
    b = torch.zeros(W0.shape[0], dtype=torch.float64, requires_grad=True)
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    opt = LIBRARY[name]([w, b], **kw)
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)
    out = []
    for _ in range(OPTIMIZER_STEPS):
        opt.zero_grad()
        ((X @ w.T + b - Y) ** 2).mean().backward()
        opt.step()
        out.append(torch.cat([w.detach().flatten(), b.detach()]).clone())
    return torch.stack(out).numpy()


def judge_optimizer(ctx, name: str) -> Verdict:
    o = ctx.probe()[f"optimizer:{name}"]
    if not o.ok:
        return failed(o, name)
    key = name.lower()  # "adam" or "rmsprop": the other optimiser's library use costs only its own item
    static = [u for u in library_uses(ctx.submission_source(), "optimizer") if key in u.lower()]
    runtime = o.data.get("library_calls") or []
    if runtime or static:
        return Verdict(0.0, f"{name} must be written by hand, but the submission uses torch's optimiser code: "
                            f"{', '.join((runtime + static)[:5])}.")
    from grader.probe_inputs import ADAM_SETTINGS, RMSPROP_SETTINGS

    settings = {"Adam": ADAM_SETTINGS, "RMSProp": RMSPROP_SETTINGS}[name]
    X, Y, W0 = (ctx.inputs[f"opt_{k}"] for k in ("X", "Y", "W0"))
    good, lines = 0, []
    for s, kwargs in enumerate(settings):
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"
        if str(s) in (o.data.get("errors") or {}):
            lines.append(f"{label}: {o.data['errors'][str(s)]}")
            continue
        ref = reference_trajectory(name, kwargs, X, Y, W0)
        try:
            got = o.array(f"opt_{name}_{s}", shape=ref.shape, dtype="float64")
        except ValueError as e:
            lines.append(f"{label}: {e}")
            continue
        err = np.abs(got - ref) / (np.abs(ref) + 1e-8)
        if err.max() <= TRAJECTORY_RTOL:
            good += 1
        else:
            first = int(np.argmax(err.max(axis=1) > TRAJECTORY_RTOL))
            lines.append(f"{label}: departs from torch.optim.{LIBRARY[name].__name__} at step {first + 1} "
                         f"(relative error {err.max():.2g})")
    summary = f"{good} of {len(settings)} settings match torch.optim.{LIBRARY[name].__name__} over {OPTIMIZER_STEPS} steps"
    return Verdict(good / len(settings), summary + (": " + "; ".join(lines) if lines else ".") +
                   f" [float64 least squares, relative tolerance {TRAJECTORY_RTOL}]")


@pytest.mark.rubric("5.4.1")
def test_adam(ctx, record):
    record(judge_optimizer(ctx, "Adam"))


@pytest.mark.rubric("5.4.2")
def test_rmsprop(ctx, record):
    record(judge_optimizer(ctx, "RMSProp"))


def augmentation_criteria(ctx) -> tuple[list[tuple[bool, str]], np.ndarray] | Verdict:
    """The public criteria of 5.4.3 (shared with the student edition) and the augmented batch, or a
    Verdict when augment failed or its output is not a batch of the input's shape."""
    o = ctx.probe()["augment"]
    if not o.ok:
        return failed(o, "augment")
    images = ctx.inputs["aug_images"]
    try:
        a, b, c = (o.array(f"aug_{k}", shape=images.shape) for k in "abc")
    except ValueError as e:
        return Verdict(0.0, f"augment must return a batch of the input's shape {images.shape}: {e}")
    criteria = [(o.data.get("dtype") == "float32", f"keeps dtype float32 (got {o.data.get('dtype')})"),
                (bool(np.array_equal(a, b)), "deterministic for a seeded generator")]
    changed = float(np.abs(a - images).mean())
    criteria.append((changed > 1e-3, f"changes the images (mean absolute change {changed:.3g})"))
    criteria.append((not np.array_equal(a, c), "differs between generator seeds"))
    criteria.append((not o.data.get("input_modified"), "leaves its input untouched"))
    uses = (o.data.get("transforms_calls") or []) + library_uses(ctx.submission_source(), "transforms")
    criteria.append((not uses, "does not use torchvision's transforms" + (f" (uses {', '.join(uses[:3])})" if uses else "")))
    return criteria, a


def criteria_verdict(criteria: list[tuple[bool, str]], suffix: str = "") -> Verdict:
    good = sum(ok for ok, _ in criteria)
    text = "; ".join(("ok: " if ok else "NOT: ") + t for ok, t in criteria)
    return Verdict(good / len(criteria), f"{good} of {len(criteria)} augmentation criteria met: {text}.{suffix}")


@pytest.mark.rubric("5.4.3")
def test_augmentation(ctx, record):
    found = augmentation_criteria(ctx)
    if isinstance(found, Verdict):
        return record(found)
    criteria, augmented = found
    drop = ctx.augmentation_accuracy_drop(augmented)
    if drop is None:
        criteria.append((False, "accuracy drop not measured: the grader has no reference classifier (run `hw2-grade calibrate`)"))
    else:
        criteria.append((drop <= MAX_ACCURACY_DROP, f"costs the reference classifier {100 * drop:.1f} points of accuracy "
                                                    f"(at most {100 * MAX_ACCURACY_DROP:.0f} allowed)"))
    record(criteria_verdict(criteria))
