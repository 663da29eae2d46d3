"""The roster: extra columns kept in order for the gradebook and the exports, the id, path and commit columns
named by options, so that a GitHub Classroom or Canvas roster export is read as it is."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.batch.gradebook import render_gradebook
from grader.batch.records import StudentRecord
from grader.batch.roster import RosterColumns, RosterError, read_roster

# the header of GitHub Classroom's assignment grades export (one row per accepted assignment)
CLASSROOM = ("assignment_name,assignment_url,starter_code_url,github_username,roster_identifier,student_repository_name,"
             "student_repository_url,submission_timestamp,points_awarded,points_available\n"
             "hw2,https://classroom.github.com/a/x,,alice-gh,alice@uni.edu,hw2-alice-gh,https://github.com/course/hw2-alice-gh,"
             "2026-03-14T10:00:00Z,,\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_columns_are_kept_in_order_and_reach_the_gradebook(tmp_path):
    roster = write(tmp_path, "Name,student_id,Email,path,Section,commit\n"
                             "\"Lee, Alice\",alice,alice@uni.edu,subs/alice,A,abc123\n"
                             "Bob Ng,bob,bob@uni.edu,subs/bob,B\n")  # a trailing field left out: an empty commit
    entries = read_roster(roster)
    assert [(e.student_id, e.path, e.commit) for e in entries] == [("alice", "subs/alice", "abc123"), ("bob", "subs/bob", "")]
    assert entries[0].extra == (("Name", "Lee, Alice"), ("Email", "alice@uni.edu"), ("Section", "A"))
    assert entries[1].column("email") == "bob@uni.edu"
    book = render_gradebook([StudentRecord("alice", "graded", total=1.0), StudentRecord("bob", "error")], ("5.1.2",), entries)
    lines = book.splitlines()
    assert lines[0].startswith("student_id,Name,Email,Section,5.1.2,")
    assert lines[2].startswith('alice,"Lee, Alice",alice@uni.edu,A,,') and lines[3].startswith("bob,Bob Ng,bob@uni.edu,B,")


def test_a_github_classroom_export_is_read_as_it_is_with_column_options(tmp_path):
    roster = write(tmp_path, CLASSROOM)
    columns = RosterColumns(id="github_username", path="student_repository_url")
    [entry] = read_roster(roster, columns)
    assert (entry.student_id, entry.path, entry.commit) == ("alice-gh", "https://github.com/course/hw2-alice-gh", "")
    assert entry.column("submission_timestamp") == "2026-03-14T10:00:00Z"
    with pytest.raises(RosterError, match="the header must have the student id column 'student_id' and the path column "
                                          "'path' .* --id-column / --path-column"):
        read_roster(roster)


def test_a_roster_column_named_like_a_gradebook_column_is_prefixed(tmp_path):
    roster = write(tmp_path, "student_id,path,total,status\nalice,a,97,enrolled\n")
    entries = read_roster(roster)
    header = render_gradebook([StudentRecord("alice", "graded", total=2.0)], ("5.1.2",), entries).splitlines()[0]
    assert header.startswith("student_id,roster total,roster status,5.1.2,") and header.count(",total,") == 1


@pytest.mark.parametrize("text, words", [
    ("student_id,path,Email,email\nalice,a,x,y\n", "names the column 'email' twice"),
    ("student_id,path,\nalice,a,x\n", "a column of the header has no name"),
    ("student_id,path,name\nalice,a,x,y\n", "expected 3 fields"),
    ("student_id\nalice\n", "the path column 'path'"),
])
def test_bad_headers_and_rows_are_one_clear_line(tmp_path, text, words):
    with pytest.raises(RosterError) as e:
        read_roster(write(tmp_path, text))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_id_and_path_must_be_different_columns(tmp_path):
    with pytest.raises(RosterError, match="must be different columns"):
        read_roster(write(tmp_path, "student_id,path\nalice,a\n"), RosterColumns(id="path", path="path"))
