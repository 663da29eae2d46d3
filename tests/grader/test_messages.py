"""grader/messages.py: one-line messages; counts with the right plural."""
from __future__ import annotations

import pytest

from grader.messages import ArgumentParser, fail, one_line, plural


def test_plural_says_1_student_and_2_students():
    assert [plural(n, "student") for n in (0, 1, 2)] == ["0 students", "1 student", "2 students"]
    assert plural(1, "child", "children") == "1 child" and plural(3, "child", "children") == "3 children"


def test_a_message_is_one_line_and_keeps_every_word():
    text = one_line("git clone failed:\n  fatal: repository not found\n")
    assert text == "git clone failed: fatal: repository not found"


def test_fail_prints_one_line_and_returns_2(capsys):
    assert fail("no roster\nhere", prog="hw2-grade batch") == 2
    assert capsys.readouterr().err == "hw2-grade batch: error: no roster here\n"


def test_argparse_errors_are_one_line_pointing_at_help(capsys):
    parser = ArgumentParser(prog="hw2-grade demo")
    parser.add_argument("--out", required=True)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--bogus"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("hw2-grade demo: error: ") and err.rstrip().endswith("(see hw2-grade demo --help)")
