"""LMS exports written by `hw2-grade finalize`, each checked against a sample of its format's documented header
and the rules its import applies:

- Canvas gradebook import (Canvas guides, "How do I import grades in the Gradebook?", and the CSV Canvas
  exports): Student, ID, SIS User ID, SIS Login ID, Section, then assignment columns "Name (id)"; a second
  line "Points Possible"; a row is matched by ID, SIS User ID or SIS Login ID.
- Moodle grade import from CSV (Moodle docs, "Grade import"): a user identifier column mapped to one of
  Moodle's user fields (email address, ID number, username) and one numeric column per grade item.
- Gradescope's score CSV of an assignment: its export's columns (Name or First/Last Name, SID, Email, Total
  Score, Max Points, Status, ...); students are matched by email.
"""
from __future__ import annotations

import csv
import io
import re

from grader.batch.exports import canvas_csv, gradescope_csv, moodle_csv
from grader.batch.records import StudentRecord
from grader.batch.roster import RosterEntry
from grader.cli import main as cli_main
from tests.grader.batch.class_folder import sample_class
from tests.grader.batch.test_finalize import MANUAL, write_manual

CANVAS_SAMPLE = "Student,ID,SIS User ID,SIS Login ID,Section,Assignment 1 (12345)\r\nPoints Possible,,,,,10\r\n"
MOODLE_USER_FIELDS = ("Email address", "ID number", "Username")
GRADESCOPE_SAMPLE_HEADER = ("First Name", "Last Name", "Name", "SID", "Email", "Total Score", "Max Points", "Status",
                            "Submission ID", "Submission Time", "Lateness (H:M:S)", "View Count", "Submission Count")


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def check_canvas(text: str) -> list[list[str]]:
    """The rules of Canvas's gradebook import, as its sample shows them; returns the student rows."""
    sample, rows = rows_of(CANVAS_SAMPLE), rows_of(text)
    assert rows[0][:5] == sample[0][:5], "Canvas needs its five identity columns first"
    assert all(re.fullmatch(r".+?( \(\d+\))?", h) for h in rows[0][5:]), "assignment columns: 'Name' or 'Name (id)'"
    assert rows[1][0] == "Points Possible" and rows[1][1:5] == ["", "", "", ""]
    possible = [float(x) for x in rows[1][5:]]
    for row in rows[2:]:
        assert len(row) == len(rows[0])
        assert any(row[1:4]), f"Canvas cannot match {row}: no ID, SIS User ID or SIS Login ID"
        for score, top in zip(row[5:], possible):
            assert score == "" or 0 <= float(score) <= top, row
    return rows[2:]


def test_canvas_export_follows_canvas_import_rules_and_carries_final_totals(tmp_path, capsys):
    out = tmp_path / "grades"
    sample_class(out)
    assert cli_main(["finalize", str(out), "--manual", str(write_manual(tmp_path / "m.csv", MANUAL)),
                     "--assignment", "HW2", "--canvas-assignment-id", "4711"]) == 0
    text = (out / "exports" / "canvas.csv").read_bytes().decode("utf-8")  # as written: RFC 4180 line ends
    assert text.startswith("Student,ID,SIS User ID,SIS Login ID,Section,HW2 (4711)\r\nPoints Possible,,,,,100\r\n")
    students = {r[3]: r for r in check_canvas(text)}
    assert students["alee"] == ["Lee, Alice", "101", "s101", "alee", "A", "87"]
    assert students["bng"][5] == "84" and students["dho"][5] == ""  # failed to load: left for Canvas to keep as is
    assert "1 student without a total left blank (failed to load)" in capsys.readouterr().out


def test_moodle_export_has_a_user_identifier_and_a_numeric_grade_column(tmp_path):
    records = [StudentRecord("a", "graded", total=71.5), StudentRecord("b", "error")]
    entries = [RosterEntry("a", "p", "", (("Email", "a@uni.edu"), ("ID number", "s1"))),
               RosterEntry("b", "p", "", (("Email", "b@uni.edu"), ("ID number", "s2")))]
    rows = rows_of(moodle_csv(records, entries, "Homework 2").text)
    assert rows[0] == ["Email address", "ID number", "Homework 2 (Real)"]
    assert set(rows[0][:2]) <= set(MOODLE_USER_FIELDS)
    assert rows[1:] == [["a@uni.edu", "s1", "71.5"], ["b@uni.edu", "s2", ""]]


def test_gradescope_export_uses_gradescope_columns_and_an_email_on_every_row():
    records = [StudentRecord("a", "graded", total=90.0), StudentRecord("b", "failed to load")]
    entries = [RosterEntry("a", "p", "", (("name", "Ann A"), ("email", "a@uni.edu"), ("sid", "9"))),
               RosterEntry("b", "p", "", (("name", "Ben B"), ("email", "b@uni.edu"), ("sid", "8")))]
    rows = rows_of(gradescope_csv(records, entries, 100.0).text)
    assert set(rows[0]) <= set(GRADESCOPE_SAMPLE_HEADER) and {"Email", "Total Score"} <= set(rows[0])
    by_col = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert all(r["Email"] for r in by_col)
    assert by_col == [{"Name": "Ann A", "SID": "9", "Email": "a@uni.edu", "Total Score": "90", "Max Points": "100",
                       "Status": "Graded"},
                      {"Name": "Ben B", "SID": "8", "Email": "b@uni.edu", "Total Score": "", "Max Points": "100",
                       "Status": "Missing"}]


def test_an_export_the_roster_cannot_support_is_not_written_and_says_why():
    records = [StudentRecord("a", "graded", total=1.0)]
    entries = [RosterEntry("a", "p")]  # only student_id and path: no identifier an LMS matches by
    for export, words in ((canvas_csv(records, entries, "HW2", 100.0), "ID, SIS User ID, SIS Login ID"),
                          (moodle_csv(records, entries, "HW2"), "email address or ID number"),
                          (gradescope_csv(records, entries, 100.0), "matches students by email")):
        assert export.text == "" and words in export.note
