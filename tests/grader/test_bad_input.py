"""Submissions that are broken rather than hostile: each is graded to a full result, the item the problem
belongs to says what went wrong in words a student can act on (the test checks the words, not only the
score), and the other items are graded normally."""
from __future__ import annotations

import os
import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
import pytest

from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from grader.sandbox.limits import Limits
from grader.sandbox.tree import remove_tree
from tests.conftest import item
from tests.corpus import attacks
from tests.grader.test_attacks import small_calibration

BASE = attacks.BASE.read_text()


def edited(*edits: tuple[str, str]) -> str:
    source = BASE
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


def in_net_forward(body: str) -> str:
    return edited((attacks.NET_FORWARD, "\n".join("        " + ln for ln in body.strip().splitlines()) + "\n\n\nclass NetBN"))


def line_of(source: str, text: str) -> int:
    return source[: source.index(text)].count("\n") + 1


SYNTAX = edited(("def loss_fn(logits, targets):", "def loss_fn(logits, targets:"))
WITHOUT_NETBN = BASE[: BASE.index("class NetBN")] + BASE[BASE.index("def init_weights"):]
JUNK = bytes(random.Random(0).randrange(256) for _ in range(4000)) + b"\x00"
LONG_LINE = BASE + "\n_TABLE = [" + ", ".join(["0"] * 400_000) + "]\n"


