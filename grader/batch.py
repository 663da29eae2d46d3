"""`hw2-grade batch`: grade a whole class from a roster, locally in a process pool or on a dask cluster.

    hw2-grade batch ROSTER --out DIR [--jobs N] [--executor local|dask] [--scheduler ADDRESS]
                    [--only IDS] [--regrade] [--data PATH] [--seed N]

ROSTER is a CSV file with the header `student_id,path[,commit]`. `path` is a submission folder (relative
paths are read from the roster's folder) or a git URL / repository to clone; a repository is cloned with
`git clone --quiet` into `DIR/.clones/<student_id>` and `commit` (when given) is checked out there, so a
student's own folder is never modified.

Layout of DIR (every file is replaced atomically, so an interrupted batch never leaves a torn file):
- `<student_id>/results.json`, `report.html`, `badge.svg`: the student's Gradescope JSON, report and badge;
- `<student_id>/grade.json`: status, scores per item, totals, seconds, grader version, roster path and
  commit. It is written last: its presence with status `graded` (or `timed out`) means the student is done,
  and a rerun skips that student unless `--regrade` (or unless the folder or repository the roster names, its
  commit, `--only` or `--seed` changed). Students with another status (`failed to load`, `worker died`,
  `error`) are retried.
- `<student_id>/.worker.json`: which process grades the student right now (pid, host); removed when done;
- `<student_id>/error.log`: the grader's traceback, when grading the student raised;
- `gradebook.csv`: one row per student, rewritten after each student; `index.html`: the class summary.

Statuses: `graded`; `timed out` (graded, but some of the student's code hit its wall-clock limit, so its
items scored 0); `failed to load` (missing folder, failed clone or checkout, nothing gradable in the
folder); `worker died` (the process grading the student died: killed, or out of memory); `error` (the
grader raised: a bug, with the traceback in `error.log`).

Executors. `local`: a `ProcessPoolExecutor` with `--jobs` workers. At most `--jobs` students are in flight,
so a student whose future fails is one that was running. When a worker dies, the pool breaks and the
executor terminates the other workers; those write "terminated" into their `.worker.json` from a SIGTERM
handler, so the parent can tell the student whose worker died (marked `worker died`) from the innocent
ones (graded again in a fresh pool). `dask`: one task per student (`pure=False`, `retries=0`) on
`--scheduler`, or on a `LocalCluster(n_workers=--jobs, threads_per_worker=1, processes=True)` started
here with `allowed-failures=0` (a dead worker fails its task at once with KilledWorker) and
`worker-saturation=1.0` (a worker holds only the task it runs). With several machines, DIR and the roster's
folders must be on a shared file system at the same paths. Each worker process loads CIFAR-10 once (a
per-process cache keyed by the data path), and only when a selected item trains. Running as root, every sandboxed
child runs as a uid of its own (`grader.sandbox.claim_uid`), so that concurrent students' children cannot kill
or starve each other.

Determinism: two runs give identical gradebooks (scores and statuses; the seconds differ) because
(1) every student is graded with the same `--seed` (inputs, training runs and test-image perturbation all
derive from it), never from the worker or the order; (2) every sandboxed child runs with 2 torch threads
(OMP/MKL threads too) and every worker process with 2 torch threads for what it evaluates itself,
whatever the executor (a dask worker would otherwise get 1 thread from the nanny's environment), so
floating-point reductions sum in the same order; (3) the training engine is deterministic for a given seed
and thread count (`grader.engine`). Changing the thread count or the machine's CPU kind may change
training results in the last digits, and so, rarely, a verdict near a pass mark.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import functools
import io
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol

if TYPE_CHECKING:
    from grader.data import Cifar10
    from grader.results import GradeResult

STATUSES = ("graded", "timed out", "failed to load", "worker died", "error")
DONE_STATUSES = ("graded", "timed out")  # a rerun skips these; the others are graded again
MAX_ID_CHARS = 64
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # first character alphanumeric: no ".", "..", hidden folders
RESERVED_IDS = ("gradebook.csv", "index.html")  # names of the batch's own files in DIR (compared lower-case)
CLONES = ".clones"
GRADE_FILE = "grade.json"
CLAIM_FILE = ".worker.json"
OUTPUT_FILES = ("results.json", "report.html", "badge.svg")  # what grader.gradescope.write_outputs writes
ERROR_FILE = "error.log"
GRADE_FILE_FORMAT = 1
MAX_REQUEUES = 2  # times an innocent student of a broken pool is graded again before it counts as `worker died`
MESSAGE_CHARS = 500  # of a status message kept in grade.json and shown in index.html
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git's scp-like syntax, user@host:owner/repo.git


class RosterError(ValueError):
    """The roster cannot be used; the message names the file, the line and the fix."""


class BatchError(RuntimeError):
    """The batch cannot start (output folder, another batch running, scheduler unreachable)."""


# ----- configuration and records ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RosterEntry:
    student_id: str
    path: str  # as written in the roster: a folder, a git URL or a repository path
    commit: str = ""  # git commit (or ref) to check out; "" for the default branch / a plain folder


@dataclass(frozen=True)
class BatchConfig:
    roster: Path
    out: Path
    selected: tuple[str, ...]  # rubric numbers to grade
    jobs: int = 2  # worker processes (local) or LocalCluster workers (dask)
    executor: str = "local"  # "local" or "dask"
    scheduler: str | None = None  # dask scheduler address; None starts a LocalCluster
    regrade: bool = False  # grade students that are already graded, too
    data: str | None = None  # CIFAR-10 path (else HW2_CIFAR10, else the default cache)
    seed: int = 0
    threads: int = 2  # torch threads per sandboxed child and per worker process
    clone_timeout_s: float = 600.0  # seconds one `git clone` + checkout may take
    scheduler_timeout_s: float = 30.0  # seconds to wait for the dask scheduler and its first worker


@dataclass(frozen=True)
class StudentJob:
    """Everything a worker needs to grade one student (picklable; paths as strings)."""

    student_id: str
    path: str  # as in the roster
    source: str  # what is graded: the URL, or the absolute path of the folder or repository
    commit: str
    out: str  # the batch's DIR
    selected: tuple[str, ...]
    data: str | None
    seed: int
    threads: int
    clone_timeout_s: float
    run_id: str  # identifies this batch run, to tell its grade.json from an older one


@dataclass(frozen=True)
class ItemScore:
    score: float | None  # None: manual (pending) or not scored
    max_score: float  # points
    status: str  # the item's status in the report (passed, partial, failed, pending, review)


@dataclass(frozen=True)
class StudentRecord:
    """What `<id>/grade.json` holds, and one row of the gradebook."""

    student_id: str
    status: str  # one of STATUSES
    items: dict[str, ItemScore] = field(default_factory=dict)  # rubric number -> score
    total: float | None = None  # automatic points earned, bonus included; None when not graded
    max_score: float = 0.0  # automatic points available, bonus excluded
    pending_manual: float = 0.0  # points of the manual items, left to a human grader
    seconds: float = 0.0  # wall time of this student's grading (clone included)
    grader_version: str = ""
    path: str = ""  # roster path
    source: str = ""  # the URL, or the absolute path the roster path names
    commit: str = ""  # roster commit
    resolved_commit: str = ""  # commit actually graded, for a cloned repository
    selected: tuple[str, ...] = ()
    seed: int = 0
    message: str = ""  # why it is not graded, or what to know about the grade
    run_id: str = ""
    finished_at: str = ""  # UTC, ISO 8601

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = GRADE_FILE_FORMAT
        data["selected"] = list(self.selected)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> StudentRecord:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != GRADE_FILE_FORMAT or data.get("status") not in STATUSES:
            raise ValueError("not a grade.json of this grader")
        data.pop("format")
        data["items"] = {k: ItemScore(**v) for k, v in data.get("items", {}).items()}
        data["selected"] = tuple(data.get("selected", ()))
        return cls(**data)

    def matches(self, source: str, commit: str, selected: tuple[str, ...], seed: int) -> bool:
        """Graded from the same folder or repository and commit, with the same items and seed: the grade
        still stands (the roster itself may have moved or been rewritten)."""
        return (self.source, self.commit, self.selected, self.seed) == (source, commit, tuple(selected), seed)


# ----- roster -----------------------------------------------------------------------------------------------
def validate_id(student_id: str) -> str:
    """"" when the id is usable as a folder name, else why not."""
    if not student_id:
        return "is empty"
    if len(student_id) > MAX_ID_CHARS:
        return f"is {len(student_id)} characters long (at most {MAX_ID_CHARS})"
    if not _ID.fullmatch(student_id):
        return "is not allowed: use letters, digits, '-', '_' and '.', starting with a letter or digit"
    if student_id.lower() in RESERVED_IDS:
        return "is the name of a file the batch writes"
    return ""


def read_roster(path: Path) -> list[RosterEntry]:
    """The roster's rows, validated. Raises RosterError with a one-line message."""
    if not path.exists():
        raise RosterError(f"roster {path} does not exist")
    if not path.is_file():
        raise RosterError(f"roster {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a byte-order mark
    except UnicodeDecodeError:
        raise RosterError(f"roster {path} is not UTF-8 text") from None
    except OSError as e:
        raise RosterError(f"roster {path} cannot be read: {e.strerror}") from None
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in row)]
    if not rows:
        raise RosterError(f"roster {path} is empty: the first line must be the header student_id,path[,commit]")
    header = [c.strip().lower() for c in rows[0][1]]
    if header not in (["student_id", "path"], ["student_id", "path", "commit"]):
        raise RosterError(f"roster {path} line {rows[0][0]}: the header must be 'student_id,path' or "
                          f"'student_id,path,commit', found {','.join(rows[0][1])!r}")
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for n, row in rows[1:]:
        if len(row) not in (2, len(header)):
            raise RosterError(f"roster {path} line {n}: expected {len(header)} fields ({','.join(header)}), found {len(row)}")
        student_id, where = row[0].strip(), row[1].strip()
        commit = row[2].strip() if len(row) > 2 else ""
        problem = validate_id(student_id)
        if problem:
            raise RosterError(f"roster {path} line {n}: student id {student_id!r} {problem}")
        key = student_id.lower()  # case-insensitive: "Alice" and "alice" share a folder on macOS and Windows
        if key in seen:
            raise RosterError(f"roster {path} line {n}: duplicate student id {student_id!r} (first on line {seen[key]})")
        seen[key] = n
        if not where:
            raise RosterError(f"roster {path} line {n}: student {student_id!r} has no path")
        if commit.startswith("-") or any(c.isspace() for c in commit):
            raise RosterError(f"roster {path} line {n}: commit {commit!r} of {student_id!r} is not a git commit or ref")
        entries.append(RosterEntry(student_id, where, commit))
    if not entries:
        raise RosterError(f"roster {path} lists no students (only the header)")
    return entries


