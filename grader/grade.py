"""Grading one submission: run the rubric as pytest tests (results through pytest-json-report), score the
items from that JSON report, and collect everything the report shows into a `GradeResult`.

The score comes only from the JSON report that pytest writes in this (the grader's) process; the
submission's code runs in sandboxed children and nothing it prints or writes is read as a verdict.
"""
from __future__ import annotations

import contextlib
import io
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from checks.verdict import ProofResult
from grader import __version__
from grader.calibration import Calibration, load_calibration
from grader.context import MAX_ANSWER_CHARS, GradeConfig, GradeContext
from grader.data import Cifar10, default_cache_dir, load_cifar10
from grader.engine import Protocol
from grader.results import AccuracyRow, Curve, GradeResult, ItemResult
from grader.rubric import BY_NUMBER, RUBRIC
from grader.sandbox import Isolation, Limits, detect_isolation, reference_paths

RUBRIC_DIRS = {  # edition -> the folder of rubric tests it runs
    "instructor": Path(__file__).with_name("rubric"),
    "student": Path(__file__).with_name("rubric_student"),  # public checks only; no reference answers needed
}
CURVE_LABELS = {"net": "Net (5.1.3)", "kaiming": "Net + init_weights (5.2.2)", "bn": "NetBN (5.3.2)"}
ACCURACY_LABELS = {"net": "baseline Net", "kaiming": "Kaiming (He) init", "bn": "BatchNorm"}
NEEDS_DATA = ("5.1.3", "5.2.2", "5.3.2", "5.4.3")


def installed_edition() -> str:
    """"student" in an exported student edition (it ships a grader/EDITION file saying so), else "instructor"."""
    marker = Path(__file__).with_name("EDITION")
    return marker.read_text().strip() if marker.exists() else "instructor"


@dataclass(frozen=True)
class GradeOptions:
    """What `hw2-grade SUBMISSION` may set; defaults live here only."""

    selected: tuple[str, ...] = tuple(BY_NUMBER)
    data: str | None = None  # CIFAR-10 path (else HW2_CIFAR10, else the default cache)
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    threads: int = 2
    verify_reference: bool = True  # run the reference proofs for the report's "reference verified" section
    allow_bwrap: bool = True
    edition: str = field(default_factory=installed_edition)  # "student" in an exported student edition


