"""The instructor's whole workflow, end to end and for real: a roster exported from Canvas (with a path column
added) -> `hw2-grade batch` grades a small class in sandboxed children -> the TA grades the manual items in
`manual.html` in Chromium (Playwright) and exports manual.csv -> `hw2-grade finalize` merges it with a late
policy -> the final totals agree in gradebook.csv, the Canvas export, every student's results.json and report,
and the class page names the defect found.

The class: a correct submission (a git repository), a buggy one (loss summed over the batch, wrong G_3, one day
late), one with a syntax error, and one without answers.toml. Graded with `--only` items that need no training
(2.1, 5.1.2, 5.2.1 automatic: 16 points; 2.2, 5.1.4, 5.2.3 by hand: 15 points): the point here is the
workflow, and training is covered by tests/grader/test_grade.py. Measured on this project's 2-core machine
while other sessions loaded it: 27 s at load average 5, 37-48 s at 7-8, most of it the four grades."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from grader.cli import main as cli_main
from tests.grader.batch.test_manual_page import score_box
from tests.grader.browser import chromium, needs_chromium, watched_page
from tests.grader.html_tools import text_of
from tests.grader.test_batch import CORRECT_ATTRIBUTES, SYNTAX_ERROR, WRONG_LOSS

pytestmark = [pytest.mark.slow, *needs_chromium]
ONLY = "2.1,2.2,5.1.2,5.1.4,5.2.1,5.2.3"
ANSWERS = '''[problem2]
G_3 = "{g3}"
reasons = """1. The same F (the same weights) is applied at every step, whatever t.
2. h_t has a fixed size, so the model does not grow with t."""

[problem5]
analysis = """Weight decay narrowed the gap between train and test accuracy."""
proofs = """Var[y] = n Var[w x] = n Var[w] E[x^2] because E[w] = 0; E[x^2] = Var[y_prev] / 2 by symmetry."""
'''
RIGHT_G3, WRONG_G3 = "F(F(F(h0, x1), x2), x3)", "F(h0, x3)"
DEADLINE, COMMITTED = "2026-03-14T15:30+08:00", "2026-03-14T12:00:00+08:00"
# student -> (Canvas columns, code, answers.toml or None)
CLASS = {
    "correct": (("Chan, Ann", "9001", "s1001", "achan", "L1"), CORRECT_ATTRIBUTES, RIGHT_G3),
    "buggy": (("Lam, Ben", "9002", "s1002", "blam", "L1"), WRONG_LOSS, WRONG_G3),
    "syntax": (("Ma, Cat", "9003", "s1003", "cma", "L2"), SYNTAX_ERROR, RIGHT_G3),
    "noanswers": (("Ng, Dan", "9004", "s1004", "dng", "L2"), CORRECT_ATTRIBUTES, None),
}
HAND = {  # what the TA types into manual.html ("" leaves the item pending)
    ("correct", "2.2"): "9", ("correct", "5.1.4"): "2", ("correct", "5.2.3"): "3",
    ("buggy", "2.2"): "5", ("buggy", "5.1.4"): "1", ("buggy", "5.2.3"): "0",
    ("syntax", "2.2"): "10", ("syntax", "5.1.4"): "0", ("syntax", "5.2.3"): "2",
    ("noanswers", "2.2"): "0", ("noanswers", "5.1.4"): "0", ("noanswers", "5.2.3"): "",
}
# automatic (2.1 + 5.1.2 + 5.2.1) + by hand - late penalty = total; pending by hand
EXPECTED = {"correct": (16, 14, 0, 30, 0), "buggy": (4, 6, 1, 9, 0), "syntax": (10, 12, 0, 22, 0),
            "noanswers": (6, 0, 0, 6, 3)}


def write_class(root: Path) -> Path:
    rows = []
    for sid, (canvas, code, g3) in CLASS.items():
        folder = root / "submissions" / sid
        folder.mkdir(parents=True)
        (folder / "submission.py").write_text(code)
        if g3 is not None:
            (folder / "answers.toml").write_text(ANSWERS.format(g3=g3))
        late_days = {"buggy": "1", "correct": ""}.get(sid, "0")  # correct: lateness from its commit's date
        rows.append([*canvas, f"{sid}@uni.edu", sid, f"submissions/{sid}", late_days])
    repo = root / "submissions" / "correct"
    dated = {**os.environ, "GIT_AUTHOR_DATE": COMMITTED, "GIT_COMMITTER_DATE": COMMITTED}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "hw2"]):
        subprocess.run(["git", "-c", "user.name=Ann", "-c", "user.email=a@uni.edu", *args], cwd=repo, check=True, env=dated)
    roster = root / "canvas-roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Email", "login", "folder",
                                  "late_days"], *rows])
    return roster


def grade_by_hand(out: Path) -> str:
    """The TA's session in manual.html; returns the exported manual.csv."""
    with chromium() as browser:
        page = watched_page(browser.new_context(accept_downloads=True))
        page.goto((out / "manual.html").as_uri())
        for (sid, item), score in HAND.items():
            score_box(page, item, sid).fill(score)
        page.locator("[data-student=buggy][data-item='2.2'] textarea").fill("One reason only; see lecture 7.")
        with page.expect_download() as download:
            page.click("#export")
        assert not page.problems, page.problems
        return Path(download.value.path()).read_text(encoding="utf-8")