def is_remote(path: str) -> bool:
    """A URL or git's scp-like `user@host:repo`: cloned as written, never read as a local path."""
    return "://" in path or bool(_SCP_LIKE.match(path))


def resolve_source(path: str, roster_dir: Path) -> str:
    """The URL as written, or the absolute path a roster path names (relative to the roster's folder)."""
    if is_remote(path):
        return path
    p = Path(path).expanduser()
    return os.path.realpath(p if p.is_absolute() else roster_dir / p)


def is_git_url(path: str) -> bool:
    """A URL (https://, ssh://, file://, git://), scp-like `user@host:repo`, or a path ending in .git."""
    return is_remote(path) or path.rstrip("/").endswith(".git")


# ----- the worker side --------------------------------------------------------------------------------------
class _WorkerState:
    """The student a local pool worker is grading, for its SIGTERM handler (one per process)."""

    student_dir: Path | None = None


def _init_local_worker(threads: int) -> None:
    """ProcessPoolExecutor initializer. Ctrl-C is the parent's to handle (it terminates the workers);
    SIGTERM, sent when the pool breaks or the batch is interrupted, records that this student was an
    innocent bystander and kills the student's sandboxed children before the worker exits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)


def _on_sigterm(signum: int, frame: object) -> None:
    student_dir = _WorkerState.student_dir
    if student_dir is not None:
        try:
            _write_claim(student_dir, "terminated")
        except OSError:
            pass
    _kill_children()
    os._exit(128 + signum)


def _kill_children() -> None:
    """SIGKILL the process groups of this process's children (sandboxed children run in their own session,
    so they would otherwise outlive the worker until their wall-clock limit)."""
    try:
        import psutil

        children = psutil.Process().children(recursive=True)
    except Exception:  # noqa: BLE001  best effort while exiting
        return
    own_group = os.getpgrp()  # shared with the batch's parent: never signal it as a whole
    for child in children:
        try:
            group = os.getpgid(child.pid)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
            os.kill(child.pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def _write_claim(student_dir: Path, state: str) -> None:
    from grader.gradescope import write_atomic

    write_atomic(student_dir / CLAIM_FILE, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "state": state,
                                                       "since": _now()}) + "\n")


def read_claim(student_dir: Path) -> dict:
    """`.worker.json` of a student being graded: pid, host, state ("running" or "terminated"); {} if none."""
    try:
        data = json.loads((student_dir / CLAIM_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=2)
def _dataset(data: str | None) -> Cifar10:
    """CIFAR-10, decoded (or read from the on-disk cache) once per worker process and data path."""
    from grader.data import load_cifar10

    return load_cifar10(data)


@functools.lru_cache(maxsize=1)
def _calibration():
    from grader.calibration import load_calibration

    return load_calibration()


@functools.lru_cache(maxsize=1)
def _isolation():
    from grader.sandbox import detect_isolation

    return detect_isolation(True)


def grade_student(job: StudentJob) -> StudentRecord:
    """Grade one student in this (worker) process: clone if needed, grade, write the student's files and,
    last, grade.json. Never raises for a problem of the student or the grader: it returns the record."""
    start = time.perf_counter()
    student_dir = Path(job.out) / job.student_id
    student_dir.mkdir(parents=True, exist_ok=True)
    for name in (GRADE_FILE, ERROR_FILE, *OUTPUT_FILES):  # no stale grade or report survives a failed regrade
        (student_dir / name).unlink(missing_ok=True)
    _write_claim(student_dir, "running")
    _WorkerState.student_dir = student_dir
    try:
        record = _grade_student(job, student_dir, start)
    except Exception as e:  # noqa: BLE001  a grader bug fails this student only; the traceback goes to error.log
        _write_text(student_dir / ERROR_FILE, traceback.format_exc())
        record = _failure(job, "error", f"the grader raised {type(e).__name__}: {e} (traceback in {job.student_id}/{ERROR_FILE})",
                          time.perf_counter() - start)
    finally:
        _WorkerState.student_dir = None
    _write_text(student_dir / GRADE_FILE, record.to_json())
    (student_dir / CLAIM_FILE).unlink(missing_ok=True)
    return record


def _grade_student(job: StudentJob, student_dir: Path, start: float) -> StudentRecord:
    import torch

    from grader.data import DataError
    from grader.grade import NEEDS_DATA, GradeOptions, grade
    from grader.gradescope import write_outputs
    from grader.submission import locate_entry

    folder, resolved, problem = materialise(job)
    if folder is None:
        return _failure(job, "failed to load", problem, time.perf_counter() - start)
    torch.set_num_threads(job.threads)  # what the worker evaluates itself (trained weights in the reference net)
    needs_data = any(n in NEEDS_DATA for n in job.selected)
    try:
        dataset = _dataset(job.data) if needs_data else None
    except DataError as e:
        return _failure(job, "error", str(e), time.perf_counter() - start)
    options = GradeOptions(selected=job.selected, data=job.data, seed=job.seed, threads=job.threads, verify_reference=False)
    result = grade(folder, options, dataset=dataset, calibration=_calibration(), isolation=_isolation())
    result.submission = job.student_id  # the report names the student, not a clone's cache path
    write_outputs(result, student_dir)
    entry = locate_entry(folder)
    if entry.file is None:  # the report says why; the gradebook shows no scores rather than zeros
        return replace(_failure(job, "failed to load", entry.problem, time.perf_counter() - start), resolved_commit=resolved)
    status, message = status_of(result)
    return _from_result(job, result, status, message, resolved, time.perf_counter() - start)


def status_of(result: GradeResult) -> tuple[str, str]:
    """(status, message) of a completed grade: "timed out" when a child hit its wall-clock limit, else
    "graded", with a note for the class summary when the submission did not even import (a zero worth a
    look). Read from the result's flags, never from the wording of the feedback."""
    if result.timed_out:
        return "timed out", "some of the submission's code ran past its wall-clock limit (see the report)"
    if result.load_problem:
        return "graded", f"the submission could not be imported: {result.load_problem}"
    return "graded", ""


