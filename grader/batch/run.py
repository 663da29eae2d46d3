"""`run_batch`: read the roster, pick the students to grade (the others' grades stand), lock DIR, grade them
with the configured executor, and keep gradebook.csv and index.html up to date."""
from __future__ import annotations

import fcntl
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from grader.batch.classpage import write_class_pages
from grader.batch.config import TRAINING_CACHE, BatchConfig, BatchError
from grader.batch.executors import EXECUTORS
from grader.batch.gradebook import GRADEBOOK_FILE, render_gradebook
from grader.batch.progress import Display, NullDisplay
from grader.batch.records import DONE_STATUSES, StudentJob, StudentRecord, load_record, record_failure
from grader.batch.manifest import Manifest, write_manifest
from grader.batch.roster import RosterEntry, read_roster, resolve_source
from grader.batch.similarity import boilerplate_texts, find_similar, submission_sources, write_similarity
from grader.data import load_cifar10
from grader.options import installed_edition
from grader.rubric.items import RUBRIC
from grader.results.write import write_atomic


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
    """The parent's view of the class: records in roster order, rewritten to gradebook.csv on each change.
    It is the executors' Outcomes: each student they report is recorded here and shown on the display."""

    def __init__(self, config: BatchConfig, entries: list[RosterEntry], display: Display) -> None:
        self.config, self.entries, self.display = config, entries, display
        self.records: dict[str, StudentRecord] = {}

    def put(self, record: StudentRecord) -> None:
        self.records[record.student_id] = record
        self.write_gradebook()

    def waiting(self, running: int) -> None:
        self.display.update(running)

    def graded(self, record: StudentRecord, running: int) -> None:
        self.put(record)
        self.display.finished(record, running)

    def failed(self, job: StudentJob, status: str, message: str, running: int) -> None:
        self.graded(record_failure(job, status, message), running)

    def ordered(self) -> list[StudentRecord]:
        return [self.records[e.student_id] for e in self.entries if e.student_id in self.records]

    def write_gradebook(self) -> None:
        write_atomic(self.config.out / GRADEBOOK_FILE, render_gradebook(self.ordered(), self.config.selected, self.entries))

    def write_pages(self) -> None:
        manifest = Manifest(roster=str(self.config.roster), entries=tuple(self.entries), selected=self.config.selected,
                            seed=self.config.seed)
        write_class_pages(self.config.out, self.ordered(), manifest)

    def compare_submissions(self) -> None:
        """similarity.json and the side-by-side pages of the pairs over the threshold."""
        if self.config.similarity is None:
            return
        out = self.config.out
        sources = submission_sources(out, self.entries, self.ordered(), self.config.roster.resolve().parent)
        pairs, compared = find_similar(sources, boilerplate_texts(self.config.similarity), self.config.similarity)
        write_similarity(out, sources, pairs, compared, self.config.similarity)


def run_batch(config: BatchConfig, display: Display | None = None) -> BatchSummary:
    """Grade every student of the roster not graded yet; returns what is on disk afterwards.

    Raises RosterError, BatchError or grader.data.DataError before any student is graded; KeyboardInterrupt
    after terminating the workers (every finished student is on disk, and the gradebook and index are
    written)."""
    display = display or NullDisplay()
    start = time.monotonic()
    if config.executor not in EXECUTORS:
        raise BatchError(f"unknown executor {config.executor!r}: use {' or '.join(EXECUTORS)}")
    if config.jobs < 1:
        raise BatchError("jobs must be at least 1")
    entries = read_roster(config.roster, config.columns, remote_only=config.remote_only)
    for path in config.similarity.boilerplate if config.similarity else ():
        if not path.is_file():
            raise BatchError(f"--boilerplate {path} is not a file")
    _prepare_out(config.out)
    with _lock(config.out):
        _check_data(config)
        if installed_edition() == "instructor":
            # Imported here: grader/reference/ is built on solutions/, which the student edition lacks. Once per
            # installation the checks take half a minute; later batches read them from the cache.
            from grader.reference.page import write_reference_page

            write_reference_page(config.out)
        write_manifest(config.out, config.roster, entries, config.selected, config.seed)
        book = _Book(config, entries, display)
        todo = _to_grade(config, entries, book)
        book.write_gradebook()
        display.begin(len(todo), len(entries) - len(todo))
        try:
            if todo:
                EXECUTORS[config.executor](config).run(todo, book)
            book.compare_submissions()
        finally:
            display.end()
            book.write_gradebook()
            book.write_pages()
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
                               clone_timeout_s=config.clone_timeout_s, run_id=run_id,
                               submission_limit_s=config.submission_limit_s, remote_only=config.remote_only,
                               training_cache=str(config.out.resolve() / TRAINING_CACHE) if config.cache else None))
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
    if RUBRIC.needs(config.selected).data:
        load_cifar10(config.data)  # raises DataError; the arrays are dropped again at once


class _lock:
    """An exclusive lock on DIR: two batches writing the same folder would overwrite each other's gradebook."""

    def __init__(self, out: Path) -> None:
        self.path = out / ".batch.lock"
        self.fd = -1

    def __enter__(self) -> _lock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise BatchError(f"another hw2-grade batch is writing {self.path.parent}; wait for it or use another --out") from None
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)  # closing releases the lock