def test_grade_a_class_grade_by_hand_in_chromium_merge_and_export(tmp_path, capsys):
    roster = write_class(tmp_path)
    out = tmp_path / "grades"
    code = cli_main(["batch", str(roster), "--out", str(out), "--jobs", "1", "--only", ONLY, "--id-column", "login",
                     "--path-column", "folder"])
    assert code == 0, capsys.readouterr()
    manual = grade_by_hand(out)
    assert manual.count("\n") == 1 + sum(1 for s in HAND.values() if s)  # header + every score typed
    (tmp_path / "manual.csv").write_text(manual, encoding="utf-8")
    code = cli_main(["finalize", str(out), "--manual", str(tmp_path / "manual.csv"), "--deadline", DEADLINE,
                     "--late-penalty", "10", "--assignment", "HW2"])
    assert code == 0, capsys.readouterr().err

    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        book = {r["student_id"]: r for r in csv.DictReader(f)}
    assert (book["Points Possible"]["automatic"], book["Points Possible"]["by_hand"], book["Points Possible"]["total"]) == \
        ("16", "15", "31")
    canvas = {r[3] or r[0]: r for r in csv.reader(io.StringIO((out / "exports" / "canvas.csv").read_bytes().decode()))}
    assert canvas["Points Possible"][5] == "31"
    for sid, (automatic, hand, late_days, total, pending) in EXPECTED.items():
        row = book[sid]
        assert (row["automatic"], row["by_hand"], row["late_days"], row["total"], row["pending_manual"]) == \
            tuple(str(x) for x in (automatic, hand, late_days, total, pending)), (sid, row)
        assert canvas[CLASS[sid][0][3]][5] == str(total)
        results = json.loads((out / sid / "results.json").read_text())
        assert results["score"] == pytest.approx(total), sid
        regular = f"{total:.1f} / {16 + 15 - pending}"
        assert text_of((out / sid / "report.html").read_text(), "total-score").startswith(regular), sid
    assert book["buggy"]["5.1.2"] == "0" and book["buggy"]["late_penalty"] == "1"  # 10% of 10 points for one day
    assert "could not be imported" in book["syntax"]["message"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path / "submissions" / "correct", capture_output=True,
                          text=True, check=True).stdout.strip()
    assert book["correct"]["graded_commit"] == head and "commit dates are set by the student" in book["correct"]["late_note"]
    assert book["correct"]["Student"] == "Chan, Ann" and book["noanswers"]["Email"] == "noanswers@uni.edu"
    buggy = (out / "buggy" / "report.html").read_text()
    assert "One reason only; see lecture 7." in buggy and "1 day late (roster column late_days)" in text_of(buggy, "late-policy")
    index = (out / "index.html").read_text()
    assert "loss summed over the batch instead of averaged: 1 student (buggy)" in text_of(index, "insight-5.1.2")