def _from_result(job: StudentJob, result: GradeResult, status: str, message: str, resolved: str,
                 seconds: float) -> StudentRecord:
    from grader import __version__

    items = {i.number: ItemScore(score=i.score, max_score=float(i.max_score), status=i.status)
             for i in result.items if i.status != "skipped"}
    return StudentRecord(student_id=job.student_id, status=status, items=items, total=round(result.score, 4),
                         max_score=float(result.max_score), pending_manual=float(result.pending_manual),
                         seconds=round(seconds, 3), grader_version=__version__, path=job.path, source=job.source,
                         commit=job.commit, resolved_commit=resolved, selected=job.selected, seed=job.seed, message=_short(message),
                         run_id=job.run_id, finished_at=_now())


def _failure(job: StudentJob, status: str, message: str, seconds: float) -> StudentRecord:
    from grader import __version__

    return StudentRecord(student_id=job.student_id, status=status, seconds=round(seconds, 3), grader_version=__version__,
                         path=job.path, source=job.source, commit=job.commit, selected=job.selected, seed=job.seed,
                         message=_short(message), run_id=job.run_id, finished_at=_now())


def materialise(job: StudentJob) -> tuple[Path | None, str, str]:
    """(folder to grade, commit graded, problem): the roster's folder itself, or a fresh clone of the
    repository under DIR/.clones/<id> at the roster's commit. folder is None when it cannot be had."""
    source = job.source
    if not is_git_url(job.path):
        folder = Path(source)
        if not folder.exists():
            return None, "", f"the submission folder {folder} does not exist"
        if not folder.is_dir():
            return None, "", f"{folder} is not a folder"
        if not job.commit:
            return folder, "", ""
        if not (folder / ".git").exists():
            return None, "", f"commit {job.commit} is given but {folder} is not a git repository"
    dest = Path(job.out) / CLONES / job.student_id
    _remove_tree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # a private repository fails instead of asking for a password
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    steps = [["git", "clone", "--quiet", "--", source, str(dest)]]
    if job.commit:
        steps.append(["git", "-C", str(dest), "checkout", "--quiet", "--detach", job.commit])
    deadline = time.monotonic() + job.clone_timeout_s
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                                  timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None, "", f"git {argv[1] if argv[1] != '-C' else argv[3]} of {job.path} took more than {job.clone_timeout_s:.0f} s"
        except OSError as e:
            return None, "", f"git could not run: {e}"
        if done.returncode != 0:
            what = "clone" if argv[1] == "clone" else f"checkout of {job.commit}"
            return None, "", f"git {what} of {job.path} failed: {_git_message(done.stderr)}"
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True, env=env)
    return dest, head.stdout.strip() if head.returncode == 0 else "", ""