class _RubricPlugin:
    """Hands the grading context to the rubric tests and keeps only the selected items."""

    def __init__(self, ctx: GradeContext) -> None:
        self._ctx = ctx
        self.numbers: dict[str, str] = {}  # test node id -> rubric number, to attribute a crashed test

    @pytest.fixture
    def ctx(self) -> GradeContext:
        return self._ctx

    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "rubric(number): the rubric item a test grades")

    def pytest_collection_modifyitems(self, session, config, items) -> None:
        keep, drop = [], []
        for item in items:
            marker = item.get_closest_marker("rubric")
            if marker:
                self.numbers[item.nodeid] = marker.args[0]
            (keep if marker and marker.args[0] in self._ctx.config.selected else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep


def run_rubric(ctx: GradeContext) -> dict:
    """Run the selected rubric tests; returns pytest-json-report's report (a dict)."""
    from pytest_jsonreport.plugin import JSONReport

    report_plugin = JSONReport()
    rubric_plugin = _RubricPlugin(ctx)
    rubric_dir = RUBRIC_DIRS[ctx.config.edition]
    args = [str(rubric_dir), "-q", "--tb=short", "-p", "no:cacheprovider", "-p", "no:randomly", "--continue-on-collection-errors",
            "--import-mode=importlib", "--rootdir", str(rubric_dir), "-c", os.devnull, "--json-report-file=none",
            "-o", "python_files=test_*.py"]
    console = io.StringIO()  # pytest's own terminal output: kept for diagnosing the grader, not shown
    with contextlib.redirect_stdout(console):
        code = pytest.main(args, plugins=[rubric_plugin, report_plugin])
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the rubric could not run (pytest exit code {int(code)}):\n{console.getvalue()[-3000:]}")
    report = dict(report_plugin.report or {})
    for test in report.get("tests", []):
        test.setdefault("metadata", {}).setdefault("rubric", rubric_plugin.numbers.get(test.get("nodeid")))
    return report


def score_items(report: dict, selected: tuple[str, ...], ctx: GradeContext | None) -> list[ItemResult]:
    """Every rubric item's result: automatic ones from the JSON report's metadata, manual ones pending."""
    by_number: dict[str, dict] = {}
    for test in report.get("tests", []):
        meta = test.get("metadata") or {}
        if meta.get("rubric"):
            by_number[meta["rubric"]] = test
    items = []
    for spec in RUBRIC:
        base = dict(number=spec.number, name=spec.name, max_score=spec.points, manual=spec.manual, bonus=spec.bonus)
        if spec.number not in selected:
            items.append(ItemResult(**base, score=None, status="skipped", feedback="not selected (--only)"))
            continue
        if spec.manual:
            text, problem = ctx.answer(spec.answer_key) if ctx else (None, "")
            shown = str(text)[:MAX_ANSWER_CHARS] + (" [truncated]" if len(str(text)) > MAX_ANSWER_CHARS else "") if text is not None else ""
            items.append(ItemResult(**base, score=None, status="pending", student_text=shown,
                                    feedback="graded by hand" + (f" ({problem})" if problem else "")))
            continue
        test = by_number.get(spec.number)
        meta = (test or {}).get("metadata") or {}
        if test is None or "fraction" not in meta:
            why = _crash_text(test) if test else "the rubric test did not run"
            items.append(ItemResult(**base, score=0.0, status="failed", feedback=f"the grader could not check this item: {why}"))
            continue
        fraction = min(max(float(meta["fraction"]), 0.0), 1.0)
        score = round(spec.points * fraction, 2)
        status = "passed" if fraction >= 1.0 else "partial" if fraction > 0 else "failed"
        feedback = str(meta.get("feedback", ""))
        if meta.get("review"):  # nothing is awarded on the strength of what the student's code reported
            feedback = (f"[for the instructor to confirm: as measured it would earn {score:g} of {spec.points:g}; "
                        f"0 until confirmed] {feedback}")
            score, status = 0.0, "review"
        if ctx is not None and ctx.config.edition == "student" and not spec.public:
            feedback = f"[public checks only: the instructor's run scores this item] {feedback}"
        if meta.get("notes"):
            feedback += " Notes: " + " ".join(map(str, meta["notes"]))
        items.append(ItemResult(**base, score=score, status=status, feedback=feedback))
    return items


def _crash_text(test: dict) -> str:
    for stage in ("setup", "call", "teardown"):
        part = test.get(stage) or {}
        if part.get("outcome") in ("failed", "error") or part.get("crash"):
            crash = part.get("crash") or {}
            return str(crash.get("message") or part.get("longrepr") or "unknown error")[-500:]
    return "unknown error"


def grade(submission: Path, options: GradeOptions = GradeOptions(), dataset: Cifar10 | None = None,
          calibration: Calibration | None = None, isolation: Isolation | None = None) -> GradeResult:
    """Grade one submission folder. Raises DataError when a selected item needs CIFAR-10 and none is found."""
    start = time.perf_counter()
    timings: dict[str, float] = {}
    calibration = calibration or load_calibration()
    protocol = calibration.protocol() or Protocol()
    if dataset is None and any(n in options.selected for n in NEEDS_DATA):
        t = time.perf_counter()
        dataset = load_cifar10(options.data)
        timings["data load"] = time.perf_counter() - t
    iso = isolation or detect_isolation(options.allow_bwrap)
    hidden = [Path(p) for p in (options.data, os.environ.get("HW2_CIFAR10")) if p] + [default_cache_dir()] \
        + reference_paths()
    config = GradeConfig(submission=submission, selected=options.selected, seed=options.seed, protocol=protocol,
                         limits=options.limits, threads=options.threads, edition=options.edition)
    ctx = GradeContext(config, dataset, calibration, iso, hidden)
    if is_bundled_reference(submission):
        _vendor_reference(ctx.run.scratch / "submission")
    try:
        t = time.perf_counter()
        report = run_rubric(ctx)
        timings["rubric (all items)"] = time.perf_counter() - t
        timings.update(ctx.timings)
        items = score_items(report, options.selected, ctx)
        result = GradeResult(submission=str(submission), items=items, edition=options.edition,
                             isolation=iso.describe(), limits=options.limits.describe(),
                             protocol=protocol.describe(), notes=list(ctx.run.entry.notes))
        if ctx.run.entry.problem:
            result.notes.append(ctx.run.entry.problem)
        result.timed_out = "timeout" in ctx.run.stops
        # no graded file at all, or one whose import failed (an entry's problem may also be a mere note)
        result.load_problem = ctx.run.entry.problem if not ctx.run.entry.file else ctx.run.load_problem
        _add_training(result, ctx, calibration)
        if options.verify_reference and options.edition == "instructor":
            t = time.perf_counter()
            result.proofs = verify_reference()
            result.depth_profile_png = depth_profile_figure()
            timings["reference proofs"] = time.perf_counter() - t
        for phase, seconds in ctx.run.child_seconds.items():
            timings[f"child: {phase}"] = seconds
        result.environment = {**_environment(iso, ctx, dataset, timings), **result.environment}
    finally:
        ctx.close()
    result.execution_time = time.perf_counter() - start
    return result


def bundled_reference() -> Path:
    return Path(__file__).resolve().parent.parent / "solutions" / "reference"


def _vendor_reference(folder: Path) -> None:
    """The bundled reference imports `solutions`, which every sandbox hides: give its private scratch copy
    (and only it) the package, so it is graded through exactly the same sandbox as a student's code."""
    import shutil

    target = folder / "solutions"
    shutil.copytree(reference_paths()[0], target, ignore=shutil.ignore_patterns("reference", "__pycache__"))
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def is_bundled_reference(submission: Path) -> bool:
    try:
        return submission.resolve() == bundled_reference().resolve()
    except OSError:
        return False


def _add_training(result: GradeResult, ctx: GradeContext, calibration: Calibration) -> None:
    if ctx._training is None:
        return
    for variant, obs in ctx._training.items():
        result.seeds[CURVE_LABELS[variant]] = ctx.config.seed
        band = calibration.band(variant) if calibration.has(variant) else None
        result.curves.append(Curve(
            label=CURVE_LABELS[variant], steps=tuple(obs.steps), losses=tuple(obs.losses),
            epoch_accuracy=tuple(obs.epoch_accuracy),
            band_steps=tuple(band["steps"]) if band else (), band_loss_lo=tuple(band["loss_lo"]) if band else (),
            band_loss_hi=tuple(band["loss_hi"]) if band else (), band_acc_lo=tuple(band["acc_lo"]) if band else (),
            band_acc_hi=tuple(band["acc_hi"]) if band else ()))
        if calibration.has(variant):
            result.accuracy_table.append(AccuracyRow(
                label=ACCURACY_LABELS[variant], accuracy=obs.epoch_accuracy[-1] if obs.ok and obs.epoch_accuracy else None,
                reference_mean=calibration.mean(variant), threshold=calibration.threshold(variant)))
        if variant == "net" and obs.first_conv is not None:
            from grader.plots import filters_png

            result.filters_png = filters_png(obs.first_conv)
        if obs.images_per_s:
            result.environment[f"throughput {variant}"] = f"{obs.images_per_s:.0f} training images/s"


def _reference_key() -> str:
    """Hash of the source of every check and reference module: results cached under it stay valid."""
    import hashlib

    root = Path(__file__).resolve().parent.parent
    sources = sorted(root.glob("checks/*.py")) + sorted(root.glob("solutions/*.py"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]


def depth_profile_figure(cache_dir: Path | None = None) -> bytes | None:
    """The Monte Carlo per-layer plot of checks/he_init.py (cached like the proofs)."""
    cache = (cache_dir or default_cache_dir()) / f"depth-profile-{_reference_key()}.png"
    if cache.exists():
        return cache.read_bytes()
    try:
        from checks.he_init import depth_profile_plot_png

        png = depth_profile_plot_png()
    except Exception:  # noqa: BLE001  the figure is an illustration; its checks are in the proofs
        return None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(png)
    except OSError:
        pass
    return png


PROOF_MODULES = ("checks.bptt", "checks.unrolled_state", "checks.alexnet_sync", "checks.fc_complexity", "checks.he_init")


def verify_reference(cache_dir: Path | None = None) -> list[ProofResult]:
    """The reference derivations' own checks (sympy, Monte Carlo, brute force), for the report. They take
    half a minute and do not depend on the submission, so their results are cached under a key made of the
    source of every module they run: any change to a check or to the reference reruns them."""
    import importlib
    import json

    cache = (cache_dir or default_cache_dir()) / f"proofs-{_reference_key()}.json"
    if cache.exists():
        try:
            return [ProofResult(**p) for p in json.loads(cache.read_text())]
        except (ValueError, TypeError):
            pass
    proofs: list[ProofResult] = []
    for module in PROOF_MODULES:
        try:
            proofs += importlib.import_module(module).verify_all()
        except Exception as e:  # noqa: BLE001  a broken check is reported, not fatal to grading
            proofs.append(ProofResult(module, False, f"the check itself failed: {type(e).__name__}: {e}"))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"name": str(p.name), "passed": bool(p.passed), "detail": str(p.detail)} for p in proofs]))
        os.replace(tmp, cache)
    except (OSError, TypeError, ValueError):
        pass  # an unwritable cache only costs the next run the same half minute
    return proofs


def _environment(iso: Isolation, ctx: GradeContext, dataset: Cifar10 | None, timings: dict[str, float]) -> dict[str, str]:
    import torch

    env = {"grader": f"hw2-grade {__version__}", "python": platform.python_version(), "torch": torch.__version__,
           "device": "cuda" if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores, {ctx.config.threads} torch threads per child)",
           "machine": f"{platform.machine()} {platform.system()}", "isolation": iso.label,
           "data": dataset.source if dataset else "not needed", "seed": str(ctx.config.seed)}
    env.update({f"time: {k}": f"{v:.1f} s" for k, v in timings.items()})
    return env
