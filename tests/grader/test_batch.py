"""`hw2-grade batch`: grading a class from a roster, locally and on a dask cluster.

The rosters point at real submission folders written here (correct ones in two styles, and broken ones:
a syntax error, missing names, a wrong loss, a wrong initialisation, code that raises on import with HTML
in its message, a folder without code, a missing folder, git repositories) and grade them for real in
sandboxed children, with `--only` set to the items that need no training, so a student takes a few seconds.
Most tests share one 12-student batch graded by the process pool (`class_run`).
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest

from grader import batch
from grader.cli import main as cli_main

QUICK = "5.1.1,5.1.2,5.2.1,5.3.1"  # items probed without training: 14 points
QUICK_POINTS = 14

_NET = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


def _layers(bn):
    n2 = nn.BatchNorm2d if bn else (lambda c: nn.Identity())
    n1 = nn.BatchNorm1d if bn else (lambda c: nn.Identity())
    return [nn.Conv2d(3, 6, 5), n2(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), n2(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), n1(120), nn.ReLU(), nn.Linear(120, 84), n1(84), nn.ReLU(), nn.Linear(84, 10)]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(*_layers(False))

    def forward(self, x):
        return self.layers(x)


class NetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(*_layers(True))

    def forward(self, x):
        return self.layers(x)
'''
_LOSS = '''

def loss_fn(logits, targets):
    return F.cross_entropy(logits, targets)
'''
_INIT = '''

def init_weights(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)
'''
CORRECT = _NET + _LOSS + _INIT
CORRECT_ATTRIBUTES = '''
import math
import torch
from torch import nn
from torch.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class NetBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 6, 5), nn.BatchNorm2d(6)
        self.conv2, self.bn2 = nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16)
        self.fc1, self.bn3 = nn.Linear(400, 120), nn.BatchNorm1d(120)
        self.fc2, self.bn4 = nn.Linear(120, 84), nn.BatchNorm1d(84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = x.flatten(1)
        x = F.relu(self.bn3(self.fc1(x)))
        return self.fc3(F.relu(self.bn4(self.fc2(x))))


def loss_fn(logits, targets):
    return -F.log_softmax(logits, dim=1).gather(1, targets[:, None]).mean()


def init_weights(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_in))
                m.bias.zero_()
'''
WRONG_LOSS = _NET + '''

def loss_fn(logits, targets):
    return F.cross_entropy(logits, targets, reduction="sum")  # a sum, not the mean over the batch
''' + _INIT
WRONG_INIT = _NET + _LOSS + '''

def init_weights(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 1.0)  # variance 1, not 2 / fan_in
            nn.init.zeros_(m.bias)
'''
MISSING_NAMES = _NET.split("class NetBN")[0]  # Net only: no NetBN, loss_fn, init_weights
SYNTAX_ERROR = "import torch\n\nclass Net(torch.nn.Module:\n    pass\n"
EVIL_MESSAGE = "<script>alert('pwned')</script>"
RAISES_ON_IMPORT = f'raise ValueError("{EVIL_MESSAGE}")\n'
UNSAFE_PATH = "<img src=x onerror=alert(1)>"  # a roster path that does not exist; it is quoted in the message

# student id -> (expected status, expected automatic total or None)
EXPECTED = {
    "ok-seq": ("graded", 14), "ok_attr": ("graded", 14), "syntax": ("failed to load", 0),
    "missing.names": ("graded", 3), "wrong-loss": ("graded", 12), "wrong-init": ("graded", 10), "evil": ("failed to load", 0),
    "no-code": ("failed to load", None), "gone": ("failed to load", None), "git-ok": ("graded", 14),
    "git-bad-url": ("failed to load", None), "git-bad-commit": ("failed to load", None),
}


def write_student(root: Path, name: str, source: str | None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    if source is None:
        (folder / "README.txt").write_text("I forgot to upload my code\n")
    else:
        (folder / "submission.py").write_text(source)
    return folder


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", "-c", "user.name=Student", "-c", "user.email=s@example.com", *args], cwd=cwd,
                          check=True, capture_output=True, text=True)
    return done.stdout.strip()


def git_repository(root: Path, name: str) -> tuple[Path, str]:
    """A repository whose commit `good` is a correct submission and whose HEAD is broken: grading at the
    roster's commit must check out `good`."""
    repo = write_student(root, name, CORRECT)
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "solution", cwd=repo)
    good = git("rev-parse", "HEAD", cwd=repo)
    (repo / "submission.py").write_text(SYNTAX_ERROR)
    git("commit", "-q", "-am", "oops", cwd=repo)
    return repo, good