def _git_message(stderr: str) -> str:
    """git's first fatal/error line (the following ones are generic advice), else its last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "no message")


def _remove_tree(path: Path) -> None:
    import shutil

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


# ----- files of the batch -----------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    from grader.gradescope import write_atomic

    write_atomic(path, text)


def load_record(student_dir: Path) -> StudentRecord | None:
    """The student's grade.json, or None when missing or unreadable."""
    try:
        return StudentRecord.from_json((student_dir / GRADE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def gradebook_columns(selected: tuple[str, ...]) -> list[str]:
    from grader.rubric import BY_NUMBER

    items = [n for n in selected if not BY_NUMBER[n].manual]
    return ["student_id", *items, "total", "pending_manual", "status", "seconds", "grader_version"]


def render_gradebook(records: Iterable[StudentRecord], selected: tuple[str, ...]) -> str:
    """gradebook.csv: one row per student; scores of the automatic items, the automatic total (bonus
    included), the manual points still to grade, the status, seconds and grader version."""
    columns = gradebook_columns(selected)
    items = columns[1:-5]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in records:
        scores = [_points(r.items[n].score) if n in r.items else "" for n in items]
        writer.writerow([r.student_id, *scores, _points(r.total), _points(r.pending_manual) if r.total is not None else "",
                         r.status, f"{r.seconds:.1f}", r.grader_version])
    return buf.getvalue()


def _points(x: float | None) -> str:
    return "" if x is None else f"{round(float(x), 2):g}"


def histogram_png(totals: list[float], max_score: float) -> bytes:
    """PNG of the automatic totals' histogram (one bar per point when the range is small)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    top = max([max_score, *totals, 1.0])
    # one bar per point, centred on it, while that stays readable (full marks get a bar of their own)
    bins = np.arange(-0.5, math.ceil(top) + 1.0) if top <= 40 else np.linspace(0.0, top, 26)
    fig = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.hist(totals, bins=bins, color="#1f5fbf", edgecolor="white")
    ax.set_xlabel("automatic points")
    ax.set_ylabel("students")
    ax.set_xlim(bins[0], bins[-1])
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white", metadata={"Software": None})
    return buf.getvalue()


_TONES = {"graded": "ok", "timed out": "warn", "failed to load": "bad", "worker died": "bad", "error": "bad"}


def render_index(records: list[StudentRecord], roster: Path, out: Path, selected: tuple[str, ...], seed: int,
                 n_students: int) -> str:
    """index.html: the class summary (histogram, per-item pass rates, students with links to their reports)."""
    import jinja2

    from grader import __version__
    from grader.plots import png_data_uri
    from grader.report import clean, template_dirs
    from grader.rubric import BY_NUMBER

    graded = [r for r in records if r.status in DONE_STATUSES and r.total is not None]
    totals = [float(r.total) for r in graded]
    max_total = max([r.max_score for r in graded], default=sum(BY_NUMBER[n].points for n in selected
                                                               if not BY_NUMBER[n].manual and not BY_NUMBER[n].bonus))
    items = []
    for n in selected:
        spec = BY_NUMBER[n]
        scored = [r.items[n] for r in graded if n in r.items and r.items[n].score is not None]
        passed = sum(1 for s in scored if s.score >= s.max_score - 1e-9)
        rate = passed / len(scored) if scored else None
        items.append({"number": n, "name": spec.name, "points": _points(spec.points), "manual": spec.manual,
                      "passed": f"{passed} / {len(scored)}" if scored else "–",
                      "mean": _points(statistics.fmean(s.score for s in scored)) if scored else "–",
                      "rate": f"{100 * rate:.0f}%" if rate is not None else None,
                      "bar_px": int(round(120 * rate)) if rate is not None else 0})
    counts = Counter(r.status for r in records)
    students = []
    for r in records:
        report = out / r.student_id / "report.html"
        students.append({"id": r.student_id, "status": r.status, "tone": _TONES.get(r.status, "bad"),
                         "total": f"{_points(r.total)} / {_points(r.max_score)}" if r.total is not None else "–",
                         "pending": _points(r.pending_manual) if r.total is not None else "–",
                         "seconds": f"{r.seconds:.1f}",
                         "report": f"{r.student_id}/report.html" if report.is_file() else "",
                         "message": clean(r.message, MESSAGE_CHARS)})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(p) for p in template_dirs()]), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("index.html").render(
        roster_name=clean(roster.name, 300), roster=clean(str(roster), 1000), items_text=", ".join(selected), seed=seed,
        version=__version__, n_students=n_students, n_graded=len(graded), n_problems=n_students - len(graded),
        mean_total=_points(statistics.fmean(totals)) if totals else "–",
        median_total=_points(statistics.median(totals)) if totals else "–", max_total=_points(max_total),
        status_counts=[{"status": s, "count": counts[s], "tone": _TONES[s]} for s in STATUSES if counts[s]],
        histogram_uri=png_data_uri(histogram_png(totals, max_total)) if totals else "", histogram_width=800,
        items=items, students=students,
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ----- progress ---------------------------------------------------------------------------------------------
class Display(Protocol):
    def begin(self, total: int, skipped: int) -> None: ...
    def update(self, running: int) -> None: ...
    def finished(self, record: StudentRecord, running: int) -> None: ...
    def end(self) -> None: ...


class NullDisplay:
    def begin(self, total: int, skipped: int) -> None: pass
    def update(self, running: int) -> None: pass
    def finished(self, record: StudentRecord, running: int) -> None: pass
    def end(self) -> None: pass


class PlainDisplay:
    """One line per finished student (for logs and pipes)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.total = self.done = self.failed = 0
        self.start = time.monotonic()

    def begin(self, total: int, skipped: int) -> None:
        self.total, self.start = total, time.monotonic()
        note = f" ({skipped} already graded, skipped)" if skipped else ""
        print(f"grading {total} students{note}", file=self.stream, flush=True)

    def update(self, running: int) -> None:
        pass

    def finished(self, record: StudentRecord, running: int) -> None:
        self.done += 1
        self.failed += record.status not in DONE_STATUSES
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        score = f"{_points(record.total)}/{_points(record.max_score)}" if record.total is not None else "-"
        why = f": {record.message}" if record.status not in DONE_STATUSES and record.message else ""
        print(f"[{self.done:>{len(str(self.total))}}/{self.total}] {record.student_id}: {record.status} {score} in "
              f"{record.seconds:.1f} s{why} (running {running}, failed {self.failed}; elapsed {_clock(elapsed)}, "
              f"about {_clock(left)} left)", file=self.stream, flush=True)

    def end(self) -> None:
        pass


class RichDisplay:
    """A live progress bar: done / running / failed, elapsed and estimated time left."""

    def __init__(self) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("running {task.fields[running]}  failed {task.fields[failed]}"),
                                 TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
        self.task = None
        self.failed = 0

    def begin(self, total: int, skipped: int) -> None:
        self.progress.start()
        if skipped:
            self.progress.console.print(f"{skipped} students already graded: skipped (--regrade grades them again)")
        self.task = self.progress.add_task("grading", total=total, running=0, failed=0)

    def update(self, running: int) -> None:
        self.progress.update(self.task, running=running)

    def finished(self, record: StudentRecord, running: int) -> None:
        self.failed += record.status not in DONE_STATUSES
        if record.status not in DONE_STATUSES:
            from rich.markup import escape

            self.progress.console.print(f"[red]{record.student_id}: {record.status}[/red] {escape(record.message)}",
                                        highlight=False)
        self.progress.update(self.task, advance=1, running=running, failed=self.failed)

    def end(self) -> None:
        self.progress.stop()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# ----- the batch --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchSummary:
    records: tuple[StudentRecord, ...]  # every student with a grade.json, in roster order
    graded_now: int  # students graded by this run
    skipped: int  # students already graded by an earlier run
    seconds: float  # wall time of this run

    @property
    def counts(self) -> Counter:
        return Counter(r.status for r in self.records)

    @property
    def needs_rerun(self) -> int:
        """Students a rerun would grade again because the grader or its worker failed."""
        return sum(1 for r in self.records if r.status in ("worker died", "error"))


class _Book:
    """The parent's view of the class: records in roster order, rewritten to gradebook.csv on each change."""

    def __init__(self, config: BatchConfig, entries: list[RosterEntry]) -> None:
        self.config, self.entries = config, entries
        self.records: dict[str, StudentRecord] = {}

    def put(self, record: StudentRecord) -> None:
        self.records[record.student_id] = record
        self.write_gradebook()

    def ordered(self) -> list[StudentRecord]:
        return [self.records[e.student_id] for e in self.entries if e.student_id in self.records]

    def write_gradebook(self) -> None:
        _write_text(self.config.out / "gradebook.csv", render_gradebook(self.ordered(), self.config.selected))

    def write_index(self) -> None:
        html = render_index(self.ordered(), self.config.roster, self.config.out, self.config.selected,
                            self.config.seed, len(self.entries))
        _write_text(self.config.out / "index.html", html)


def run_batch(config: BatchConfig, display: Display | None = None) -> BatchSummary:
    """Grade every student of the roster not graded yet; returns what is on disk afterwards.

    Raises RosterError, BatchError or grader.data.DataError before any student is graded; KeyboardInterrupt
    after terminating the workers (every finished student is on disk, and the gradebook and index are
    written)."""
    display = display or NullDisplay()
    start = time.monotonic()
    if config.executor not in ("local", "dask"):
        raise BatchError(f"unknown executor {config.executor!r}: use local or dask")
    if config.jobs < 1:
        raise BatchError("jobs must be at least 1")
    entries = read_roster(config.roster)
    _prepare_out(config.out)
    with _lock(config.out):
        _check_data(config)
        book = _Book(config, entries)
        todo = _to_grade(config, entries, book)
        book.write_gradebook()
        display.begin(len(todo), len(entries) - len(todo))
        try:
            if todo:
                runner = _run_local if config.executor == "local" else _run_dask
                runner(config, todo, book, display)
        finally:
            display.end()
            book.write_gradebook()
            book.write_index()
    return BatchSummary(records=tuple(book.ordered()), graded_now=len(todo), skipped=len(entries) - len(todo),
                        seconds=time.monotonic() - start)


def _to_grade(config: BatchConfig, entries: list[RosterEntry], book: _Book) -> list[StudentJob]:
    """Jobs of the students to grade; the standing grades of the others go into the book."""
    run_id = uuid.uuid4().hex
    todo: list[StudentJob] = []
    roster_dir = config.roster.resolve().parent
    for e in entries:
        source = resolve_source(e.path, roster_dir)
        previous = load_record(config.out / e.student_id)
        if previous and previous.matches(source, e.commit, config.selected, config.seed):
            book.records[e.student_id] = previous  # shown until replaced
            if (previous.status in DONE_STATUSES and not config.regrade
                    and (config.out / e.student_id / "report.html").is_file()):
                continue
        todo.append(StudentJob(student_id=e.student_id, path=e.path, source=source, commit=e.commit,
                               out=str(config.out.resolve()),
                               selected=config.selected, data=config.data, seed=config.seed, threads=config.threads,
                               clone_timeout_s=config.clone_timeout_s, run_id=run_id))
    return todo


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BatchError(f"cannot create the output folder {out}: {e.strerror}") from None
    if not os.access(out, os.W_OK):
        raise BatchError(f"the output folder {out} is not writable")


def _check_data(config: BatchConfig) -> None:
    """Fail before grading anyone when CIFAR-10 is needed and missing; this also fills the on-disk decode
    cache once, so that each worker only reads the cached arrays."""
    from grader.grade import NEEDS_DATA

    if any(n in NEEDS_DATA for n in config.selected):
        from grader.data import load_cifar10

        load_cifar10(config.data)  # raises DataError; the arrays are dropped again at once


class _lock:
    """An exclusive lock on DIR: two batches writing the same folder would overwrite each other's gradebook."""

    def __init__(self, out: Path) -> None:
        self.path = out / ".batch.lock"
        self.fd = -1

    def __enter__(self) -> _lock:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise BatchError(f"another hw2-grade batch is writing {self.path.parent}; wait for it or use another --out") from None
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock


def _settle(job: StudentJob, book: _Book, display: Display, status: str, message: str, running: int) -> None:
    """Record a student whose future failed, unless its worker finished writing grade.json just before."""
    student_dir = Path(job.out) / job.student_id
    on_disk = load_record(student_dir)
    if on_disk is not None and on_disk.run_id == job.run_id:
        record = on_disk
    else:
        record = _failure(job, status, message, 0.0)
        student_dir.mkdir(parents=True, exist_ok=True)
        _write_text(student_dir / GRADE_FILE, record.to_json())
        (student_dir / CLAIM_FILE).unlink(missing_ok=True)
    book.put(record)
    display.finished(record, running)


def _run_local(config: BatchConfig, todo: list[StudentJob], book: _Book, display: Display) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = deque(todo)
    requeued: Counter = Counter()
    context = multiprocessing.get_context("spawn")  # no fork of a parent with threads (progress bar, pools)
    while queue:
        pool = ProcessPoolExecutor(max_workers=config.jobs, mp_context=context, initializer=_init_local_worker,
                                   initargs=(config.threads,))
        in_flight: dict = {}
        broken: list[StudentJob] = []  # students whose future failed because the pool broke
        pool_broken = False
        try:
            while True:
                while queue and not pool_broken and len(in_flight) < config.jobs:  # only running students in flight
                    job = queue.popleft()
                    (Path(job.out) / job.student_id / CLAIM_FILE).unlink(missing_ok=True)
                    try:
                        in_flight[pool.submit(grade_student, job)] = job
                    except BrokenProcessPool:  # broke since the last wait: this one never started
                        queue.appendleft(job)
                        pool_broken = True
                if not in_flight:
                    break
                display.update(len(in_flight))
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken.append(job)
                        pool_broken = True
                        continue
                    except Exception as e:  # noqa: BLE001  e.g. a result that cannot be unpickled
                        _settle(job, book, display, "error", f"{type(e).__name__}: {e}", len(in_flight))
                        continue
                    book.put(record)
                    display.finished(record, len(in_flight))
                if pool_broken and not in_flight:
                    break
        except BaseException:
            _terminate_local_workers()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True, cancel_futures=True)  # joins the workers: their SIGTERM notes are on disk now
        for job in reversed(broken):
            claim = read_claim(Path(job.out) / job.student_id)
            innocent = claim.get("state") == "terminated" or not claim  # terminated by the pool, or never started
            if innocent and requeued[job.student_id] < MAX_REQUEUES:
                requeued[job.student_id] += 1
                queue.appendleft(job)
            else:
                _settle(job, book, display, "worker died",
                        "the worker process grading this student died (killed, or out of memory); rerun to grade again", 0)


def _terminate_local_workers() -> None:
    """SIGTERM the pool's workers (Ctrl-C): each kills its sandboxed children and exits at once."""
    import multiprocessing

    for process in multiprocessing.active_children():
        process.terminate()


def _run_dask(config: BatchConfig, todo: list[StudentJob], book: _Book, display: Display) -> None:
    import logging

    import dask
    import distributed

    cluster = None
    try:
        if config.scheduler:
            client = distributed.Client(config.scheduler, timeout=config.scheduler_timeout_s)
        else:
            with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                  "distributed.scheduler.worker-saturation": 1.0}):
                cluster = distributed.LocalCluster(n_workers=config.jobs, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
    except (OSError, TimeoutError, ValueError) as e:
        raise BatchError(f"cannot reach the dask scheduler {config.scheduler or '(local cluster)'}: {e}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=config.scheduler_timeout_s)
        except TimeoutError:
            raise BatchError(f"the dask scheduler {config.scheduler} has no worker after "
                             f"{config.scheduler_timeout_s:.0f} s") from None
        _dask_loop(client, todo, book, display)
    finally:  # on Ctrl-C, closing our LocalCluster kills its workers; a shared cluster's running tasks finish
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_loop(client, todo: list[StudentJob], book: _Book, display: Display) -> None:
    import distributed

    queue = deque(todo)
    in_flight: dict = {}
    futures = distributed.as_completed([], with_results=False)
    try:
        while queue or in_flight:
            # keep about one student per worker thread in flight: a dead worker then fails only its own student
            slots = max(1, sum(client.nthreads().values()))
            while queue and len(in_flight) < slots:
                job = queue.popleft()
                (Path(job.out) / job.student_id / CLAIM_FILE).unlink(missing_ok=True)
                future = client.submit(grade_student, job, pure=False, retries=0,
                                       key=f"grade-student-{uuid.uuid4().hex}")  # one task group: queued fairly
                in_flight[future] = job
                futures.add(future)
            display.update(len(in_flight))
            future = next(futures)
            job = in_flight.pop(future)
            try:
                record = future.result()
            except distributed.KilledWorker:
                _settle(job, book, display, "worker died",
                        "the dask worker grading this student died (killed, or out of memory); rerun to grade again",
                        len(in_flight))
                continue
            except Exception as e:  # noqa: BLE001  cancelled, lost connection, unpicklable result
                _settle(job, book, display, "error", f"{type(e).__name__}: {e}", len(in_flight))
                continue
            book.put(record)
            display.finished(record, len(in_flight))
    except BaseException:
        client.cancel(list(in_flight))
        raise


# ----- command line -----------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hw2-grade batch", description="Grade a class from a roster CSV "
                                "(student_id,path[,commit]); each student's files go to DIR/<student_id>/.",
                                epilog="Exit status: 0 when every student has a grade or a 'failed to load' status; "
                                       "1 when some students need a rerun ('worker died', 'error'); 2 on bad input; "
                                       "130 when interrupted (finished students are kept; rerun to continue).")
    p.add_argument("roster", type=Path, help="CSV with the header student_id,path[,commit]")
    p.add_argument("--out", type=Path, required=True, help="folder for the students' files, gradebook.csv and index.html")
    p.add_argument("--jobs", type=int, default=2, help="students graded at once (worker processes); default 2")
    p.add_argument("--executor", choices=("local", "dask"), default="local", help="local process pool or a dask cluster")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://host:8786); default: a local cluster of --jobs workers")
    p.add_argument("--only", help="comma-separated rubric numbers or prefixes, e.g. 5.1,1.2")
    p.add_argument("--regrade", action="store_true", help="grade students again even when they are already graded")
    p.add_argument("--data", help="CIFAR-10 location (default: $HW2_CIFAR10)")
    p.add_argument("--seed", type=int, default=0, help="seed of every student's inputs and training runs (default 0)")
    return p


def _fail(message: str) -> int:
    print(f"hw2-grade batch: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    from grader.data import DataError
    from grader.rubric import SelectionError, select

    args = _parser().parse_args(argv)
    if args.jobs < 1:
        return _fail("--jobs must be at least 1")
    if args.scheduler and args.executor != "dask":
        return _fail("--scheduler needs --executor dask")
    try:
        selected = select(args.only)
    except SelectionError as e:
        return _fail(str(e))
    config = BatchConfig(roster=args.roster, out=args.out, selected=selected, jobs=args.jobs, executor=args.executor,
                         scheduler=args.scheduler, regrade=args.regrade, data=args.data, seed=args.seed)
    display: Display = RichDisplay() if sys.stdout.isatty() else PlainDisplay()
    try:
        summary = run_batch(config, display=display)
    except (RosterError, BatchError, DataError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        done = sum(1 for e in _safe_roster(args.roster) if (load_record(args.out / e.student_id) or _NONE).status in DONE_STATUSES)
        print(f"\ninterrupted: {done} students are graded and kept in {args.out}; run the same command again to "
              f"grade the rest", file=sys.stderr)
        return 130
    counts = summary.counts
    print(f"{len(summary.records)} students: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
          + f" ({summary.skipped} skipped as already graded) in {_clock(summary.seconds)}")
    print(f"gradebook: {args.out / 'gradebook.csv'}\nsummary:   {args.out / 'index.html'}")
    if summary.needs_rerun:
        print(f"{summary.needs_rerun} students need a rerun (worker died or grader error): run the same command again",
              file=sys.stderr)
        return 1
    return 0


_NONE = StudentRecord(student_id="", status="error")


def _safe_roster(path: Path) -> list[RosterEntry]:
    try:
        return read_roster(path)
    except RosterError:
        return []