def notebook(cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def sparse_answers(folder: Path) -> None:
    """answers.toml of 4 GiB that occupies no disk: reading it would cost the grader 4 GiB."""
    with open(folder / "answers.toml", "wb") as f:
        f.truncate(4 << 30)


def fifo_answers(folder: Path) -> None:
    """answers.toml is a FIFO that nobody writes: opening it for reading blocks forever."""
    os.mkfifo(folder / "answers.toml")


def deep_folder(folder: Path) -> None:
    """data/ nested 1,200 levels deep, made level by level (the path is longer than PATH_MAX)."""
    (folder / "data").mkdir()
    attacks.make_deep_folder(folder / "data")


BLOWUP = "(d+n+L+c+1)^100*(d+n+L+c+2)^100*(d*n+L*c+3)^100"  # sympy's expand would run for hours


FIFO = b"@@FIFO@@"  # as a file's content: the file is made a FIFO (named pipe), which blocks whoever opens it
# About 9 MiB of literals in one cell: parsing it cost the grading process 4.9 GB and two minutes when the
# grading process read notebooks itself.
LITERALS = "X = [" + ", ".join(str(i) for i in range(1_300_000)) + "]"


@dataclass(frozen=True)
class Case:
    files: dict[str, str | bytes]
    only: str
    messages: dict[str, tuple[str, ...]]  # item -> phrases its feedback must contain (case-insensitive)
    full: tuple[str, ...] = ()  # items graded normally: full marks
    notes: tuple[str, ...] = ()  # phrases the report's notes must contain
    limits: dict = field(default_factory=dict)
    dataset: bool = False
    training: bool = False
    load_problem: str = ""  # a phrase of GradeResult.load_problem, which is empty when the code imported
    timed_out: bool = False  # GradeResult.timed_out, what `hw2-grade batch` reads for its status
    make: Callable[[Path], None] | None = None  # writes what `files` cannot hold (sparse files, FIFOs, depth)
    seconds: float = 60.0  # the grade must end within this (bounded time in the grading process)


ALL_QUICK = ("5.1.1", "5.1.2", "5.2.1", "5.3.1")
MAX_GROWTH_KIB = 1 << 20  # 1 GiB: reading the sparse answers.toml or expanding BLOWUP would take far more
CASES: dict[str, Case] = {
    "syntax_error": Case(
        {"submission.py": SYNTAX}, "5.1.1,5.1.2",
        {n: ("SyntaxError", f"line {line_of(SYNTAX, 'def loss_fn(')}") for n in ("5.1.1", "5.1.2")}, load_problem='SyntaxError'),
    "import_error": Case(
        {"submission.py": "import not_a_module\n" + BASE}, "5.1.1,5.1.2",
        {n: ("did not load", "No module named 'not_a_module'") for n in ("5.1.1", "5.1.2")}, load_problem='not_a_module'),
    "missing_netbn": Case(
        {"submission.py": WITHOUT_NETBN}, ",".join(ALL_QUICK),
        {"5.3.1": ("NetBN", "defines no `NetBN`")}, full=("5.1.1", "5.1.2", "5.2.1")),
    "wrong_output_shape": Case(
        {"submission.py": edited(("nn.Linear(84, 10),\n        )\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN",
                                  "nn.Linear(84, 5),\n        )\n\n    def forward(self, x):\n        x = self.features(x)\n        x = x.view(x.size(0), -1)\n        return self.classifier(x)\n\n\nclass NetBN"))},
        "5.1.1,5.1.2,5.3.1", {"5.1.1": ("5 outputs",)}, full=("5.1.2", "5.3.1")),
    "exception_in_forward": Case(
        {"submission.py": in_net_forward("raise ValueError('shapes do not line up')")}, ",".join(ALL_QUICK),
        {"5.1.1": ("ValueError: shapes do not line up", "submission.py line")}, full=("5.1.2", "5.3.1")),
    "exception_in_init_weights": Case(
        {"submission.py": edited(('nn.init.zeros_(m.bias)', 'nn.init.zeros_(m.bias)\n            1 / 0'))},
        ",".join(ALL_QUICK), {"5.2.1": ("init_weights", "ZeroDivisionError", "submission.py line")},
        full=("5.1.1", "5.1.2", "5.3.1")),
    "exception_in_optimiser": Case(
        {"submission.py": edited(('                st["t"] += 1\n', '                st["t"] += 1\n                raise KeyError("beta3")\n'))},
        "5.4.1,5.4.2", {"5.4.1": ("KeyError", "beta3")}, full=("5.4.2",)),
    "exception_in_augment": Case(
        {"submission.py": edited(("    n = images.shape[0]\n", "    n = images.shape[0]\n    raise TypeError('augment got lost')\n"))},
        "5.4.2,5.4.3", {"5.4.3": ("augment", "TypeError: augment got lost")}, full=("5.4.2",), dataset=True),
    "timeout_in_forward": Case(
        {"submission.py": in_net_forward("import time\ntime.sleep(1000)")}, "5.1.1,5.1.2,5.3.1",
        {"5.1.1": ("Net()", "timed out", "stopped after 8 s", "limit 8 s")}, full=("5.1.2", "5.3.1"),
        limits={"wall_s": 8}, timed_out=True),
    "memory_exhausted_in_forward": Case(
        {"submission.py": in_net_forward("hog = [torch.ones(1 << 26) for _ in range(400)]\nreturn hog")},
        "5.1.1,5.1.2,5.3.1", {"5.1.1": ("Net()", "ran out of memory")}, full=("5.1.2", "5.3.1"),
        limits={"tree_memory_bytes": 2 << 30}),
    "invalid_toml": Case(
        {"submission.py": BASE, "answers.toml": "[problem4\nparameters = = 'd*n'\n"}, "4.1,5.1.2",
        {"4.1": ("answers.toml is not valid TOML", "line")}, full=("5.1.2",)),
    "empty_folder": Case(
        {}, "5.1.1,5.1.2", {n: ("no submission.py and no .ipynb notebook",) for n in ("5.1.1", "5.1.2")}, load_problem='no submission.py'),
    "both_py_and_notebook": Case(
        {"submission.py": BASE, "homework.ipynb": notebook(["import torch\nclass Net:\n    pass\n"])}, "5.1.1",
        {}, full=("5.1.1",), notes=("both submission.py and homework.ipynb found", "submission.py is graded")),
    "binary_junk": Case(
        {"submission.py": JUNK}, "5.1.1,5.1.2", {n: ("not Python source", "binary data") for n in ("5.1.1", "5.1.2")}, load_problem='binary data'),
    "not_utf8": Case(  # Latin-1 text in a string (in a comment Python lets it pass, and so does the grader)
        {"submission.py": BASE.encode() + b"\nCAFE = 'caf\xe9'\n# na\xefve\n"}, "5.1.2",
        {"5.1.2": ("SyntaxError", f"line {BASE.count(chr(10)) + 2}", "utf-8")}, load_problem='SyntaxError'),
    "oversized_source": Case(
        {"submission.py": BASE + "\n" + "#" * (3 << 20) + "\n"}, "5.1.1", {"5.1.1": ("bytes", "at most 2097152")}, load_problem='at most'),
    "broken_notebook": Case(
        {"homework.ipynb": '{"cells": [ this is not json'}, "5.1.1", {"5.1.1": ("not a readable notebook",)}, load_problem='not a readable notebook'),
    "extremely_long_line": Case(
        {"submission.py": LONG_LINE}, "5.1.1,5.1.2", {}, full=("5.1.1", "5.1.2")),
    "extremely_long_output": Case(
        {"submission.py": edited(("    return F.cross_entropy(logits, targets)",
                                  "    print('loss' * (5 << 20))\n    for i in range(100_000):\n        print(i, logits.shape)\n"
                                  "    return F.cross_entropy(logits, targets)"))},
        "5.1.2", {}, full=("5.1.2",)),
    "nesting_too_deep": Case(
        {"submission.py": BASE + "\nX = " + "(" * 300 + "1" + ")" * 300 + "\n"}, "5.1.2",
        {"5.1.2": ("SyntaxError", f"line {BASE.count(chr(10)) + 2}")}, load_problem='SyntaxError'),
    "sparse_answers": Case(
        {"submission.py": BASE}, "4.1,5.1.2", {"4.1": ("answers.toml is 4,294,967,296 bytes", "at most 1,048,576")},
        full=("5.1.2",), make=sparse_answers, notes=("answers.toml is 4,294,967,296 bytes (more than",), seconds=30),
    "fifo_answers": Case(
        {"submission.py": BASE}, "4.1,5.1.2", {"4.1": ("answers.toml is not a regular file",)}, full=("5.1.2",),
        make=fifo_answers),
    "deeply_nested_answers": Case(
        {"submission.py": BASE, "answers.toml": "[problem4]\nparameters = " + "[" * 5000 + "]" * 5000 + "\n"},
        "4.1,5.1.2", {"4.1": ("nests arrays or tables 5000 deep", "at most 16")}, full=("5.1.2",)),
    "answer_that_expands_for_hours": Case(
        {"answers.toml": "[problem4]\n" + "".join(f'{k} = "{BLOWUP}"\n' for k in
                                                    ("parameters", "sgd_multiplications", "path_multiplications"))},
        "4.1,4.2,4.3", {"4.1": ("Wrong", "not the number of parameters"), "4.2": ("Wrong", "grows too fast"),
                        "4.3": ("Wrong",)}, load_problem="no submission.py", seconds=20),
    "stage_list_of_100_000": Case(
        {"answers.toml": "[problem3]\nsync_stages = [" + ", ".join(['"conv1"'] * 100_000) + "]\n"}, "3.1",
        {"3.1": ("100,000 entries", "at most 64")}, load_problem="no submission.py", seconds=20),
    "folder_deeper_than_path_max": Case(
        {"submission.py": BASE}, "5.1.2", {}, full=("5.1.2",), make=deep_folder,
        notes=("is more than 16 folders deep; it was left out",)),
    "fifo_named_like_a_notebook": Case(
        {"homework.ipynb": FIFO}, "5.1.1", {"5.1.1": ("homework.ipynb (FIFO) is not a regular file",)},
        load_problem="not a regular file"),
    "notebook_of_literals": Case(
        {"homework.ipynb": notebook([LITERALS, BASE])}, "5.1.2", {}, full=("5.1.2",),
        notes=("code cell 1 holds", "it was skipped")),
    "nan_loss_in_training": Case(
        {"submission.py": in_net_forward("x = self.features(x)\nx = x.view(x.size(0), -1)\n"
                                         "return self.classifier(x) * float('nan')")},
        "5.1.3", {"5.1.3": ("training Net() failed", "NaN or infinite", "step")}, dataset=True, training=True),
}


def write_case(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, content in case.files.items():
        if content == FIFO:
            os.mkfifo(folder / name)
        else:
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    if case.make:
        case.make(folder)
    return folder





def _params():
    return [pytest.param(n, marks=pytest.mark.slow) if c.training else n for n, c in CASES.items()]


@pytest.mark.parametrize("name", _params())
def test_bad_input_is_graded_with_a_clear_message(name, tmp_path, request, calibration, isolation):
    case = CASES[name]
    dataset = request.getfixturevalue("cifar10") if case.dataset else None
    folder = write_case(case, tmp_path / name)
    request.addfinalizer(lambda: remove_tree(folder))  # pytest's own clean-up recurses, and a deep case is deep
    cal = small_calibration(calibration) if case.training else calibration
    start, peak = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    result = grade(folder, GradeOptions(selected=RUBRIC.select(case.only), verify_reference=False, limits=Limits(**case.limits)),
                   dataset=dataset, calibration=cal, isolation=isolation)
    assert time.monotonic() - start < case.seconds, f"{name} took {time.monotonic() - start:.0f} s"
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak  # the grading process's own memory
    assert case.training or grown < MAX_GROWTH_KIB, f"{name}: the grading process's peak memory grew by {grown >> 10} MiB"
    selected = RUBRIC.select(case.only)
    for number in selected:
        it = item(result, number)
        assert it.status != "skipped", f"{number} has no result"
        assert "the grader could not check this item" not in it.feedback, f"{number}: {it.feedback}"
    for number, phrases in case.messages.items():
        it = item(result, number)
        if not RUBRIC.by_number[number].manual:
            assert it.score < it.max_score, f"{number} kept its points: {it.feedback}"
        for phrase in phrases:
            assert phrase.lower() in it.feedback.lower(), f"{name}: {phrase!r} not in {number}'s feedback: {it.feedback}"
    for number in case.full:
        it = item(result, number)
        assert it.score == it.max_score, f"{name}: {number} was not graded normally: {it.feedback}"
    assert result.timed_out is case.timed_out, f"{name}: timed_out is {result.timed_out}"
    if case.load_problem:
        assert case.load_problem.lower() in result.load_problem.lower(), f"{name}: load problem {result.load_problem!r}"
    else:
        assert result.load_problem == "", f"{name} imported, yet: {result.load_problem!r}"
    notes = " ".join(result.notes)
    for phrase in case.notes:
        assert phrase in notes, f"{phrase!r} not in the notes: {result.notes}"


@pytest.mark.timeout(120)
def test_notebooks_cost_the_grading_process_neither_memory_nor_time(tmp_path, calibration, isolation):
    """The FIFO is refused before it is opened (opening it would block forever), and the notebook of literals
    is parsed and sliced by a limited child: the grading process grows by less than 200 MiB."""
    for name in ("fifo_named_like_a_notebook", "notebook_of_literals"):
        case = CASES[name]
        folder = write_case(case, tmp_path / name)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
        start = time.monotonic()
        grade(folder, GradeOptions(selected=RUBRIC.select(case.only), verify_reference=False), calibration=calibration,
              isolation=isolation)
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
        assert grown < 200 and time.monotonic() - start < 60, f"{name}: grew {grown:.0f} MiB"
