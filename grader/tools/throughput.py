"""Class throughput, measured: a synthetic class graded end to end by `hw2-grade batch`, once as the grader
ran before the training cache (`--no-cache`, one student at a time), then with the cache under each split of
this machine's cores between students and torch threads. Students per hour, the cache's hit rate and whether
every verdict is identical, all measured in one run on one machine (`hw2-grade bench --class N`).

The class is built from the project's corpora (tests/corpus: correct submissions in several styles, the fair
verdicts' unusual-but-correct code, the defect corpus, the course notebook, and two that fail to load), so it
needs the source checkout; each student gets a folder and a roster row, as a class would.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.batch.config import TRAINING_CACHE, BatchConfig
from grader.batch.progress import NullDisplay
from grader.batch.run import run_batch
from grader.rubric.items import RUBRIC

FAILING = {"syntax-error": "import torch\nclass Net(nn.Module)\n    pass\n",  # a colon missing
           "empty-repository": None}  # no submission.py and no notebook


class ClassBenchError(RuntimeError):
    """The class benchmark cannot run (no source checkout with the corpora)."""


@dataclass(frozen=True)
class ClassRun:
    """One grading of the whole class."""

    label: str  # e.g. "--jobs 2, 1 thread each, cache"
    jobs: int
    threads: int  # torch threads per worker and per child
    cache: bool
    seconds: float  # wall time of the batch
    students: int
    reused: int  # training runs reused from the cache
    trained: int  # trusted training runs the grader computed (cache entries written); 0 without a cache
    verdicts: dict[str, dict[str, tuple[float | None, str]]]  # student -> item -> (score, status)

    @property
    def per_hour(self) -> float:
        return 3600.0 * self.students / self.seconds

    @property
    def hit_rate(self) -> float | None:
        return self.reused / (self.reused + self.trained) if self.cache and self.reused + self.trained else None


def _corpus(root: Path, name: str):
    path = root / "tests" / "corpus" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_hw2_bench_corpus_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def build_class(folder: Path, size: int) -> Path:
    """`size` student folders under `folder` and their roster (returned), in a fixed order: every style, the
    fair cases, the course notebook, the two that fail to load, the defects; repeated styles fill the rest."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "corpus" / "defects.py").is_file():
        raise ClassBenchError(f"the class benchmark builds its class from {root / 'tests' / 'corpus'}, which only a "
                              f"source checkout of hw2-grade has")
    styles, defects, fair = _corpus(root, "styles"), _corpus(root, "defects"), _corpus(root, "fair")
    students = folder / "students"
    students.mkdir(parents=True, exist_ok=True)
    makers = [(f"style-{s}", lambda f, s=s: styles.build(s, f)) for s in styles.STYLES]
    makers += [(f"fair-{c}", lambda f, c=c: fair.build(c, f)) for c in fair.CASES]
    makers += [("course-notebook", lambda f: _notebook(root, f))]
    makers += [(name, lambda f, name=name: _failing(name, f)) for name in FAILING]
    makers += [(f"defect-{d}", lambda f, d=d: defects.build(d, f)) for d in defects.DEFECTS]
    k = 0
    while len(makers) < size:  # more students than the corpora: the common styles again, as a big class has
        s = styles.STYLES[k % len(styles.STYLES)]
        makers.append((f"style-{s}-{k // len(styles.STYLES) + 2}", lambda f, s=s: styles.build(s, f)))
        k += 1
    rows = []
    for student_id, make in makers[:size]:
        made = Path(make(students / f"_{student_id}"))
        target = students / student_id
        shutil.move(str(made), target)
        shutil.rmtree(students / f"_{student_id}", ignore_errors=True)
        rows.append((student_id, f"students/{student_id}"))
    roster = folder / "roster.csv"
    with open(roster, "w", newline="") as f:
        csv.writer(f).writerows([("student_id", "path"), *rows])
    return roster


def _notebook(root: Path, folder: Path) -> Path:
    import nbformat

    out = folder / "notebook"
    out.mkdir(parents=True)
    nbformat.write(_corpus(root, "notebooks").course_notebook(), str(out / "hw2.ipynb"))
    return out


