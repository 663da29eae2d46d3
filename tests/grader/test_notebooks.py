"""A folder with one notebook instead of submission.py is graded from the notebook's top-level definitions:
its training loops, shell escapes, magics and other statements never run, the same code scores the same as a
.py file, and the report's notes say which cells were used."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from grader.sandbox.submission import NOTEBOOK_ENTRY, extract_notebook, locate_entry
from tests.corpus import attacks

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


def homework_notebook() -> tuple[nbformat.NotebookNode, list[int]]:
    """The base as a student's notebook: markdown, setup magics, the definitions, a cell that mixes a
    definition with statements, and a training loop. Returns the notebook and the code cells that hold
    definitions (1-based, counting code cells only)."""
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
    definitions = [2, *range(3, 3 + len(code) - 1), 10, 11]  # cell 11 keeps its `criterion = nn...Loss()`
    return nb, definitions


def test_notebook_scores_as_the_same_code_in_a_py_file(tmp_path, grade_folder):
    py, ipynb = tmp_path / "py", tmp_path / "ipynb"
    py.mkdir()
    ipynb.mkdir()
    (py / "submission.py").write_text(attacks.BASE.read_text())
    nb, definitions = homework_notebook()
    nbformat.write(nb, str(ipynb / "homework.ipynb"))
    before = sorted(p.name for p in ipynb.iterdir())

    from_py = grade_folder(py, QUICK)
    from_nb = grade_folder(ipynb, QUICK)

    assert from_py.score == sum(i.max_score for i in from_py.auto_items), [i.feedback for i in from_py.auto_items]
    assert {i.number: i.score for i in from_nb.auto_items} == {i.number: i.score for i in from_py.auto_items}, \
        [f"{i.number}: {i.feedback}" for i in from_nb.auto_items if i.score != i.max_score]
    notes = " ".join(from_nb.notes)
    assert f"graded from notebook homework.ipynb: top-level definitions of code cells {', '.join(map(str, definitions))} " \
           f"(of 13); other statements were not run" in notes, from_nb.notes
    assert "code cell 12 is a cell magic (%%bash)" in notes
    assert RAN not in " ".join(i.feedback for i in from_nb.items)
    assert sorted(p.name for p in ipynb.iterdir()) == before, "grading wrote into the student's folder"
    assert not from_py.notes


def test_extraction_keeps_definitions_and_drops_statements(tmp_path):
    nb, _ = homework_notebook()
    nbformat.write(nb, str(tmp_path / "homework.ipynb"))
    source, notes = extract_notebook(tmp_path / "homework.ipynb")
    compile(source, NOTEBOOK_ENTRY, "exec")
    tree = ast.parse(source)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"Net", "NetBN", "init_weights", "loss_fn", "Adam", "RMSProp", "augment", "show"} <= defined
    assert "@torch.no_grad()\ndef show" in source, "a decorator was dropped"
    for statement in (RAN, "pip install", "matplotlib inline", "train_for_real", "HISTORY", "trainloader",
                      "Net().to", "print(", "plt.plot", "nvidia-smi", "files ="):
        assert statement not in source, f"{statement!r} was kept"
    assert "device = torch.device(" in source and "BATCH_SIZE = 64" in source and "criterion = nn.CrossEntropyLoss()" in source


def test_statements_sharing_a_line_with_a_definition_are_dropped(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import math; print('ran'); x = math.pi\nLR = compute_lr()\nimport os  # é\n")]
    nbformat.write(nb, str(tmp_path / "a.ipynb"))
    source, _ = extract_notebook(tmp_path / "a.ipynb")
    assert "import math" in source and "import os" in source
    assert "print" not in source and "compute_lr" not in source


def test_notebook_problems_are_named(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f(:\n    pass"), nbformat.v4.new_code_cell("import torch")]
    nbformat.write(nb, str(one / "hw.ipynb"))
    entry = locate_entry(one)
    assert entry.file == NOTEBOOK_ENTRY
    assert any("code cell 1 has a SyntaxError at line 1" in n for n in entry.notes)
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(nb, str(two / name))
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
