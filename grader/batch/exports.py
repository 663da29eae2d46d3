"""Gradebook exports for learning management systems, each in the import format its documentation describes:

- Canvas (gradebook import CSV): the columns Student, ID, SIS User ID, SIS Login ID, Section, then one column
  per assignment, "Name" or "Name (assignment id)"; the second line is "Points Possible" with the points under
  each assignment. Canvas matches a row by ID, SIS User ID or SIS Login ID, so each row needs one of them.
- Moodle (grade import from CSV): a user identifier column (email address or ID number) and one column per
  grade item, mapped in the import form; the grade item column here is "Name (Real)", Moodle's own export
  heading for a point grade.
- Gradescope (scores of an assignment): Name, SID, Email, Total Score, Max Points, Status, the columns of
  Gradescope's score export; Gradescope matches students by email.

The identifiers come from the roster's extra columns (a Canvas or Gradescope roster export keeps its column
names). A student without a total (failed to load, grader error) gets an empty cell, which the LMS leaves
unchanged; the summary says how many."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Sequence

from grader.batch.records import StudentRecord, points_text
from grader.batch.roster import RosterEntry

EXPORTS_DIR = "exports"
CANVAS_IDS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_MATCH = ("ID", "SIS User ID", "SIS Login ID")  # Canvas needs one of these per row
MOODLE_IDS = (("Email address", ("email address", "email", "e-mail")), ("ID number", ("id number", "idnumber", "sis user id")))
GRADESCOPE_COLUMNS = ("Name", "SID", "Email", "Total Score", "Max Points", "Status")
NAME_COLUMNS = ("name", "student", "full name", "student name")
EMAIL_COLUMNS = ("email", "email address", "e-mail")
SID_COLUMNS = ("sid", "student id", "sis user id", "id number", "idnumber")


@dataclass(frozen=True)
class Export:
    file: str  # name under DIR/exports/
    text: str  # CSV; "" when it cannot be made
    note: str  # what the instructor should know (why it is missing, students left blank)


def _first(entry: RosterEntry, names: Sequence[str]) -> str:
    return next((v for n in names if (v := entry.column(n).strip())), "")


def _blank_note(records: Sequence[StudentRecord]) -> str:
    blank = [r for r in records if r.total is None]
    return (f"; {len(blank)} student{'s' if len(blank) != 1 else ''} without a total left blank "
            f"({', '.join(sorted({r.status for r in blank}))})") if blank else ""


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends, as the LMSs export
    return buf.getvalue()


def canvas_csv(records: Sequence[StudentRecord], entries: Sequence[RosterEntry], assignment: str,
               points: float, assignment_id: str = "") -> Export:
    by_id = {e.student_id: e for e in entries}
    has = {c: any(e.column(c).strip() for e in entries) for c in CANVAS_IDS}
    if not any(has[c] for c in CANVAS_MATCH):
        return Export("canvas.csv", "", "canvas.csv not written: the roster has none of the columns Canvas matches "
                                        "students by (ID, SIS User ID, SIS Login ID); use Canvas's roster export")
    column = f"{assignment} ({assignment_id})" if assignment_id else assignment
    rows = [[*CANVAS_IDS, column], ["Points Possible", "", "", "", "", points_text(points)]]
    unmatched = []
    for r in records:
        e = by_id[r.student_id]
        ids = [e.column(c).strip() for c in CANVAS_IDS]
        if not any(e.column(c).strip() for c in CANVAS_MATCH):
            unmatched.append(r.student_id)
            continue
        rows.append([*ids, points_text(r.total)])
    note = f"canvas.csv: {len(rows) - 2} students, column {column!r} out of {points_text(points)}" + _blank_note(records)
    if unmatched:
        note += f"; left out (no ID, SIS User ID or SIS Login ID): {', '.join(unmatched)}"
    return Export("canvas.csv", _csv(rows), note)


def moodle_csv(records: Sequence[StudentRecord], entries: Sequence[RosterEntry], assignment: str) -> Export:
    by_id = {e.student_id: e for e in entries}
    usable = [(head, names) for head, names in MOODLE_IDS if any(_first(e, names) for e in entries)]
    if not usable:
        return Export("moodle.csv", "", "moodle.csv not written: Moodle identifies users by email address or ID "
                                        "number, and the roster has neither column")
    rows = [[head for head, _ in usable] + [f"{assignment} (Real)"]]
    for r in records:
        rows.append([_first(by_id[r.student_id], names) for _, names in usable] + [points_text(r.total)])
    return Export("moodle.csv", _csv(rows), f"moodle.csv: {len(rows) - 1} students, identified by "
                                            f"{' or '.join(h for h, _ in usable)}" + _blank_note(records))


def gradescope_csv(records: Sequence[StudentRecord], entries: Sequence[RosterEntry], points: float) -> Export:
    by_id = {e.student_id: e for e in entries}
    if not any(_first(e, EMAIL_COLUMNS) for e in entries):
        return Export("gradescope.csv", "", "gradescope.csv not written: Gradescope matches students by email, and "
                                            "the roster has no email column")
    rows = [list(GRADESCOPE_COLUMNS)]
    for r in records:
        e = by_id[r.student_id]
        rows.append([_first(e, NAME_COLUMNS) or r.student_id, _first(e, SID_COLUMNS), _first(e, EMAIL_COLUMNS),
                     points_text(r.total), points_text(points), "Graded" if r.total is not None else "Missing"])
    return Export("gradescope.csv", _csv(rows), f"gradescope.csv: {len(rows) - 1} students" + _blank_note(records))


def all_exports(records: Sequence[StudentRecord], entries: Sequence[RosterEntry], assignment: str, points: float,
                canvas_assignment_id: str = "") -> list[Export]:
    return [canvas_csv(records, entries, assignment, points, canvas_assignment_id),
            moodle_csv(records, entries, assignment), gradescope_csv(records, entries, points)]
