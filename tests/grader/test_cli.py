"""The `hw2-grade` command as a user runs it: clear one-line errors for bad input (exit 2, no traceback),
an interrupted grade that writes nothing (exit 130), a grade the grader could not complete that says so
(exit 3), and a full grade of the reference (or a copy of it) that earns every automatic point and renders in
a real browser."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.grade import bundled_reference
from grader.rubric.items import RUBRIC


def hw2_grade(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def _no_traceback(p: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in p.stderr + p.stdout


def test_missing_submission_folder_is_a_clear_error(tmp_path):
    p = hw2_grade(str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert p.returncode == 2
    assert "does not exist" in p.stderr
    _no_traceback(p)


def test_unknown_rubric_item_is_a_clear_error(tmp_path):
    p = hw2_grade(str(tmp_path), "--out", str(tmp_path / "out"), "--only", "7.1")
    assert p.returncode == 2
    assert "'7.1' names no rubric item" in p.stderr
    _no_traceback(p)


def test_missing_data_says_where_it_looked_and_how_to_fix(tmp_path):
    p = hw2_grade(str(tmp_path), "--out", str(tmp_path / "out"), "--only", "5.1.3",
                  env={"HW2_CIFAR10": str(tmp_path / "missing.zip")})
    assert p.returncode == 2
    assert str(tmp_path / "missing.zip") in p.stderr and "HW2_CIFAR10" in p.stderr and "--data" in p.stderr
    _no_traceback(p)


def test_corrupt_data_is_a_clear_error(tmp_path):
    bad = tmp_path / "cifar.zip"
    bad.write_bytes(b"this is not a zip file")
    p = hw2_grade(str(tmp_path), "--out", str(tmp_path / "out"), "--only", "5.3.2", "--data", str(bad))
    assert p.returncode == 2
    assert "not usable" in p.stderr and str(bad) in p.stderr
    _no_traceback(p)


def test_empty_folder_is_graded_with_zero_and_a_message(tmp_path):
    (tmp_path / "empty").mkdir()
    p = hw2_grade(str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--only", "5.1.1,5.1.2,4.1")
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # stderr is a pipe, not a terminal: no progress line
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["score"] == 0
    outputs = {t["number"]: t["output"] for t in results["tests"]}
    assert "no submission.py and no .ipynb notebook" in outputs["5.1.1"]
    assert "no answers.toml" in outputs["4.1"]


@pytest.mark.slow
@pytest.mark.browser
def test_reference_earns_every_automatic_point_and_its_report_renders(tmp_path):
    out = tmp_path / "out"
    p = hw2_grade(str(bundled_reference()), "--out", str(out))
    assert p.returncode == 0, p.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    automatic = [i for i in RUBRIC if not i.manual]
    assert len(results["tests"]) == len(automatic)
    lost = [t for t in results["tests"] if t["score"] != t["max_score"]]
    assert not lost, lost
    assert results["score"] == sum(i.points for i in automatic)
    badge = (out / "badge.svg").read_text()
    bonus = sum(i.points for i in automatic if i.bonus)
    regular = sum(i.points for i in automatic if not i.bonus)
    manual = sum(i.points for i in RUBRIC if i.manual)
    assert f"hw2 grade: {regular}/{regular} +{bonus}, {manual} pending</title>" in badge, badge
    html = (out / "report.html").read_text()
    assert 'id="total-score"' in html and 'id="filters"' in html and 'id="curves"' in html

    from tests.grader.test_report_browser import CHROMIUM, _chromium

    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed")
    png = tmp_path / "reference.png"
    _chromium(tmp_path, f"--screenshot={png}", (out / "report.html").as_uri())
    dom = _chromium(tmp_path, "--dump-dom", (out / "report.html").as_uri()).stdout
    assert "automatic points" in dom
    assert dom.count("data:image/png;base64,") >= 2  # the curves and the filters
    assert png.stat().st_size > 20_000
    if os.environ.get("HW2_SCREENSHOT_DIR"):
        import shutil

        shutil.copy(png, Path(os.environ["HW2_SCREENSHOT_DIR"]) / "reference-report.png")


# --- what a user sees on the command line ------------------------------------------------------------------

def _one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode == 2, (p.returncode, p.stderr)
    _no_traceback(p)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 200, p.stderr
    return lines[0]


def test_unknown_command_names_the_commands(tmp_path):
    line = _one_line_error(hw2_grade("grdae", "--out", str(tmp_path)))
    assert line.startswith("hw2-grade: error: unknown command: grdae (commands: calibrate, batch, export-student, ")
    assert "unrecognized arguments" not in line


@pytest.mark.parametrize("argv", [
    ["SUB", "--out", "OUT", "--bogus"],  # argparse's "unrecognized arguments", with its usage block
    ["SUB"],  # a required option missing
    ["batch", "ROSTER", "--out", "OUT", "--jobs", "0"],
    ["batch", "--out", "OUT"],
    ["init-ci", "OUT/nowhere"],
    ["calibrate", "--seeds", "8"],  # --out is required: calibrate never writes into the package by default
    ["verify-reference"],
])
def test_every_command_line_error_is_one_line_under_200_characters(argv, tmp_path, capsys):
    """In the process, as `hw2-grade` calls it (main(argv)): argparse exits, our checks return 2."""
    from grader.cli import main

    (tmp_path / "roster.csv").write_text("student_id,path\nalice,alice\n")
    argv = [a.replace("SUB", str(tmp_path)).replace("ROSTER", str(tmp_path / "roster.csv"))
            .replace("OUT", str(tmp_path / "out")) for a in argv]
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and len(err[0]) <= 200 and ": error: " in err[0], err


def test_corrupt_data_file_is_named_and_going_online_is_not_suggested(tmp_path):
    bad = tmp_path / "cifar.zip"
    bad.write_bytes(b"this is not a zip file")
    line = _one_line_error(hw2_grade(str(tmp_path), "--out", str(tmp_path / "out"), "--only", "5.1.3", "--data", str(bad)))
    assert str(bad) in line and "not usable" in line
    assert "online" not in line and "internet" not in line and "download" not in line


@pytest.mark.slow
def test_a_single_grade_shows_item_phase_and_time_on_a_terminal_unless_quiet(tmp_path):
    """Under a pseudo-terminal the grade shows a live line (item, phase, elapsed h:mm:ss), also while pytest
    runs the judges (its capture moves file descriptor 2); with --quiet it shows nothing. (Not on a terminal:
    test_empty_folder_is_graded_with_zero_and_a_message.) Two grades of two quick items: about 30 s."""
    import pty
    import re
    import select
    import shutil

    from tests.corpus.attacks import BASE

    folder = tmp_path / "alice"
    folder.mkdir()
    shutil.copy(BASE, folder / "submission.py")

    def run(*extra: str, tty: bool) -> tuple[str, str]:
        args = [sys.executable, "-m", "grader.cli", str(folder), "--out", str(tmp_path / "out"), "--only", "5.1.1,5.1.2",
                "--no-verify", *extra]
        if not tty:
            p = subprocess.run(args, capture_output=True, text=True, timeout=300)
            assert p.returncode == 0, p.stderr
            return p.stdout, p.stderr
        master, slave = pty.openpty()
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "COLUMNS": "160"})
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif p.poll() is not None:
                break
        os.close(master)
        out = p.stdout.read().decode()
        assert p.wait(timeout=300) == 0
        return out, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode("utf-8", "replace"))

    _, shown = run(tty=True)
    assert "5.1.1 Net architecture" in shown and "5.1.2" in shown  # the items, as they are judged
    assert "quick checks of the code in a sandbox" in shown  # the phase
    assert re.search(r"\d:\d\d:\d\d", shown)  # elapsed time
    out, quiet = run("--quiet", tty=True)
    assert quiet == "" and "5.1.2" in out and out.rstrip().endswith("report.html")  # the summary only


def test_empty_only_is_a_clear_error_not_a_full_grade(tmp_path):
    p = hw2_grade(str(tmp_path), "--out", str(tmp_path / "out"), "--only", "")
    assert p.returncode == 2
    assert "--only: no rubric item given" in p.stderr
    assert not (tmp_path / "out" / "results.json").exists()
    _no_traceback(p)


def test_sigint_during_a_grade_exits_130_and_writes_nothing(tmp_path):
    """Ctrl-C (and a cancelled CI job's SIGINT) while a child runs the submission: no results.json, report
    or badge that a later step could publish, exit 130, and no child left running."""
    from grader.sandbox.process import marked_processes
    from tests.corpus import attacks

    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "submission.py").write_text(attacks.BASE.read_text().replace(
        attacks.NET_FORWARD, "        import time\n        time.sleep(600)\n\n\nclass NetBN"))
    out = tmp_path / "out"
    # Ctrl-C reaches a command run in the foreground of a terminal; a suite started in the background (`cmd &`
    # in a script) has SIGINT ignored, which its children would inherit: the grader starts as a terminal's would
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", str(folder), "--out", str(out), "--only", "5.1.1",
                             "--no-verify"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not marked_processes(f"{proc.pid}-") and time.monotonic() < deadline:  # a child is grading
        time.sleep(0.2)
    assert marked_processes(f"{proc.pid}-"), "no sandboxed child started"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr + stdout
    assert not out.exists() or not list(out.iterdir()), list(out.iterdir())
    time.sleep(0.2)
    assert not marked_processes(f"{proc.pid}-"), "a sandboxed child outlived the interrupted grade"


def test_a_grader_failure_makes_the_grade_incomplete_exit_3(tmp_path, monkeypatch, capsys):
    """A judge that raises (a bug of the grader's) is the grader's failure: status error, no score, counted in
    no total, exit 3, and a badge that says "incomplete" instead of a score."""
    import grader.rubric.public.p5_1_net as judges
    from grader.cli import main
    from tests.corpus import attacks

    def broken_judge(ctx):
        raise ZeroDivisionError("a bug in the grader")

    monkeypatch.setattr(judges, "loss", broken_judge)
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "submission.py").write_text(attacks.BASE.read_text())
    out = tmp_path / "out"
    code = main([str(folder), "--out", str(out), "--only", "5.1.2,4.1", "--no-verify"])
    assert code == 3
    results = json.loads((out / "results.json").read_text())
    error = next(t for t in results["tests"] if t["number"] == "5.1.2")
    assert "score" not in error and "[error] the grader could not check this item" in error["output"]
    assert "ZeroDivisionError: a bug in the grader" in error["output"]
    assert results["score"] == 0 and "INCOMPLETE" in results["output"]  # 4.1 (no answers.toml) scored 0
    assert "<title>hw2 grade: incomplete</title>" in (out / "badge.svg").read_text()
    assert "Incomplete grade" in (out / "report.html").read_text()
    assert "INCOMPLETE" in capsys.readouterr().out


def test_a_copy_of_the_bundled_reference_grades_as_the_reference(tmp_path):
    """`cp -r solutions/reference somewhere` is graded like the bundled reference (it imports `solutions`,
    which every sandbox hides, so the copy gets it in its scratch as the bundled one does)."""
    import shutil

    copy = tmp_path / "somewhere"
    shutil.copytree(bundled_reference(), copy)
    out = tmp_path / "out"
    p = hw2_grade(str(copy), "--out", str(out), "--only", "1.1,1.2,2.1,4.1,5.1.2", "--no-verify")
    assert p.returncode == 0, p.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert [t["score"] for t in results["tests"]] == [t["max_score"] for t in results["tests"]], results["tests"]
