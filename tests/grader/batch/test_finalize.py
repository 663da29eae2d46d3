"""`hw2-grade finalize`: hand-given scores merged into results.json, report, badge, grade.json and the gradebook;
a bad manual CSV refused whole; a rerun with an edited CSV is a regrade the report describes; the late policy.
The batch folder is written by the real writers (tests/grader/batch/class_folder.py), without grading."""
from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.cli import main as cli_main
from tests.grader.batch.class_folder import sample_class, write_class
from tests.grader.html_tools import text_of
from tests.grader.sample_results import sample_grade_result

MANUAL = [("alice", "2.2", "8", "Clear, <b>two</b> reasons"), ("alice", "5.1.4", "2", ""), ("alice", "5.2.3", "3", ""),
          ("bob", "5.1.3", "3", "checked the curves: it trains"), ("bob", "2.2", "10", "")]


def write_manual(path: Path, rows, header=("student_id", "item", "score", "comment")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def finalized(tmp_path, capsys):
    out = tmp_path / "grades"
    sample_class(out)
    code = cli_main(["finalize", str(out), "--manual", str(write_manual(tmp_path / "manual.csv", MANUAL))])
    assert code == 0, capsys.readouterr().err
    return out


def test_hand_scores_replace_pending_in_results_report_badge_and_gradebook(finalized):
    out = finalized
    results = json.loads((out / "alice" / "results.json").read_text())
    # sample: 70 of the 85 regular automatic points and 4 bonus; by hand 8 + 2 + 3 of 15
    assert results["score"] == pytest.approx(70 + 4 + 13)
    tests = {t["number"]: t for t in results["tests"]}
    assert tests["2.2"]["score"] == 8 and tests["2.2"]["max_score"] == 10 and "Clear, <b>two</b> reasons" in tests["2.2"]["output"]
    assert "Still pending" not in results["output"]
    report = (out / "alice" / "report.html").read_text()
    assert "&lt;b&gt;two&lt;/b&gt;" in report and "<b>two</b>" not in report  # the comment is text, never markup
    assert "83.0 / 100 points, automatic and graded by hand" in text_of(report, "total-score")
    assert text_of(report, "hand-score").startswith("13 points")
    assert text_of(report, "pending-manual").startswith("0")
    badge = ET.fromstring((out / "alice" / "badge.svg").read_text()).find("{http://www.w3.org/2000/svg}title").text
    assert badge == "hw2 grade: 83/100 +4"
    record = json.loads((out / "alice" / "grade.json").read_text())
    assert record["hand_total"] == 13 and record["total"] == 87 and record["pending_manual"] == 0
    row = gradebook(out)["alice"]
    assert (row["2.2"], row["automatic"], row["by_hand"], row["pending_manual"], row["total"]) == ("8", "74", "13", "0", "87")
    assert row["Student"] == "Lee, Alice" and row["SIS Login ID"] == "alee" and row["graded_commit"] == "ab" * 20


def test_a_confirmed_review_item_counts_and_the_rest_stays_pending(finalized):
    out = finalized
    bob = json.loads((out / "bob" / "grade.json").read_text())
    # 5.1.3 was sent for review (0 points): the TA confirms 3; with 2.2 = 10, 5.1.4 and 5.2.3 still pending
    assert bob["items"]["5.1.3"] == {"score": 3.0, "max_score": 3.0, "status": "passed", "diagnoses": [],
                                     "hand_graded": True, "comment": "checked the curves: it trains"}
    assert bob["total"] == pytest.approx(67 + 4 + 13) and bob["pending_manual"] == 5
    feedback = json.loads((out / "bob" / "results.json").read_text())
    test = next(t for t in feedback["tests"] if t["number"] == "5.1.3")
    assert test["output"].startswith("[scored by hand; as measured it would have earned 3]")
    assert "0 until confirmed" not in test["output"]
    assert gradebook(out)["dora"]["status"] == "failed to load" and gradebook(out)["dora"]["total"] == ""


def test_bad_manual_csv_gives_one_line_per_problem_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "grades"
    sample_class(out)
    before = snapshot(out)
    rows = [("alice", "2.2", "8", ""), ("zed", "2.2", "3", ""), ("alice", "1.1", "5", ""), ("bob", "5.1.4", "2.5", ""),
            ("alice", "2.2", "7", ""), ("carl", "5.2.3", "three", ""), ("dora", "2.2", "4", ""), ("carl", "9.9", "1", "")]
    code = cli_main(["finalize", str(out), "--manual", str(write_manual(tmp_path / "manual.csv", rows))])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err == [
        "hw2-grade finalize: error: manual.csv line 3: unknown student 'zed' (not on the roster of this batch)",
        "hw2-grade finalize: error: manual.csv line 4: item '1.1' cannot be graded by hand for 'alice' (items open to "
        "hand grading: 2.2, 5.1.4, 5.2.3)",
        "hw2-grade finalize: error: manual.csv line 5: score 2.5 of item 5.1.4 is out of range 0..2",
        "hw2-grade finalize: error: manual.csv line 6: duplicate row for student 'alice' item '2.2' (first on line 2)",
        "hw2-grade finalize: error: manual.csv line 7: score 'three' is not a number",
        "hw2-grade finalize: error: manual.csv line 8: student 'dora' has no grade to add to (status failed to load); "
        "grade them first",
        "hw2-grade finalize: error: manual.csv line 9: item '9.9' cannot be graded by hand for 'carl' (items open to "
        "hand grading: 2.2, 5.1.4, 5.2.3)",
    ]
    assert snapshot(out) == before  # nothing half-written


@pytest.mark.parametrize("content, words", [
    ("", "manual.csv is empty"),
    ("id,question,points\nalice,2.2,1\n", "the header must be student_id,item,score,comment"),
    ("student_id,item,score,comment\nalice,2.2\n", "expected 4 fields"),
    (b"student_id,item,score\nalice,2.2,\xff\n", "is not UTF-8 text"),
])
def test_unreadable_manual_csv_is_one_clear_line(tmp_path, capsys, content, words):
    out = tmp_path / "grades"
    sample_class(out)
    path = tmp_path / "manual.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert cli_main(["finalize", str(out), "--manual", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


def test_finalize_outside_a_batch_folder_says_what_to_give(tmp_path, capsys):
    assert cli_main(["finalize", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no class.json: give the --out folder of `hw2-grade batch`" in err


def test_rerun_with_an_edited_csv_is_a_regrade_that_the_report_names(finalized, tmp_path, capsys):
    out = finalized
    capsys.readouterr()
    edited = [r for r in MANUAL if r[:2] != ("alice", "5.1.4")]
    edited = [("alice", "2.2", "6", r[3]) if r[:2] == ("alice", "2.2") else r for r in edited]
    edited = [("bob", "2.2", "10", "see the lecture notes") if r[:2] == ("bob", "2.2") else r for r in edited]
    assert cli_main(["finalize", str(out), "--manual", str(write_manual(tmp_path / "edited.csv", edited))]) == 0
    printed = capsys.readouterr().out
    assert "regraded alice: 2.2: 8 -> 6; 5.1.4: 2 -> pending" in printed
    assert "regraded bob: 2.2: comment changed" in printed and "carl" not in printed.split("gradebook:")[0]
    assert text_of((out / "alice" / "report.html").read_text(), "regrade") == \
        "Changed since the last merge: 2.2: 8 -> 6; 5.1.4: 2 -> pending"
    assert json.loads((out / "alice" / "grade.json").read_text())["total"] == pytest.approx(70 + 4 + 6 + 3)
    assert gradebook(out)["alice"]["pending_manual"] == "2"


def test_late_policy_takes_a_share_of_the_earned_points_per_late_day(tmp_path, capsys):
    out = tmp_path / "grades"
    result = sample_grade_result()
    write_class(out, {"ontime": result, "late": result, "committed": result},
                extra={"late": ("", "", "", "", "", "", "2")},
                commit_time={"committed": "2026-03-16T09:00:00+08:00", "ontime": "2026-03-14T15:00:00+08:00"})
    code = cli_main(["finalize", str(out), "--deadline", "2026-03-14T15:30+08:00", "--late-penalty", "10"])
    assert code == 0, capsys.readouterr().err
    book = gradebook(out)
    # 74 points earned each (bonus included); 2 late days from the roster: 20% off; the commit 1 day 17.5 h late: 2 days
    assert (book["late"]["late_days"], book["late"]["late_penalty"], book["late"]["total"]) == ("2", "14.8", "59.2")
    assert (book["committed"]["late_days"], book["committed"]["total"]) == ("2", "59.2")
    assert (book["ontime"]["late_days"], book["ontime"]["late_penalty"], book["ontime"]["total"]) == ("0", "0", "74")
    note = text_of((out / "committed" / "report.html").read_text(), "late-policy")
    assert "2 days late" in note and "commit dates are set by the student" in note and "14.8 points taken off" in note
    assert "roster column late_days" in book["late"]["late_note"]
    assert json.loads((out / "late" / "results.json").read_text())["score"] == pytest.approx(59.2)


def test_a_bad_deadline_or_late_value_is_refused(tmp_path, capsys):
    out = tmp_path / "grades"
    write_class(out, {"x": sample_grade_result()}, extra={"x": ("", "", "", "", "", "", "soon")})
    assert cli_main(["finalize", str(out), "--deadline", "2026-03-14T15:30", "--late-penalty", "10"]) == 2
    assert "has no time zone" in capsys.readouterr().err
    assert cli_main(["finalize", str(out), "--deadline", "2026-03-14T15:30Z"]) == 2
    assert "--deadline and --late-penalty go together" in capsys.readouterr().err
    before = snapshot(out)
    assert cli_main(["finalize", str(out), "--deadline", "2026-03-14T15:30Z", "--late-penalty", "10"]) == 2
    assert "roster column 'late_days' of 'x' must be a whole number of days >= 0, got 'soon'" in capsys.readouterr().err
    assert snapshot(out) == before