def write_roster(path: Path, rows: list[tuple[str, ...]], header: str = "student_id,path,commit") -> Path:
    lines = [header] + [",".join(_csv_field(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _csv_field(value: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()


def read_gradebook(out: Path, drop: tuple[str, ...] = ("seconds",)) -> list[dict[str, str]]:
    """The students' rows of gradebook.csv (the "Points Possible" row left out)."""
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)
                if row["student_id"] != "Points Possible"]


def grade_files(out: Path, ids) -> dict[str, bytes]:
    return {i: (out / i / "grade.json").read_bytes() for i in ids}


def class_roster(root: Path) -> Path:
    students = root / "students"
    rows: list[tuple[str, ...]] = []
    for sid, source in (("ok-seq", CORRECT), ("ok_attr", CORRECT_ATTRIBUTES), ("syntax", SYNTAX_ERROR),
                        ("missing.names", MISSING_NAMES), ("wrong-loss", WRONG_LOSS), ("wrong-init", WRONG_INIT),
                        ("evil", RAISES_ON_IMPORT), ("no-code", None)):
        write_student(students, sid, source)
        rows.append((sid, f"students/{sid}", ""))  # relative: read from the roster's folder
    repo, good = git_repository(root / "repos", "git-ok")
    rows += [("gone", UNSAFE_PATH, ""), ("git-ok", str(repo), good),
             ("git-bad-url", f"file://{root}/repos/no-such-repo.git", ""), ("git-bad-commit", str(repo), "f" * 40)]
    return write_roster(root / "class.csv", rows)


@pytest.fixture(scope="module")
def class_run(tmp_path_factory) -> tuple[Path, Path, int]:
    """(roster, DIR, exit status) of the 12-student class graded by the local process pool."""
    root = tmp_path_factory.mktemp("class")
    roster = class_roster(root)
    out = root / "out-local"
    code = cli_main(["batch", str(roster), "--out", str(out), "--jobs", "2", "--only", QUICK])
    return roster, out, code


# ----- (a) the executors agree ------------------------------------------------------------------------------
@pytest.mark.slow
def test_class_gradebook_scores_each_student_by_the_rubric(class_run):
    roster, out, code = class_run
    assert code == 0
    rows = {r["student_id"]: r for r in read_gradebook(out)}
    assert list(rows) == list(EXPECTED)  # roster order
    assert list(read_gradebook(out, drop=())[0]) == ["student_id", "5.1.1", "5.1.2", "5.2.1", "5.3.1", "automatic",
                                                     "by_hand", "pending_manual", "late_days", "late_penalty", "total",
                                                     "status", "graded_commit", "message", "late_note", "seconds",
                                                     "reused_runs", "grader_version"]
    for sid, (status, total) in EXPECTED.items():
        assert rows[sid]["status"] == status, (sid, rows[sid])
        assert rows[sid]["total"] == ("" if total is None else str(total)), (sid, rows[sid])
    assert (rows["wrong-loss"]["5.1.2"], rows["wrong-init"]["5.2.1"]) == ("0", "0")
    for sid in ("syntax", "evil"):  # never a green "graded" 0: failed to load, and why
        assert "could not be imported" in json.loads((out / sid / "grade.json").read_text())["message"]
    for sid in EXPECTED:
        record = json.loads((out / sid / "grade.json").read_text())
        assert record["status"] == EXPECTED[sid][0] and record["selected"] == QUICK.split(",")
        assert not (out / sid / batch.CLAIM_FILE).exists()
    for sid in (s for s, (status, _) in EXPECTED.items() if status == "graded"):
        assert {"results.json", "report.html", "badge.svg", "grade.json"} <= {p.name for p in (out / sid).iterdir()}
        assert json.loads((out / sid / "results.json").read_text())["score"] == EXPECTED[sid][1]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_gradebook_as_the_process_pool(class_run, tmp_path, capsys):
    roster, local_out, _ = class_run
    dask_out = tmp_path / "out-dask"
    code = cli_main(["batch", str(roster), "--out", str(dask_out), "--jobs", "2", "--executor", "dask", "--only", QUICK])
    assert code == 0, capsys.readouterr()
    local, dask = read_gradebook(local_out), read_gradebook(dask_out)
    assert len(local) == 12
    assert dask == local


# ----- repositories ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_repository_is_cloned_at_the_roster_commit_without_touching_it(class_run):
    roster, out, _ = class_run
    record = json.loads((out / "git-ok" / "grade.json").read_text())
    repo = Path(record["source"])
    assert record["status"] == "graded" and record["total"] == QUICK_POINTS
    assert record["resolved_commit"] == record["commit"] == git("rev-parse", "HEAD~1", cwd=repo)
    assert (out / ".clones" / "git-ok" / "submission.py").read_text() == CORRECT
    assert (repo / "submission.py").read_text() == SYNTAX_ERROR  # the student's checkout is left as it was
    bad_url = json.loads((out / "git-bad-url" / "grade.json").read_text())
    bad_commit = json.loads((out / "git-bad-commit" / "grade.json").read_text())
    assert "git clone" in bad_url["message"] and "git checkout of " + "f" * 40 in bad_commit["message"]


# ----- (c) resume --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_rerun_skips_graded_students_and_grades_only_new_or_changed_ones(class_run, tmp_path, capsys):
    roster, class_out, _ = class_run
    out = tmp_path / "out"
    shutil.copytree(class_out, out)
    kept = ("ok-seq", "wrong-init")
    before = grade_files(out, kept)
    write_student(tmp_path, "late", CORRECT)
    rows = [(sid, str(roster.parent / "students" / sid), "") for sid in kept] + [("late", str(tmp_path / "late"), "")]
    code = cli_main(["batch", str(write_roster(tmp_path / "r.csv", rows)), "--out", str(out), "--only", QUICK])
    printed = capsys.readouterr().out
    assert code == 0
    assert "grading 1 student (2 already graded, skipped)" in printed
    assert grade_files(out, kept) == before  # not regraded: same run id, same time stamp
    assert [r["student_id"] for r in read_gradebook(out)] == ["ok-seq", "wrong-init", "late"]
    assert read_gradebook(out)[2]["status"] == "graded"

    code = cli_main(["batch", str(write_roster(tmp_path / "one.csv", rows[:1])), "--out", str(out), "--only", QUICK,
                     "--regrade"])
    assert code == 0
    assert json.loads((out / "ok-seq" / "grade.json").read_text())["run_id"] != json.loads(before["ok-seq"])["run_id"]


def test_a_grade_stands_only_for_the_same_source_commit_items_and_seed(tmp_path):
    source = batch.resolve_source("subs/alice", tmp_path)
    assert source == str(tmp_path / "subs" / "alice")
    assert batch.resolve_source(str(tmp_path / "subs" / "alice"), Path("/elsewhere")) == source
    assert batch.resolve_source("git@github.com:alice/hw2.git", tmp_path) == "git@github.com:alice/hw2.git"
    record = batch.StudentRecord("alice", "graded", path="subs/alice", source=source, commit="abc123",
                                 selected=("5.1.2",), seed=0)
    assert record.matches(source, "abc123", ("5.1.2",), 0)
    assert not record.matches(source, "abc123", ("5.1.2", "5.2.1"), 0)
    assert not record.matches(source, "abc123", ("5.1.2",), 1)
    assert not record.matches(source, "def456", ("5.1.2",), 0)
    assert not record.matches(str(tmp_path / "subs" / "bob"), "abc123", ("5.1.2",), 0)
    assert batch.StudentRecord.from_json(record.to_json()) == record


# ----- (b) a worker dies -------------------------------------------------------------------------------------
class _WorkerKiller(threading.Thread):
    """Once a first student is graded, SIGKILLs the worker that most recently started another student."""

    def __init__(self, out: Path, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.out, self.ids = out, ids
        self.victim: str | None = None
        self.first_done: tuple[str, bytes] | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.victim is None:
            graded = [i for i in self.ids if (self.out / i / "grade.json").exists()]
            if graded and self.first_done is None:
                self.first_done = (graded[0], (self.out / graded[0] / "grade.json").read_bytes())
            if self.first_done:
                claims = [(c.get("since", ""), i, c) for i in self.ids
                          if (c := batch.read_claim(self.out / i)).get("state") == "running"
                          and not (self.out / i / "grade.json").exists()]
                if claims:
                    _, sid, claim = max(claims)
                    assert claim["pid"] != os.getpid()
                    os.kill(claim["pid"], signal.SIGKILL)
                    self.victim = sid
                    return
            time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_killed_worker_loses_no_finished_grade_and_a_rerun_grades_only_the_rest(tmp_path, capsys, executor):
    ids = ["s1", "s2", "s3", "s4"]
    rows = [(sid, str(write_student(tmp_path / "students", sid, CORRECT if sid != "s3" else WRONG_LOSS)), "")
            for sid in ids]
    roster = write_roster(tmp_path / "roster.csv", rows)
    out = tmp_path / "out"
    killer = _WorkerKiller(out, ids)
    killer.start()
    code = cli_main(["batch", str(roster), "--out", str(out), "--jobs", "2", "--executor", executor, "--only", "5.1.2"])
    killer.join(timeout=5)
    printed = capsys.readouterr()
    assert killer.victim is not None and killer.first_done is not None
    first, first_bytes = killer.first_done
    statuses = {r["student_id"]: r["status"] for r in read_gradebook(out)}
    assert code == 1, printed
    assert statuses == {sid: "worker died" if sid == killer.victim else "graded" for sid in ids}
    assert (out / first / "grade.json").read_bytes() == first_bytes  # the finished grade is untouched
    survivors = [sid for sid in ids if sid != killer.victim]
    before = grade_files(out, survivors)

    code = cli_main(["batch", str(roster), "--out", str(out), "--jobs", "2", "--executor", executor, "--only", "5.1.2"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "grading 1 student (3 already graded, skipped)" in printed
    assert grade_files(out, survivors) == before
    rows = {r["student_id"]: r for r in read_gradebook(out)}
    assert all(r["status"] == "graded" for r in rows.values())
    assert rows["s3"]["total"] == "0" and rows["s1"]["total"] == "2"


# ----- (d) bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    ("", "is empty"),
    ("id,folder\nalice,a\n", "the header must have the student id column 'student_id' and the path column 'path'"),
    ("student_id,path\n", "lists no students"),
    ("student_id,path\nalice,a\nbob,b\nalice,c\n", "duplicate student id 'alice' (first on line 2)"),
    ("student_id,path\nAlice,a\nalice,b\n", "duplicate student id 'alice'"),
    ("student_id,path\n../x,a\n", "student id '../x' is not allowed"),
    ("student_id,path\n.hidden,a\n", "is not allowed"),
    ("student_id,path\na/b,a\n", "is not allowed"),
    ("student_id,path\n" + "x" * 65 + ",a\n", "at most 64"),
    ("student_id,path\nindex.html,a\n", "name of a file the batch writes"),
    ("student_id,path\nalice,\n", "has no path"),
    ("student_id,path\nalice,a,b,c\n", "expected 2 fields"),
    ("student_id,path,commit\nalice,a,--upload-pack=x\n", "is not a git commit"),
])
def test_bad_roster_gives_one_line_error_and_exit_2(tmp_path, capsys, content, words):
    roster = tmp_path / "roster.csv"
    if content is not None:
        roster.write_text(content)
    code = cli_main(["batch", str(roster), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hw2-grade batch: error: roster ") and words in err, err
    assert not (tmp_path / "out").exists()  # nothing is written for an unusable roster


@pytest.mark.parametrize("args, words", [
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    (["--only", "9.9"], "names no rubric item"),
])
def test_bad_options_give_one_line_error_and_exit_2(tmp_path, capsys, args, words):
    roster = write_roster(tmp_path / "r.csv", [("alice", "a")], header="student_id,path")
    code = cli_main(["batch", str(roster), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err


def test_command_line_reports_a_missing_roster_without_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "grader.cli", "batch", str(tmp_path / "nope.csv"), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2],
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr == f"hw2-grade batch: error: roster {tmp_path / 'nope.csv'} does not exist\n"


def test_second_batch_on_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with batch._lock(out):
        with pytest.raises(batch.BatchError, match="another hw2-grade batch is writing"):
            with batch._lock(out):
                pass


# ----- (e) the class summary ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_index_is_self_contained_links_reports_and_escapes_student_text(class_run):
    roster, out, _ = class_run
    html = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', html)  # the histogram
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from elsewhere
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert policy and "default-src 'none'" in unescape(policy.group(1))  # as the browser reads the attribute
    with_report = {sid for sid, (status, _) in EXPECTED.items() if status == "graded"} | {"no-code", "syntax", "evil"}
    for sid in EXPECTED:
        assert f">{sid}<" in html
        assert (out / sid / "report.html").is_file() == (sid in with_report), sid
        assert (f'<a href="{sid}/report.html">' in html) == (sid in with_report), sid
    assert '<span class="tag ok">graded</span>' in html and '<span class="tag bad">failed to load</span>' in html
    # student-controlled text (a roster path, an exception message) appears escaped, never as markup
    assert UNSAFE_PATH not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert EVIL_MESSAGE not in html and "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "5.2.1" in html and "init_weights variance" in html
    # the instructor's page of reference checks, once beside index.html; every report links to it in one line
    assert (out / "reference.html").is_file() and '<a href="reference.html">' in html
    report = (out / "ok-seq" / "report.html").read_text(encoding="utf-8")
    assert '<a href="../reference.html">' in report and 'id="reference-verified"' not in report


def test_index_escapes_messages_and_counts_pass_rates(tmp_path):
    items = {"5.1.2": batch.ItemScore(2.0, 2.0, "passed")}
    records = [
        batch.StudentRecord("alice", "graded", items=items, total=2.0, max_score=2.0, selected=("5.1.2",),
                            message='<b onmouseover="x()">hi</b> & more'),
        batch.StudentRecord("bob", "graded", items={"5.1.2": batch.ItemScore(0.0, 2.0, "failed")}, total=0.0,
                            max_score=2.0, selected=("5.1.2",)),
        batch.StudentRecord("carl", "worker died", message="</td></tr></table><script>x()</script>"),
    ]
    html = batch.render_index(records, tmp_path / "r.csv", tmp_path, ("5.1.2",), seed=0, n_students=3)
    assert "<script" not in html and "<b onmouseover" not in html
    assert "&lt;b onmouseover=&#34;x()&#34;&gt;hi&lt;/b&gt; &amp; more" in html
    assert "1 / 2" in html and "50%" in html  # one of two graded students has full marks on 5.1.2
    assert "worker died" in html and 'href="alice/report.html"' not in html  # no report on disk: no link


def test_gradebook_has_one_row_per_student_with_blank_scores_when_not_graded():
    items = {"5.1.2": batch.ItemScore(1.5, 2.0, "partial"), "5.1.4": batch.ItemScore(None, 2.0, "pending")}
    records = [batch.StudentRecord("alice", "graded", items=items, total=1.5, max_score=2.0, pending_manual=2.0,
                                   seconds=3.21, reused_runs=2, grader_version="9.9"),
               batch.StudentRecord("bob", "failed to load", seconds=0.0, grader_version="9.9")]
    text = batch.render_gradebook(records, ("5.1.2", "5.1.4"))
    assert text == ("student_id,5.1.2,5.1.4,automatic,by_hand,pending_manual,late_days,late_penalty,total,status,"
                    "graded_commit,message,late_note,seconds,reused_runs,grader_version\n"
                    "Points Possible,2,2,2,2,,,,4,,,,,,,\n"
                    "alice,1.5,,1.5,,2,,,1.5,graded,,,,3.2,2,9.9\n"
                    "bob,,,,,,,,,failed to load,,,,0.0,0,9.9\n")


# ----- the grader's own failures and limits -------------------------------------------------------------------
def _job(out: Path, sid: str, folder: Path, **fields) -> batch.StudentJob:
    return batch.StudentJob(student_id=sid, path=str(folder), source=str(folder), commit="", out=str(out),
                            selected=("5.1.1", "5.1.2"), data=None, seed=0, threads=2, clone_timeout_s=60,
                            run_id="run-1", **fields)


def test_a_grader_error_is_the_graders_and_a_rerun_grades_the_student_again(tmp_path, monkeypatch):
    """A judge that raises: status `error` with the reason, no total counted as 0 for it, and the student is
    not among those a rerun skips."""
    import grader.rubric.public.p5_1_net as judges
    from grader.batch.worker import grade_student

    def broken_judge(ctx):
        raise KeyError("a bug in the grader")

    monkeypatch.setattr(judges, "loss", broken_judge)
    folder = write_student(tmp_path / "students", "alice", CORRECT)
    out = tmp_path / "out"
    record = grade_student(_job(out, "alice", folder))
    assert record.status == "error" and "5.1.2" in record.message and "a bug in the grader" in record.message
    assert record.items["5.1.2"].status == "error" and record.items["5.1.2"].score is None
    assert record.total == 3 and record.max_score == 3  # 5.1.1 only: the error counts in no total
    assert "error" not in batch.DONE_STATUSES and batch.load_record(out / "alice").status == "error"


def test_a_student_past_the_graders_limit_is_timed_out_and_the_class_goes_on(tmp_path):
    from grader.batch.worker import grade_student

    students = tmp_path / "students"
    slow = write_student(students, "slow", CORRECT.replace("        return self.layers(x)\n",
                                                           "        import time\n        time.sleep(600)\n", 1))
    quick = write_student(students, "quick", CORRECT)
    out = tmp_path / "out"
    start = time.monotonic()
    first = grade_student(_job(out, "slow", slow, submission_limit_s=10))
    assert time.monotonic() - start < 45
    second = grade_student(_job(out, "quick", quick, submission_limit_s=10))
    assert first.status == "timed out" and "time limit for one submission" in first.message, first.message
    assert second.status == "graded" and second.total == 5


@pytest.mark.parametrize("path", ["students/alice", "/abs/alice", "file:///srv/alice.git", "git://host/alice.git",
                                  "ext::sh -c touch% /tmp/pwned", "alice.git", "http://host/alice.git"])
def test_remote_only_refuses_anything_but_https_and_ssh(tmp_path, path):
    roster = write_roster(tmp_path / "r.csv", [("ok1", "https://github.com/alice/hw2.git", ""),
                                               ("ok2", "git@github.com:bob/hw2.git", ""),
                                               ("ok3", "ssh://git@host/carol/hw2.git", ""), ("eve", path, "")])
    assert len(batch.read_roster(roster)) == 4  # without the option, the roster is fine
    with pytest.raises(batch.RosterError, match="line 5: .* of 'eve' is not a remote https:// or ssh repository"):
        batch.read_roster(roster, remote_only=True)


def test_remote_only_is_a_command_line_option(tmp_path, capsys):
    roster = write_roster(tmp_path / "r.csv", [("eve", "students/eve", "")])
    assert cli_main(["batch", str(roster), "--out", str(tmp_path / "out"), "--remote-only"]) == 2
    assert "is not a remote https:// or ssh repository" in capsys.readouterr().err


def test_a_small_repository_that_expands_to_gigabytes_is_not_checked_out(tmp_path):
    """One blob of 64 MiB of zeros (a few kB packed) under 40 names: 2.5 GiB if checked out. The tree is
    measured in git's database first, and nothing but .git is written."""
    from grader.batch.fetch import materialise

    repo = tmp_path / "zeros"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    with open(repo / "blob", "wb") as f:
        f.truncate(64 << 20)
    sha = git("hash-object", "-w", "blob", cwd=repo)
    (repo / "blob").unlink()
    for i in range(40):
        git("update-index", "--add", "--cacheinfo", f"100644,{sha},data/zeros{i}.bin", cwd=repo)
    git("commit", "-q", "-m", "zeros", cwd=repo)
    packed = sum(p.stat().st_size for p in (repo / ".git").rglob("*") if p.is_file())
    assert packed < 1 << 20
    out = tmp_path / "out"
    url = f"file://{repo}"
    folder, _, problem = materialise(replace(_job(out, "zeros", repo), path=url, source=url))
    assert folder is None and "expands to 2,684,354,560 bytes" in problem, problem
    clone = out / ".clones" / "zeros"
    assert [p.name for p in clone.iterdir()] == [".git"]
