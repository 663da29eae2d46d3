"""Problem 5.4 (bonus), public checks: hand-written Adam (5.4.1) and RMSProp (5.4.2), whose trajectories must
equal torch.optim's on fixed least-squares problems without calling into it (torch is the oracle, a public
one; a trajectory that does not is matched against the known variants and the closest is named, under the
epsilon policy of checks.optimizer_variants), and the criteria of a hand-written augmentation (5.4.3) but the
accuracy drop, which needs the instructor's reference classifier (grader.rubric.answers.p5_4_optional)."""
from __future__ import annotations

import numpy as np
import torch

from checks.augmentation import RECOGNISABLE, classify, describe
from checks.library_use import library_uses
from checks.optimizer_variants import TORCH_DEFAULTS, UPDATE_RTOL, closest
from checks.verdict import Verdict
from grader.evidence.probes import OPTIMIZER_SETTINGS, OPTIMIZER_STEPS
from grader.rubric.public.common import failed
from grader.sandbox import protocol as P
from grader.sandbox.tasks import least_squares_trajectory

LIBRARY = {"Adam": torch.optim.Adam, "RMSProp": torch.optim.RMSprop}


def reference_trajectory(name: str, kwargs: dict, X, Y, W0) -> np.ndarray:
    """(steps, K*D + K): the library optimiser on the problem the child solved (float64)."""
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return least_squares_trajectory(LIBRARY[name], kw, *map(torch.from_numpy, (X, Y, W0)), OPTIMIZER_STEPS).numpy()


def judge_optimizer(ctx, name: str) -> Verdict:
    """Each setting passes when the trajectory is torch.optim's update within rounding (UPDATE_RTOL of the
    distance travelled), or a variant the epsilon policy accepts; otherwise the closest known variant is
    named (checks.optimizer_variants)."""
    o = ctx.probe(P.optimizer(name))
    if not o.ok:
        return failed(o, name)
    key = name.lower()  # "adam" or "rmsprop": the other optimiser's library use costs only its own item
    static = [u for u in library_uses(ctx.submission_source(), "optimizer") if key in u.lower()]
    runtime = o.data.get("library_calls") or []
    if runtime or static:  # the source's own words first (torch.optim.Adam): a student recognises those
        return Verdict(0.0, f"{name} must be written by hand, but the submission uses torch's optimiser code: "
                            f"{', '.join((static + runtime)[:5])}.", diagnoses=("opt.library_use",))
    X, Y, W0 = (ctx.inputs()[k] for k in (P.OPT_X, P.OPT_Y, P.OPT_W0))
    settings = OPTIMIZER_SETTINGS[name]
    library = f"torch.optim.{LIBRARY[name].__name__}"
    good, lines, notes, departed = 0, [], [], False
    for s, kwargs in enumerate(settings):
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"
        if str(s) in (o.data.get("errors") or {}):
            lines.append(f"{label}: {o.data['errors'][str(s)]}")
            continue
        ref = reference_trajectory(name, kwargs, X, Y, W0)
        try:
            got = o.array(P.optimizer_trajectory(name, s), shape=ref.shape, dtype="float64")
        except ValueError as e:
            lines.append(f"{label}: {e}")
            continue
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        match = closest(name, kw, got, ref, X, Y, W0)
        differs = match.variant.differences(name, TORCH_DEFAULTS[name])
        if match.passes:
            good += 1
            if differs:
                notes.append(f"{label}: matches {library} except {' and '.join(differs)}, which the epsilon policy accepts")
            continue
        step = match.first + 1 if match.first >= 0 else 1
        if differs and match.error <= UPDATE_RTOL:
            how = f"matches {library} except {' and '.join(differs)}"
        elif differs:
            how = (f"matches no known variant; the closest, {library} with {' and '.join(differs)}, is off by "
                   f"{match.error:.2g}")
        else:
            how = "matches no known variant"
        departed = True
        lines.append(f"{label}: departs from {library} at step {step} (error {match.torch_error:.2g} of the distance "
                     f"travelled): {how}")
    summary = f"{good} of {len(settings)} settings match {library} over {OPTIMIZER_STEPS} steps"
    return Verdict(good / len(settings), summary + (": " + "; ".join(lines) if lines else ".") +
                   f" [float64 least squares; tolerance {UPDATE_RTOL:g} of the distance the parameters travelled; "
                   f"epsilon policy: the paper's efficient form and a default of 1e-10 are accepted, epsilon inside "
                   f"the square root is not]", tuple(notes), diagnoses=("opt.trajectory",) if departed else ())


def adam(ctx) -> Verdict:
    return judge_optimizer(ctx, "Adam")


def rmsprop(ctx) -> Verdict:
    return judge_optimizer(ctx, "RMSProp")


def augmentation_criteria(ctx) -> tuple[list[tuple[bool, str]], np.ndarray] | Verdict:
    """The public criteria of 5.4.3 and the augmented batch, or a Verdict when augment failed or its output
    is not a batch of the input's shape."""
    o = ctx.probe(P.AUGMENT)
    if not o.ok:
        return failed(o, "augment")
    images = ctx.inputs()[P.AUG_IMAGES]
    try:
        a, b, c = (o.array(P.augmented(k), shape=images.shape) for k in "abc")
    except ValueError as e:
        return Verdict(0.0, f"augment must return a batch of the input's shape {images.shape}: {e}")
    criteria = [(o.data.get("dtype") == "float32", f"keeps dtype float32 (got {o.data.get('dtype')})"),
                (bool(np.array_equal(a, b)), "deterministic for a seeded generator")]
    kinds = classify(images, a)  # a change a person would call augmentation, not imperceptible noise
    criteria.append((kinds.enough, describe(kinds)))
    criteria.append((not np.array_equal(a, c), "differs between generator seeds"))
    criteria.append((not o.data.get("input_modified"), "leaves its input untouched"))
    uses = (o.data.get("transforms_calls") or []) + library_uses(ctx.submission_source(), "transforms")
    criteria.append((not uses, "does not use torchvision's transforms" + (f" (uses {', '.join(uses[:3])})" if uses else "")))
    return criteria, a


def criteria_verdict(criteria: list[tuple[bool, str]], suffix: str = "") -> Verdict:
    """The share of criteria met; none at all when the images are not recognisably augmented (a function
    that adds imperceptible noise is no augmentation, however well it keeps the rest of the contract)."""
    good = sum(ok for ok, _ in criteria)
    text = "; ".join(("ok: " if ok else "NOT: ") + t for ok, t in criteria)
    augments = all(ok for ok, t in criteria if t.startswith(RECOGNISABLE))
    return Verdict(good / len(criteria) if augments else 0.0,
                   f"{good} of {len(criteria)} augmentation criteria met{'' if augments else ', but the images are not recognisably augmented, so none counts'}: {text}.{suffix}")


def augmentation(ctx) -> Verdict:
    found = augmentation_criteria(ctx)
    if isinstance(found, Verdict):
        return found
    return criteria_verdict(found[0], " The instructor's run also measures the accuracy the augmented images "
                                      "cost a reference classifier.")