def _failing(name: str, folder: Path) -> Path:
    out = folder / name
    out.mkdir(parents=True)
    if FAILING[name] is not None:
        (out / "submission.py").write_text(FAILING[name])
    return out


def grade_class(roster: Path, out: Path, jobs: int, threads: int, cache: bool, data: str | None,
                selected: tuple[str, ...] | None = None) -> ClassRun:
    """Grade the class of `roster` into `out` (emptied first) with `hw2-grade batch`'s library call; `selected`:
    the rubric items (None: all)."""
    shutil.rmtree(out, ignore_errors=True)
    config = BatchConfig(roster=roster, out=out, selected=selected or RUBRIC.select(None), jobs=jobs, threads=threads,
                         cache=cache,
                         data=data, similarity=None)
    start = time.perf_counter()
    summary = run_batch(config, display=NullDisplay())
    seconds = time.perf_counter() - start
    entries = list((out / TRAINING_CACHE).glob("*.npz")) if cache else []
    verdicts = {r.student_id: {n: (s.score, s.status) for n, s in sorted(r.items.items())} | {"": (None, r.status)}
                for r in summary.records}
    label = f"--jobs {jobs}, {threads} thread{'s' if threads > 1 else ''} each, {'cache' if cache else '--no-cache'}"
    return ClassRun(label=label, jobs=jobs, threads=threads, cache=cache, seconds=seconds, students=len(summary.records),
                    reused=sum(r.reused_runs for r in summary.records), trained=len(entries), verdicts=verdicts)


def splits(cores: int) -> list[tuple[int, int]]:
    """The (jobs, threads) splits of `cores` cores compared: one student with every core, one core per student."""
    return sorted({(1, cores), (cores, 1)})


def compare_class(size: int, workdir: Path, data: str | None, cores: int | None = None,
                  selected: tuple[str, ...] | None = None, roster: Path | None = None) -> dict:
    """The baseline (`--no-cache --jobs 1`, every core to one student) and each split with the cache, on the
    synthetic class of `size` students (or the class of `roster`)."""
    cores = cores or len(os.sched_getaffinity(0))
    roster = roster or build_class(workdir / "class", size)
    baseline = grade_class(roster, workdir / "out-baseline", jobs=1, threads=cores, cache=False, data=data,
                           selected=selected)
    runs = [grade_class(roster, workdir / f"out-{j}x{t}", jobs=j, threads=t, cache=True, data=data, selected=selected)
            for j, t in splits(cores)]
    best = max(runs, key=lambda r: r.per_hour)
    return {"size": baseline.students, "cores": cores, "baseline": baseline, "runs": runs, "best": best,
            "speedup": best.per_hour / baseline.per_hour,
            "identical": {r.label: _differences(baseline, r) for r in runs}}


def _differences(a: ClassRun, b: ClassRun) -> list[str]:
    """The students whose verdicts differ between two gradings of the class ([] when all are identical)."""
    return sorted(s for s in set(a.verdicts) | set(b.verdicts) if a.verdicts.get(s) != b.verdicts.get(s))


def render_class(result: dict) -> list[str]:
    base = result["baseline"]
    lines = [f"class of {result['size']} synthetic students (tests/corpus), graded end to end by hw2-grade batch "
             f"on {result['cores']} cores:",
             f"  {'configuration':<38} {'wall':>8} {'students/h':>11} {'x baseline':>11} {'cache hits':>11}"]
    for r in [base, *result["runs"]]:
        hits = f"{r.reused}/{r.reused + r.trained} ({r.hit_rate:.0%})" if r.hit_rate is not None else "-"
        lines.append(f"  {r.label:<38} {r.seconds:>7.0f}s {r.per_hour:>11.0f} {r.per_hour / base.per_hour:>10.2f}x "
                     f"{hits:>11}")
    lines.append(f"  best: {result['best'].label}, {result['speedup']:.2f}x the baseline's students per hour")
    for label, differ in result["identical"].items():
        lines.append(f"  verdicts of {label}: " + ("identical to the baseline's" if not differ else
                                                   f"DIFFER for {', '.join(differ)}"))
    return lines
