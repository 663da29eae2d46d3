"""`manual.csv` (student_id,item,score[,comment]): the human grader's scores, as `grades/manual.html` exports it
or as a spreadsheet writes it. Read under size bounds and validated as a whole before anything is merged:
each problem (unknown student or item, a score out of range, a duplicate row) is one line naming the file and
the line, and any problem means nothing is written."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

MANUAL_FILE = "manual.csv"
HEADER = ("student_id", "item", "score", "comment")
MAX_BYTES = 5 * 1024 * 1024  # of the file
MAX_ROWS = 100_000
COMMENT_CHARS = 4_000  # of one comment
MAX_PROBLEMS = 50  # problem lines reported at most (then a count)


class ManualCsvError(ValueError):
    """The CSV cannot be merged; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS] + ([f"... and {len(problems) - MAX_PROBLEMS} more problems"]
                                           if len(problems) > MAX_PROBLEMS else [])
        super().__init__("\n".join(shown))
        self.problems = shown


@dataclass(frozen=True)
class ManualScore:
    score: float  # points, 0 .. the item's points
    comment: str
    line: int  # in the CSV, for messages


@dataclass(frozen=True)
class Gradable:
    """What the CSV may score: per student, the items open to hand grading and their points; and, for the
    students on the roster without a grade, why not."""

    items: dict[str, dict[str, float]]  # student id -> rubric number -> points
    not_graded: dict[str, str]  # student id -> status (failed to load, error, ...)


def read_manual_csv(path: Path, gradable: Gradable) -> dict[tuple[str, str], ManualScore]:
    """(student id, item) -> score, from the CSV at `path`; rows with an empty score leave the item pending.
    Raises ManualCsvError listing every problem."""
    name = path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ManualCsvError([f"{path} is not a file"])
        if size > MAX_BYTES:
            raise ManualCsvError([f"{path} is {size:,} bytes; a manual CSV may have at most {MAX_BYTES:,}"])
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a byte-order mark
    except FileNotFoundError:
        raise ManualCsvError([f"{path} does not exist"]) from None
    except UnicodeDecodeError:
        raise ManualCsvError([f"{path} is not UTF-8 text (save it from the spreadsheet as CSV UTF-8)"]) from None
    except OSError as e:
        raise ManualCsvError([f"{path} cannot be read: {e.strerror}"]) from None
    try:
        rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in row)]
    except csv.Error as e:
        raise ManualCsvError([f"{name}: not a readable CSV file ({e})"]) from None
    if not rows:
        raise ManualCsvError([f"{name} is empty: the first line must be the header {','.join(HEADER)}"])
    header = tuple(c.strip().lower() for c in rows[0][1])
    if header not in (HEADER, HEADER[:3]):
        raise ManualCsvError([f"{name} line {rows[0][0]}: the header must be {','.join(HEADER)} (comment optional), "
                              f"found {','.join(rows[0][1])!r}"])
    if len(rows) - 1 > MAX_ROWS:
        raise ManualCsvError([f"{name} has {len(rows) - 1:,} rows; at most {MAX_ROWS:,}"])
    problems: list[str] = []
    scores: dict[tuple[str, str], ManualScore] = {}
    first_line: dict[tuple[str, str], int] = {}
    for n, row in rows[1:]:
        where = f"{name} line {n}"
        if not 3 <= len(row) <= len(header):
            problems.append(f"{where}: expected {len(header)} fields ({','.join(header)}), found {len(row)}")
            continue
        sid, item, score_text = (c.strip() for c in row[:3])
        comment = row[3].strip() if len(row) > 3 else ""
        key = (sid, item)
        if key in first_line:
            problems.append(f"{where}: duplicate row for student {sid!r} item {item!r} (first on line {first_line[key]})")
            continue
        first_line[key] = n
        problem = _row_problem(sid, item, score_text, comment, gradable)
        if problem:
            problems.append(f"{where}: {problem}")
        elif score_text:
            scores[key] = ManualScore(score=float(score_text), comment=comment, line=n)
    if problems:
        raise ManualCsvError(problems)
    return scores


def _row_problem(sid: str, item: str, score_text: str, comment: str, gradable: Gradable) -> str:
    if sid in gradable.not_graded:
        return f"student {sid!r} has no grade to add to (status {gradable.not_graded[sid]}); grade them first"
    if sid not in gradable.items:
        return f"unknown student {sid!r} (not on the roster of this batch)"
    open_items = gradable.items[sid]
    if item not in open_items:
        listed = ", ".join(open_items) or "none"
        return f"item {item!r} cannot be graded by hand for {sid!r} (items open to hand grading: {listed})"
    if len(comment) > COMMENT_CHARS:
        return f"the comment has {len(comment):,} characters; at most {COMMENT_CHARS:,}"
    if not score_text:
        return ""
    try:
        score = float(score_text)
    except ValueError:
        return f"score {score_text!r} is not a number"
    points = open_items[item]
    if not math.isfinite(score) or not 0.0 <= score <= points:
        return f"score {score_text} of item {item} is out of range 0..{points:g}"
    return ""
