"""What runs in a worker process: `grade_student` (fetch, grade, write the student's files, grade.json last),
the per-process caches it reads, and the local pool's worker set-up (SIGTERM handling, killing children)."""
from __future__ import annotations

import functools
import os
import signal
import time
import traceback
from dataclasses import replace
from pathlib import Path

import psutil
import torch

from grader.batch.fetch import commit_info, materialise
from grader.batch.records import (ERROR_FILE, GRADE_FILE, StudentJob, StudentRecord, clear_claim, scores_of,
                                  write_claim)
from grader.calibration import load_calibration
from grader.data import Cifar10, DataError, load_cifar10
from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from grader.results.store import RESULT_FILE, result_to_json
from grader.results.write import OUTPUT_FILES, REFERENCE_PAGE, write_atomic, write_outputs
from grader.results.model import GradeResult
from grader.sandbox.limits import detect_isolation
from grader.sandbox.submission import locate_entry


class _WorkerState:
    """The student a local pool worker is grading, for its SIGTERM handler (one per process)."""

    student_dir: Path | None = None


def init_local_worker(threads: int) -> None:
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
            write_claim(student_dir, "terminated")
        except OSError:
            pass
    _kill_children()
    os._exit(128 + signum)


def _kill_children() -> None:
    """SIGKILL the process groups of this process's children (sandboxed children run in their own session,
    so they would otherwise outlive the worker until their wall-clock limit)."""
    try:
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


@functools.lru_cache(maxsize=2)
def _dataset(data: str | None) -> Cifar10:
    """CIFAR-10, decoded (or read from the on-disk cache) once per worker process and data path."""
    return load_cifar10(data)


@functools.lru_cache(maxsize=1)
def _calibration():
    return load_calibration()


@functools.lru_cache(maxsize=1)
def _isolation():
    return detect_isolation(True)


def grade_student(job: StudentJob) -> StudentRecord:
    """Grade one student in this (worker) process: clone if needed, grade, write the student's files and,
    last, grade.json. Never raises for a problem of the student or the grader: it returns the record."""
    start = time.perf_counter()
    student_dir = job.student_dir
    student_dir.mkdir(parents=True, exist_ok=True)
    for name in (GRADE_FILE, ERROR_FILE, RESULT_FILE, *OUTPUT_FILES):  # no stale grade or report survives a failed regrade
        (student_dir / name).unlink(missing_ok=True)
    write_claim(student_dir, "running")
    _WorkerState.student_dir = student_dir
    try:
        record = _grade_student(job, start)
    except Exception as e:  # noqa: BLE001  a grader bug fails this student only; the traceback goes to error.log
        write_atomic(student_dir / ERROR_FILE, traceback.format_exc())
        record = job.record("error", f"the grader raised {type(e).__name__}: {e} (traceback in {job.student_id}/{ERROR_FILE})",
                            time.perf_counter() - start)
    finally:
        _WorkerState.student_dir = None
    write_atomic(student_dir / GRADE_FILE, record.to_json())
    clear_claim(student_dir)
    return record


def _grade_student(job: StudentJob, start: float) -> StudentRecord:
    folder, resolved, problem = materialise(job)
    if folder is None:
        return job.record("failed to load", problem, time.perf_counter() - start)
    torch.set_num_threads(job.threads)  # what the worker evaluates itself (trained weights in the reference net)
    needs_data = RUBRIC.needs(job.selected).data
    try:
        dataset = _dataset(job.data) if needs_data else None
    except DataError as e:
        return job.record("error", str(e), time.perf_counter() - start)
    options = GradeOptions(selected=job.selected, data=job.data, seed=job.seed, threads=job.threads, verify_reference=False,
                           submission_limit_s=job.submission_limit_s, training_cache=job.training_cache)
    result = grade(folder, options, dataset=dataset, calibration=_calibration(), isolation=_isolation())
    result.submission = job.student_id  # the report names the student, not a clone's cache path
    if options.edition == "instructor":
        result.reference_page = f"../{REFERENCE_PAGE}"
    write_outputs(result, job.student_dir)
    write_atomic(job.student_dir / RESULT_FILE, result_to_json(result))  # what `finalize` renders again
    head, commit_time = commit_info(folder)
    commit = {"resolved_commit": resolved or head, "commit_time": commit_time}
    entry = locate_entry(folder)
    if entry.file is None:  # the report says why; the gradebook shows no scores rather than zeros
        return replace(job.record("failed to load", entry.problem, time.perf_counter() - start), **commit)
    status, message = status_of(result)
    return replace(job.record(status, message, time.perf_counter() - start), **scores_of(result), **commit)


def status_of(result: GradeResult) -> tuple[str, str]:
    """(status, message) of a completed grade, read from the result's flags, never from the wording of the
    feedback: "timed out" when the grader's limit for the submission was reached (the class goes on; the items
    left say so) or when a child hit its wall-clock limit; "error" when the grader could not check some item
    (its own failure: a rerun grades the student again); "failed to load" when the code did not import (the
    answers.toml items are still scored); else "graded"."""
    errors = ", ".join(i.number for i in result.errors)
    if result.deadline_hit:
        return "timed out", (f"the grader's time limit for one submission was reached; not checked: {errors}"
                             if errors else "the grader's time limit for one submission was reached")
    if result.incomplete:
        reasons = "; ".join(f"{i.number}: {i.feedback}" for i in result.errors)
        return "error", f"the grader could not check {errors} (its own failure; rerun to grade again): {reasons}"
    if result.load_problem:
        return "failed to load", f"the submission could not be imported: {result.load_problem}"
    if result.timed_out:
        return "timed out", "some of the submission's code ran past its wall-clock limit (see the report)"
    return "graded", ""
