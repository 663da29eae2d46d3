"""A folder with one notebook instead of submission.py is graded from a program slice of the notebook: the
statements the contract's names need, whatever their kind (argparse included), and nothing else, so its
training loops, downloads, shell escapes, magics and plots never run. The same code scores the same as a .py
file; the report's notes and the item feedback say, cell by cell, what ran and what did not; every error
points at the student's cell and line. The notebook is read and sliced in a sandboxed child, never in the
grading process, and a notebook that is not a regular file is refused before anything opens it (both graded
in the bad-input corpus, tests/grader/test_bad_input.py)."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest

from grader.sandbox.contract import contract_hints
from grader.sandbox.slicing import read_cells, slice_notebook, statements_of
from grader.sandbox.submission import locate_entry
from tests.conftest import item
from tests.corpus import attacks, notebooks

QUICK = "5.1.1,5.1.2,5.2.1,5.3.1,5.4.1,5.4.2"
RAN = "a top-level statement of the notebook ran"  # any cell below that must not run raises this


def base_cells() -> list[str]:
    """tests/corpus/base_submission.py cut into one cell per top-level definition (imports in the first)."""
    source = attacks.BASE.read_text()
    tree = ast.parse(source)
    lines = source.splitlines()
    cells, imports = [], []
    for node in tree.body:
        if isinstance(node, ast.Expr):  # the module docstring
            continue
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        text = "\n".join(lines[start - 1: node.end_lineno])
        (imports if isinstance(node, (ast.Import, ast.ImportFrom)) else cells).append(text)
    return ["\n".join(imports), *cells]


def homework_notebook() -> nbformat.NotebookNode:
    """The base as a student's notebook: markdown, setup magics, the definitions, a cell that mixes a
    definition with statements, a training loop, a shell cell and a plot; every statement that must not
    run raises SystemExit(RAN)."""
    code = base_cells()
    cells = [
        nbformat.v4.new_markdown_cell("# Homework 2\nProblem 5: a CNN on CIFAR-10."),
        nbformat.v4.new_code_cell("!pip install torch torchvision\n%matplotlib inline\n%load_ext autoreload"),  # 1
        nbformat.v4.new_code_cell(code[0] + "\nimport matplotlib.pyplot as plt\n"
                                  "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
                                  "BATCH_SIZE = 64"),  # 2
    ]
    for text in code[1:]:
        cells.append(nbformat.v4.new_code_cell(text))  # 3..9
    cells += [
        nbformat.v4.new_code_cell("@torch.no_grad()\ndef show(model):\n    return sum(p.numel() for p in model.parameters())\n\n"
                                  f"net = Net().to(device)\nprint(show(net))\nraise SystemExit({RAN!r})"),  # 10
        nbformat.v4.new_markdown_cell("## Training"),
        nbformat.v4.new_code_cell("criterion = nn.CrossEntropyLoss()\n"
                                  "optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)\n"
                                  "HISTORY = train_for_real(net, epochs=100)\n"
                                  "for epoch in range(100):\n    for inputs, labels in trainloader:\n"
                                  "        optimizer.zero_grad()\n        loss = criterion(net(inputs), labels)\n"
                                  "        loss.backward()\n        optimizer.step()\n"
                                  f"raise SystemExit({RAN!r})"),  # 11
        nbformat.v4.new_code_cell("%%bash\nnvidia-smi\nls -la"),  # 12
        nbformat.v4.new_code_cell(f"files = !ls\nplt.plot([1, 2, 3])\nraise SystemExit({RAN!r})"),  # 13
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def write(nb: nbformat.NotebookNode, folder: Path, name: str = "homework.ipynb") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / name))
    return folder


def kept_and_dropped(path: Path) -> tuple[set[tuple[int, int]], dict[tuple[int, int], str]]:
    """The (code cell, first line) of the statements the slice runs, and what it says of the others."""
    data = slice_notebook(path)
    kept = {(s["cell"], s["line"]) for s in data["statements"] if s["kept"]}
    return kept, {(s["cell"], s["line"]): s["what"] for s in data["statements"] if not s["kept"]}


def test_notebook_scores_as_the_same_code_in_a_py_file(tmp_path, grade_folder):
    py = tmp_path / "py"
    py.mkdir()
    (py / "submission.py").write_text(attacks.BASE.read_text())
    ipynb = write(homework_notebook(), tmp_path / "ipynb")
    before = sorted(p.name for p in ipynb.iterdir())

    from_py = grade_folder(py, QUICK)
    from_nb = grade_folder(ipynb, QUICK)

    assert from_py.score == sum(i.max_score for i in from_py.auto_items), [i.feedback for i in from_py.auto_items]
    assert {i.number: i.score for i in from_nb.auto_items} == {i.number: i.score for i in from_py.auto_items}, \
        [f"{i.number}: {i.feedback}" for i in from_nb.auto_items if i.score != i.max_score]
    notes = " ".join(from_nb.notes)
    assert "graded from notebook homework.ipynb" in notes and "code cell 11, lines 4-9: the training loop" in notes
    assert "code cell 12 is a cell magic (%%bash)" in notes
    assert RAN not in " ".join(i.feedback for i in from_nb.items)
    assert "From homework.ipynb: Net is defined at code cell 3" in item(from_nb, "5.1.1").feedback
    assert sorted(p.name for p in ipynb.iterdir()) == before, "grading wrote into the student's folder"
    assert not from_py.notes
    # what the batch's similarity check compares: the statements that ran, not the training loop that did not
    assert "class Net(" in from_nb.graded_code and "train_for_real(net" not in from_nb.graded_code
    assert from_py.graded_code == ""


def test_slice_keeps_what_the_contract_needs_and_drops_the_rest(tmp_path):
    path = write(homework_notebook(), tmp_path) / "homework.ipynb"
    kept, dropped = kept_and_dropped(path)
    data = slice_notebook(path)
    code = "\n".join(s["code"] for s in data["statements"] if s["kept"])
    assert {"class Net", "class NetBN", "def init_weights", "def loss_fn", "class Adam", "class RMSProp",
            "def augment"} <= {ln.split("(")[0] for ln in code.splitlines()}
    for statement in (RAN, "pip install", "matplotlib inline", "train_for_real", "HISTORY", "trainloader",
                      "Net().to", "print(", "plt.plot", "nvidia-smi", "files =", "def show", "criterion"):
        assert statement not in code, f"{statement!r} was kept"
    assert dropped[(11, 4)] == "the training loop" and dropped[(13, 2)].startswith("plotting")


def test_argparse_settings_and_constants_from_args_are_kept(tmp_path):
    """The course's starter style: parse_args(args=[]), args.cuda set after it, widths read from args, Net's
    --bn flag as a default argument; the downloads, the training loop and the plots are not run."""
    for settings in ("argparse", "class"):
        path = write(notebooks.course_notebook(settings), tmp_path / settings) / "homework.ipynb"
        kept, dropped = kept_and_dropped(path)
        first = (2, 2) if settings == "argparse" else (2, 1)
        assert first in kept and (4, 1) in kept and (5, 1) in kept and (11, 2) in kept, sorted(kept)
        assert dropped[(9, 2)] == "the training loop"
        assert dropped[(3, 2)].startswith("data loading") and dropped[(10, 1)].startswith("plotting")
        assert (2, 13 if settings == "argparse" else 10) in dropped, "torch.manual_seed(...) was kept"
        if settings == "argparse":
            assert {(2, n) for n in range(2, 13)} <= kept, "an add_argument, parse_args or args.cuda line was dropped"


def test_a_training_loop_that_changes_a_needed_name_is_not_run_and_is_named(tmp_path):
    nb = notebooks.notebook([notebooks.IMPORTS, notebooks.CLASS_ARGS, notebooks.WIDTHS, notebooks.NET,
                             "for epoch in range(3):\n    optimizer.step()\n    in_conv1_width *= 2\n"])
    path = write(nb, tmp_path) / "homework.ipynb"
    kept, dropped = kept_and_dropped(path)
    assert (5, 1) not in kept and dropped[(5, 1)] == "the training loop"
    assert slice_notebook(path)["statements"][-1]["blocked"] == "in_conv1_width"  # Net.__init__ reads it when called


def test_names_a_function_reads_are_those_defined_by_the_end_of_the_notebook(tmp_path):
    nb = notebooks.notebook(["import torch.nn as nn", "class Net(nn.Module):\n    def __init__(self):\n"
                             "        super().__init__()\n        self.c = nn.Conv2d(3, width, 5)",
                             "width = 3", "width = 6", "net = Net()"])
    kept, dropped = kept_and_dropped(write(nb, tmp_path) / "homework.ipynb")
    assert (4, 1) in kept and (3, 1) not in kept and (5, 1) not in kept  # the last binding of width, not net


def test_a_missing_name_gets_a_one_line_hint_in_the_submissions_style(tmp_path):
    path = write(notebooks.course_notebook(netbn=False), tmp_path) / "homework.ipynb"
    statements, _, _ = statements_of(read_cells(path))
    hints = contract_hints([s.node for s in statements])
    assert hints["NetBN"] == "def NetBN(): return Net(bn=True)"
    assert "Net" not in hints and "loss_fn" not in hints
    flag_only = ast.parse("import argparse\nparser = argparse.ArgumentParser()\n"
                          "parser.add_argument('--batch-norm', action='store_true')\nclass Net: pass\n"
                          "class MyAdam(torch.optim.Optimizer): pass\ncriterion = nn.CrossEntropyLoss()\n"
                          "def weights_init(m): pass\n").body
    hints = contract_hints(flag_only)
    assert hints["NetBN"] == "def NetBN(): args.batch_norm = True; net = Net(); args.batch_norm = False; return net"
    assert hints["Adam"] == "Adam = MyAdam" and hints["loss_fn"] == "loss_fn = criterion"
    assert hints["init_weights"] == "def init_weights(model): model.apply(weights_init)"


def test_the_course_notebook_keeps_its_points_and_its_errors_point_at_cell_and_line(tmp_path, grade_folder):
    """The starter's notebook with argparse, flags and widths read from args: Net and init_weights earn full
    marks, as a TA would give them; a broken loss_fn is reported at its cell and line, and the missing NetBN
    gets a one-line hint in the notebook's flag style."""
    broken_loss = "def loss_fn(output, target):\n    weights = torch.ones(10)\n    return F.cross_entropy(output, target, weight=weights[:5])"
    nb = notebooks.course_notebook(netbn=False, extra=(broken_loss,))
    result = grade_folder(write(nb, tmp_path), "5.1.1,5.1.2,5.2.1,5.3.1")
    for number in ("5.1.1", "5.2.1"):
        assert item(result, number).score == item(result, number).max_score, item(result, number).feedback
    assert "Net is defined at code cell 5, lines 1-34 and needs code cell 1, lines 2 and 4-6; code cell 2, lines 2-12; " \
           "code cell 4, lines 1-4" in item(result, "5.1.1").feedback
    assert "Not run: code cell 9, lines 2-4: the training loop" in item(result, "5.1.1").feedback
    loss, netbn = item(result, "5.1.2"), item(result, "5.3.1")
    assert loss.score == 0 and "at homework.ipynb, code cell 11, line 3: return F.cross_entropy" in loss.feedback, loss.feedback
    assert "homework.ipynb defines no `NetBN`: add, for example, `def NetBN(): return Net(bn=True)`" in netbn.feedback
    assert "_notebook_slice" not in loss.feedback + netbn.feedback + " ".join(result.notes)


