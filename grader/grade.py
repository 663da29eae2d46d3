"""Grading one submission: gather the evidence the selected items need (grader.evidence), run their judges as
pytest tests (grader.rubric.plugin), and collect everything the report shows into a plain `GradeResult`.
Rendering and writing it are grader.results' job."""
from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path

import torch

from grader import __version__
from grader.calibration import Calibration, load_calibration
from grader.data import Cifar10, default_cache_dir, load_cifar10
from grader.engine import Protocol
from grader.evidence.cache import TrainingCache
from grader.evidence.context import GradeContext
from grader.evidence.origin import origin_of
from grader.options import GradeOptions
from grader.progress import PHASE, GradeEvent, Listener, ignore
from grader.results.model import AccuracyRow, Curve, GradeResult
from grader.results.plots import filters_png
from grader.rubric.items import RUBRIC, Rubric
from grader.rubric.plugin import run_rubric, score_items
from grader.sandbox.bwrap import reference_paths
from grader.sandbox.limits import Isolation, detect_isolation
from grader.sandbox.notebook import kept_code
from grader.sandbox.protocol import VARIANTS
from grader.sandbox.submission import MAX_SOURCE_BYTES


def grade(submission: Path, options: GradeOptions = GradeOptions(), dataset: Cifar10 | None = None,
          calibration: Calibration | None = None, isolation: Isolation | None = None,
          rubric: Rubric = RUBRIC, listener: Listener = ignore) -> GradeResult:
    """Grade one submission folder. Raises DataError when a selected item needs CIFAR-10 and none is found.
    `listener` hears which item is judged and what the grader is doing (grader.progress)."""
    start = time.perf_counter()
    timings: dict[str, float] = {}
    selected = options.selected if options.selected is not None else rubric.select(None)
    needs = rubric.needs(selected)
    calibration = calibration or load_calibration()
    protocol = calibration.protocol() or Protocol()
    if dataset is None and needs.data:
        t = time.perf_counter()
        listener(GradeEvent(PHASE, "loading CIFAR-10"))
        dataset = load_cifar10(options.data)
        timings["data load"] = time.perf_counter() - t
    iso = isolation or detect_isolation(options.allow_bwrap)
    hidden = [Path(p) for p in (options.data, os.environ.get("HW2_CIFAR10")) if p] + [default_cache_dir()] \
        + reference_paths()
    cache, cache_note = _training_cache(options, iso, needs.variants)
    hidden += [Path(cache.folder)] if cache else []
    ctx = GradeContext(submission, options, needs, dataset, calibration, protocol, iso, hidden, listener, cache=cache)
    try:
        if is_bundled_reference(submission):
            _vendor_reference(ctx.run.scratch / "submission")
        t = time.perf_counter()
        judged = [i for i in rubric.automatic(selected) if i.judge_for(options.edition)]
        report = run_rubric(ctx, judged, listener)
        timings["rubric (all items)"] = time.perf_counter() - t
        timings.update(ctx.timings)
        origin = origin_of(submission)
        result = GradeResult(submission=origin.name, commit=origin.commit, items=score_items(report, rubric, selected, ctx),
                             edition=options.edition, isolation=iso.describe(), limits=options.limits.describe(),
                             protocol=protocol.describe(), notes=list(ctx.run.entry.notes))
        if ctx.run.entry.problem:
            result.notes.append(ctx.run.entry.problem)
        result.notes += [cache_note] if cache_note else []
        result.graded_code = graded_code(ctx.run.entry.slice)
        result.timed_out = "timeout" in ctx.run.stops
        result.deadline_hit = ctx.run.deadline_hit or (ctx.deadline is not None and time.monotonic() >= ctx.deadline
                                                       and result.incomplete)
        # no graded file at all, or one whose import failed (an entry's problem may also be a mere note)
        result.load_problem = ctx.run.entry.problem if not ctx.run.entry.file else ctx.run.load_problem
        if needs.variants:
            _add_training(result, ctx, calibration)
        if options.verify_reference and options.edition == "instructor":
            # Imported here: the proofs run solutions/, which only the instructor's edition has.
            from grader.reference.proofs import verify_reference

            t = time.perf_counter()
            listener(GradeEvent(PHASE, "reference self-checks (cached after the first run)"))
            result.proofs = verify_reference()
            timings["reference proofs"] = time.perf_counter() - t
        for phase, seconds in ctx.run.child_seconds.items():
            timings[f"child: {phase}"] = seconds
        result.environment = {**_environment(iso, options, dataset, timings), **result.environment}
    finally:
        ctx.close()
    result.execution_time = time.perf_counter() - start
    return result


