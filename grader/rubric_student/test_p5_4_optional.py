"""Problem 5.4 (bonus), public checks: hand-written Adam (5.4.1) and RMSProp (5.4.2) trajectories against
torch.optim's (the instructor's check itself: torch is the oracle), and the augmentation criteria (5.4.3) but
the accuracy drop, which needs the instructor's reference classifier."""
from __future__ import annotations

import numpy as np
import pytest

from checks.library_use import library_uses
from checks.verdict import Verdict
from grader.rubric.common import failed
from grader.rubric.test_p5_4_optional import judge_optimizer


@pytest.mark.rubric("5.4.1")
def test_adam(ctx, record):
    record(judge_optimizer(ctx, "Adam"))


@pytest.mark.rubric("5.4.2")
def test_rmsprop(ctx, record):
    record(judge_optimizer(ctx, "RMSProp"))


@pytest.mark.rubric("5.4.3")
def test_augmentation(ctx, record):
    o = ctx.probe()["augment"]
    if not o.ok:
        return record(failed(o, "augment"))
    images = ctx.inputs["aug_images"]
    criteria: list[tuple[bool, str]] = []
    try:
        a, b, c = (o.array(f"aug_{k}", shape=images.shape) for k in "abc")
    except ValueError as e:
        return record(Verdict(0.0, f"augment must return a batch of the input's shape {images.shape}: {e}"))
    criteria.append((o.data.get("dtype") == "float32", f"keeps dtype float32 (got {o.data.get('dtype')})"))
    criteria.append((bool(np.array_equal(a, b)), "deterministic for a seeded generator"))
    changed = float(np.abs(a - images).mean())
    criteria.append((changed > 1e-3, f"changes the images (mean absolute change {changed:.3g})"))
    criteria.append((not np.array_equal(a, c), "differs between generator seeds"))
    criteria.append((not o.data.get("input_modified"), "leaves its input untouched"))
    uses = (o.data.get("transforms_calls") or []) + library_uses(ctx.submission_source(), "transforms")
    criteria.append((not uses, "does not use torchvision's transforms" + (f" (uses {', '.join(uses[:3])})" if uses else "")))
    good = sum(ok for ok, _ in criteria)
    text = "; ".join(("ok: " if ok else "NOT: ") + t for ok, t in criteria)
    record(Verdict(good / len(criteria), f"{good} of {len(criteria)} augmentation criteria met: {text}. The "
                                         f"instructor's run also measures the accuracy the augmented images cost a "
                                         f"reference classifier."))