def test_a_script_that_trains_at_import_is_told_what_happened_and_what_to_do(tmp_path, grade_folder):
    """The course's starter as submission.py: argparse (which sees no options, so its defaults), then the
    CIFAR-10 download at import time, which fails without network."""
    folder = tmp_path / "starter"
    folder.mkdir()
    source = "\n\n".join([notebooks.IMPORTS.replace("%matplotlib inline", ""),
                          notebooks.ARGPARSE.replace("parse_args(args=[])", "parse_args()"), notebooks.DATA,
                          notebooks.WIDTHS, notebooks.NET, notebooks.LOSS, notebooks.TRAIN, notebooks.LOOP])
    (folder / "submission.py").write_text(source)
    result = grade_folder(folder, "5.1.2")
    feedback = item(result, "5.1.2").feedback
    line = source.splitlines().index(notebooks.DATA.splitlines()[1]) + 1
    assert f"submission.py runs code when it is imported: its top-level statement at line {line} raised" in feedback
    assert 'if __name__ == "__main__":' in feedback and "submit the notebook" in feedback
    assert "runs code when it is imported" in result.load_problem


def test_a_fifo_named_like_a_notebook_is_refused_from_lstat_alone(tmp_path):
    """The graded case is in the bad-input corpus (tests/grader/test_bad_input.py)."""
    folder = tmp_path / "fifo"
    folder.mkdir()
    os.mkfifo(folder / "homework.ipynb")
    entry = locate_entry(folder)
    assert entry.file is None and entry.problem == "homework.ipynb (FIFO) is not a regular file; submit the notebook file itself"
    os.mkfifo(folder / "submission.py")
    assert locate_entry(folder).problem == "submission.py is a FIFO, not a regular file; submit the file itself"