def _training_cache(options: GradeOptions, iso: Isolation, variants) -> tuple[TrainingCache | None, str]:
    """(the cache of trusted training runs, or None; a note for the report when it is off for safety)."""
    if not options.training_cache or not variants or options.edition != "instructor":
        return None, ""
    if not iso.bwrap:  # without bubblewrap the student's code runs as this user and could write the cache
        return None, "Training results were not reused from the cache: without bubblewrap the cache is not safe."
    return TrainingCache(Path(options.training_cache)), ""


def graded_code(notebook_slice: dict | None) -> str:
    """The code a notebook submission was graded on: its kept statements in notebook order ("" for a .py)."""
    if not notebook_slice:
        return ""
    return kept_code(notebook_slice)[:MAX_SOURCE_BYTES]


def bundled_reference() -> Path:
    return Path(__file__).resolve().parent.parent / "solutions" / "reference"


def is_bundled_reference(submission: Path) -> bool:
    """The bundled reference, or a copy of it (`cp -r solutions/reference somewhere`): its submission.py is the
    reference's, byte for byte. A copy can only be made by someone who has the reference."""
    try:
        if submission.resolve() == bundled_reference().resolve():
            return True
        copy, original = submission / "submission.py", bundled_reference() / "submission.py"
        return (copy.is_file() and not copy.is_symlink() and copy.stat().st_size == original.stat().st_size
                and copy.read_bytes() == original.read_bytes())
    except OSError:
        return False


def _vendor_reference(folder: Path) -> None:
    """The bundled reference imports `solutions`, which every sandbox hides: give its private scratch copy
    (and only it) the package, so it is graded through exactly the same sandbox as a student's code."""
    target = folder / "solutions"
    shutil.copytree(reference_paths()[0], target, ignore=shutil.ignore_patterns("reference", "__pycache__"))
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _add_training(result: GradeResult, ctx: GradeContext, calibration: Calibration) -> None:
    result.train_epochs = ctx.protocol.epochs
    for name, obs in ctx.training().items():
        variant = VARIANTS[name]
        if obs.reused:
            result.notes.append(f"{variant.label}: identical starting weights to a run already trained: result reused "
                                f"(the grader trained it itself from the same bytes, with the same protocol, seed and data).")
            result.reused_runs.append(variant.label)
        result.seeds[variant.label] = ctx.options.seed
        band = calibration.band(name) if calibration.has(name) else None
        result.curves.append(Curve(
            label=variant.label, steps=tuple(obs.steps), losses=tuple(obs.losses),
            epoch_accuracy=tuple(obs.epoch_accuracy),
            band_steps=tuple(band["steps"]) if band else (), band_loss_lo=tuple(band["loss_lo"]) if band else (),
            band_loss_hi=tuple(band["loss_hi"]) if band else (), band_acc_lo=tuple(band["acc_lo"]) if band else (),
            band_acc_hi=tuple(band["acc_hi"]) if band else (),
            pass_mark=calibration.threshold(name) if calibration.has(name) else None))
        if calibration.has(name):
            result.accuracy_table.append(AccuracyRow(
                label=variant.accuracy_label,
                accuracy=obs.epoch_accuracy[-1] if obs.ok and obs.epoch_accuracy else None,
                reference_mean=calibration.mean(name), threshold=calibration.threshold(name)))
        if name == "net" and obs.first_conv is not None:
            result.filters_png = filters_png(obs.first_conv)
            reference = calibration.first_conv("net")
            if reference is not None:
                result.reference_filters_png = filters_png(reference, title="Reference solution")
        if obs.images_per_s:
            result.environment[f"throughput {name}"] = f"{obs.images_per_s:.0f} training images/s"
        if obs.limit:
            result.environment["time limit of the student's training code"] = obs.limit


def _environment(iso: Isolation, options: GradeOptions, dataset: Cifar10 | None,
                 timings: dict[str, float]) -> dict[str, str]:
    env = {"grader": f"hw2-grade {__version__}", "python": platform.python_version(), "torch": torch.__version__,
           "device": "cuda" if torch.cuda.is_available() else
           f"cpu ({os.cpu_count()} cores, {options.threads} torch threads per child)",
           "machine": f"{platform.machine()} {platform.system()}", "isolation": iso.label,
           "data": dataset.source if dataset else "not needed", "seed": str(options.seed)}
    env.update({f"time: {k}": f"{v:.1f} s" for k, v in timings.items()})
    return env
