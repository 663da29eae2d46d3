"""One student's bookkeeping: the job a worker is sent, `<id>/grade.json` (StudentRecord) and the claim
`<id>/.worker.json`, every file replaced atomically."""
from __future__ import annotations

import datetime
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader import __version__
from grader.results.model import GradeResult
from grader.results.write import write_atomic

STATUSES = ("graded", "timed out", "failed to load", "worker died", "error")
DONE_STATUSES = ("graded", "timed out")  # a rerun skips these; the others are graded again
GRADE_FILE = "grade.json"


def has_scores(record: StudentRecord) -> bool:
    """The record carries the grader's scores, which a human grader completes and `finalize` merges: graded or
    timed out, or failed to load because the code did not import (its answers.toml items are still scored;
    a missing folder or a failed clone has none)."""
    return record.status in DONE_STATUSES or (record.status == "failed to load" and record.total is not None)
CLAIM_FILE = ".worker.json"
ERROR_FILE = "error.log"
GRADE_FILE_FORMAT = 1
MESSAGE_CHARS = 500  # of a status message kept in grade.json and shown in index.html


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
    submission_limit_s: float | None = None  # the grader's own limit for this student's grade (seconds)
    remote_only: bool = False  # the roster may name remote https:// or ssh repositories only (also for git itself)
    training_cache: str | None = None  # folder of the trusted training runs the workers share; None: train every run

    @property
    def student_dir(self) -> Path:
        return Path(self.out) / self.student_id

    def record(self, status: str, message: str, seconds: float) -> StudentRecord:
        """The student's record without scores (what a failure leaves; a grade adds its scores)."""
        return StudentRecord(student_id=self.student_id, status=status, seconds=round(seconds, 3),
                             grader_version=__version__, path=self.path, source=self.source, commit=self.commit,
                             selected=self.selected, seed=self.seed, message=short(message), run_id=self.run_id,
                             finished_at=now())


@dataclass(frozen=True)
class ItemScore:
    score: float | None  # None: manual (pending) or not scored
    max_score: float  # points
    status: str  # the item's status in the report (passed, partial, failed, pending, review)
    diagnoses: tuple[str, ...] = ()  # codes of the known defects found (checks.diagnoses), for the class page
    hand_graded: bool = False  # the score is a human grader's (`hw2-grade finalize`)
    comment: str = ""  # the human grader's comment


@dataclass(frozen=True)
class StudentRecord:
    """What `<id>/grade.json` holds, and one row of the gradebook."""

    student_id: str
    status: str  # one of STATUSES
    items: dict[str, ItemScore] = field(default_factory=dict)  # rubric number -> score
    total: float | None = None  # points earned, bonus included (once finalized: with the hand-graded items, less
    # the late penalty); None when not graded
    max_score: float = 0.0  # points available of the items scored, bonus excluded
    pending_manual: float = 0.0  # points of the manual items, left to a human grader
    seconds: float = 0.0  # wall time of this student's grading (clone included)
    reused_runs: int = 0  # training runs whose trusted result was reused from the batch's cache
    grader_version: str = ""
    path: str = ""  # roster path
    source: str = ""  # the URL, or the absolute path the roster path names
    commit: str = ""  # roster commit
    resolved_commit: str = ""  # commit actually graded, for a cloned repository or a folder that is one
    commit_time: str = ""  # committer date of the graded commit, ISO 8601 (set by the student: not proof of time)
    selected: tuple[str, ...] = ()
    seed: int = 0
    message: str = ""  # why it is not graded, or what to know about the grade
    run_id: str = ""
    finished_at: str = ""  # UTC, ISO 8601
    # set by `hw2-grade finalize` (the human grader's scores merged): points given by hand, the late penalty
    hand_total: float | None = None  # None until finalized
    late_days: int = 0  # days (or part days) after the deadline
    late_penalty: float = 0.0  # points taken off
    late_note: str = ""  # how lateness was established, in words
    finalized_at: str = ""  # UTC, ISO 8601

    @property
    def graded_commit(self) -> str:
        return self.resolved_commit or self.commit

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
        data["items"] = {k: ItemScore(**{**v, "diagnoses": tuple(v.get("diagnoses", ()))})
                         for k, v in data.get("items", {}).items()}
        data["selected"] = tuple(data.get("selected", ()))
        return cls(**data)

    def matches(self, source: str, commit: str, selected: tuple[str, ...], seed: int) -> bool:
        """Graded from the same folder or repository and commit, with the same items and seed: the grade
        still stands (the roster itself may have moved or been rewritten)."""
        return (self.source, self.commit, self.selected, self.seed) == (source, commit, tuple(selected), seed)


def load_record(student_dir: Path) -> StudentRecord | None:
    """The student's grade.json, or None when missing or unreadable."""
    try:
        return StudentRecord.from_json((student_dir / GRADE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def record_failure(job: StudentJob, status: str, message: str) -> StudentRecord:
    """Record, in the parent, a student whose worker failed to return its record; unless the worker
    finished writing grade.json just before, whose record then stands."""
    on_disk = load_record(job.student_dir)
    if on_disk is not None and on_disk.run_id == job.run_id:
        return on_disk
    record = job.record(status, message, 0.0)
    job.student_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(job.student_dir / GRADE_FILE, record.to_json())
    clear_claim(job.student_dir)
    return record


def scores_of(result: GradeResult) -> dict:
    """The StudentRecord fields that hold a grade's scores (the worker's, and finalize's after a merge)."""
    items = {i.number: ItemScore(score=i.score, max_score=float(i.max_score), status=i.status, diagnoses=i.diagnoses,
                                 hand_graded=i.hand_graded, comment=i.comment)
             for i in result.items if i.status != "skipped"}
    return {"items": items, "total": round(result.score, 4), "max_score": float(result.max_score),
            "pending_manual": float(result.pending_manual), "reused_runs": len(result.reused_runs)}


def write_claim(student_dir: Path, state: str) -> None:
    write_atomic(student_dir / CLAIM_FILE, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "state": state,
                                                       "since": now()}) + "\n")


def read_json_object(path: Path) -> dict:
    """A JSON object the batch wrote; {} when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def read_claim(student_dir: Path) -> dict:
    """`.worker.json` of a student being graded: pid, host, state ("running" or "terminated"); {} if none."""
    return read_json_object(student_dir / CLAIM_FILE)


def clear_claim(student_dir: Path) -> None:
    (student_dir / CLAIM_FILE).unlink(missing_ok=True)


def points_text(x: float | None) -> str:
    """Points as the gradebook, the class page and the progress lines show them; "" for none."""
    return "" if x is None else f"{round(float(x), 2):g}"


def short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