def test_notebook_problems_are_named(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    write(notebooks.notebook(["def f(:\n    pass", "import torch"]), one, "hw.ipynb")
    entry = locate_entry(one)
    assert entry.file == "hw.ipynb" and entry.notebook == "hw.ipynb"
    statements, _, notes = statements_of(read_cells(one / "hw.ipynb"))
    assert any("code cell 1 has a SyntaxError at line 1" in n for n in notes) and len(statements) == 1
    for name in ("a.ipynb", "b.ipynb"):
        write(notebooks.notebook(["import torch"]), two, name)
    entry = locate_entry(two)
    assert entry.file is None and "several notebooks" in entry.problem and "a.ipynb, b.ipynb" in entry.problem
    (two / "submission.py").write_text("x = 1\n")
    entry = locate_entry(two)
    assert entry.file == "submission.py"
    assert any("submission.py is graded" in n and "a.ipynb" in n for n in entry.notes)
    link = tmp_path / "link"
    link.mkdir()
    (link / "submission.py").symlink_to(Path(attacks.BASE))
    assert locate_entry(link).file is None and "symbolic link" in locate_entry(link).problem


def test_the_slice_runs_statement_by_statement_under_its_cells_names(tmp_path):
    """A kept statement that raises does not stop the others, and is reported by cell and line; a __future__
    import holds for the statements after it, as in the notebook."""
    from grader.sandbox.child import exec_slice

    nb = notebooks.notebook(["from __future__ import annotations\nimport torch.nn.functional as F",
                             "width = int('six')\n",
                             "def loss_fn(logits: Undefined, targets) -> Tensor:\n    return F.cross_entropy(logits, targets)",
                             "class Net:\n    size = width"])
    data = slice_notebook(write(nb, tmp_path) / "homework.ipynb")
    namespace: dict = {}
    failures = exec_slice(data, namespace)
    assert failures == ["code cell 2, line 1: ValueError: invalid literal for int() with base 10: 'six'",
                        "code cell 4, line 2: NameError: name 'width' is not defined"]
    assert callable(namespace["loss_fn"]) and "Net" not in namespace
