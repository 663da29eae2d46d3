"""Finds what to grade in a submission folder: `submission.py`, or the top-level definitions of a notebook.

A notebook is read with nbformat and never executed as a whole: only imports, function and class
definitions (with their decorators), `try` blocks of those, and assignments of side-effect-free values
(literals, arithmetic, `torch.device(...)`, a torch.nn loss; see `_cheap`) of its code cells are kept, so
its training loops, data downloads and other top-level statements do not run. IPython magics and shell
escapes are dropped. The notes say which cells were used.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.tree import walk

NOTEBOOK_ENTRY = "_notebook_submission.py"  # written into the scratch copy, never into the student's folder
MAX_SOURCE_BYTES = 2 << 20  # a larger submission.py is not source code a student wrote
MAX_NOTEBOOK_BYTES = 64 << 20  # notebooks carry their outputs (images); a larger one is not read


@dataclass
class Entry:
    file: str | None  # file name inside the (scratch) submission folder, None when nothing can be graded
    problem: str = ""  # why nothing can be graded
    notes: list[str] = field(default_factory=list)
    notebook_source: str | None = None  # code extracted from a notebook, to be written as NOTEBOOK_ENTRY


# Calls an assignment kept from a notebook may make: cheap, and free of side effects. Anything else
# (`HISTORY = train(net)`, `DATA = CIFAR10(download=True)`, `model = Net()`) is a statement that is not run.
CHEAP_CALLS = ("torch.device", "torch.cuda.is_available", "float", "int", "str", "bool", "tuple", "list", "dict",
               "set", "frozenset", "range", "len", "min", "max", "abs", "round")
CHEAP_CALL_PREFIXES = ("math.",)
CELL_MAGICS_RUN_AS_PYTHON = ("%%time", "%%timeit", "%%capture")


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _cheap(node: ast.expr) -> bool:
    """An expression without side effects worth fearing: literals, names, attributes, arithmetic, and calls
    of CHEAP_CALLS or of a loss class of torch.nn (`criterion = nn.CrossEntropyLoss()`)."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            loss_class = name.split(".")[0] in ("nn", "torch") and name.endswith("Loss")
            if not (name in CHEAP_CALLS or name.startswith(CHEAP_CALL_PREFIXES) or loss_class):
                return False
    return True


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Name) for t in targets) and node.value is not None and _cheap(node.value)
    if isinstance(node, ast.Try):  # `try: import x / except ImportError: ...` around definitions
        body = node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        return all(isinstance(s, ast.Pass) or _keep(s) for s in body)
    return False


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return False


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The statement's source with its decorators (ast's own segment starts at `def`, without them), cut at
    its columns (ast counts them in UTF-8 bytes), so that `import x; train()` keeps only the import."""
    decorators = getattr(node, "decorator_list", [])
    first, col = (min(d.lineno for d in decorators), 0) if decorators else (node.lineno, node.col_offset)
    last, end = node.end_lineno, node.end_col_offset
    raw = [ln.encode() for ln in lines[first - 1: last]]
    raw[-1] = raw[-1][:end]
    raw[0] = raw[0][col:]
    text = "\n".join(b.decode(errors="replace") for b in raw)
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and not _is_literal(node.value):
        # a name from a statement that was not kept must not stop the whole notebook from loading
        text = "try:\n" + "\n".join("    " + ln for ln in text.splitlines()) + "\nexcept Exception:\n    pass"
    return text


def _python_lines(source: str) -> list[str] | None:
    """The cell's lines with IPython syntax (magics, shell escapes, `x = !cmd`) replaced by `pass` at the same
    indentation, so line numbers stay right; None for a cell magic that is not Python (%%bash, %%html)."""
    lines = source.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.startswith("%%") and not first.startswith(CELL_MAGICS_RUN_AS_PYTHON):
        return None
    out = []
    for ln in lines:
        body = ln.lstrip()
        indent = ln[: len(ln) - len(body)]
        ipython = body.startswith(("%", "!")) or (
            "=" in body and body.split("=", 1)[1].lstrip().startswith(("!", "%")) and
            body.split("=", 1)[0].replace(",", " ").replace(" ", "").isidentifier())
        out.append(indent + "pass" if ipython else ln)
    return out


def extract_notebook(path: Path) -> tuple[str, list[str]]:
    """(source of the kept top-level definitions, notes)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:  # noqa: BLE001  nbformat raises several types for a broken file
        raise ValueError(f"{path.name} is not a readable notebook: {type(e).__name__}: {str(e)[:300]}") from None
    parts, used, notes = [], [], []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        lines = _python_lines(cell.source)
        if lines is None:
            notes.append(f"code cell {number} is a cell magic ({cell.source.strip().split()[0]}), not Python; it was skipped")
            continue
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as e:
            notes.append(f"code cell {number} has a SyntaxError at line {e.lineno}: {e.msg}; it was skipped")
            continue
        except (ValueError, RecursionError, MemoryError) as e:  # NUL bytes; nesting too deep for the parser
            notes.append(f"code cell {number} could not be parsed ({type(e).__name__}); it was skipped")
            continue
        kept = [n for n in tree.body if _keep(n)]
        if kept:
            used.append(number)
            parts.append(f"# --- code cell {number} ---\n" + "\n\n".join(_segment(lines, n) for n in kept))
    notes.insert(0, f"graded from notebook {path.name}: top-level definitions of code cells "
                    f"{', '.join(map(str, used)) or 'none'} (of {len(code_cells)}); other statements were not run")
    return "\n\n".join(parts) + "\n", notes


def _links(folder: Path) -> list[str]:
    """Symbolic links in the submission: the sandbox's copy leaves them out (see sandbox.make_scratch). The
    bounded walk of sandbox.tree: a folder of any depth or size cannot crash or stall it."""
    try:
        return sorted(walk(folder).links)[:10]
    except OSError:
        return []


def locate_entry(folder: Path) -> Entry:
    if not folder.is_dir():
        return Entry(None, problem=f"{folder} is not a folder")
    py = folder / "submission.py"
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    links = _links(folder)
    notes = [f"symbolic links are not followed and were left out: {', '.join(links)}"] if links else []
    # A link would make the grader read a file outside the submission (the reference solution, say).
    if py.is_symlink():
        return Entry(None, problem="submission.py is a symbolic link; submit the file itself", notes=notes)
    if py.is_file():
        if notebooks:
            notes.append(f"both submission.py and {', '.join(p.name for p in notebooks)} found: submission.py is "
                         f"graded, the notebook is not")
        if py.stat().st_size > MAX_SOURCE_BYTES:
            return Entry(None, problem=f"submission.py is {py.stat().st_size} bytes; at most {MAX_SOURCE_BYTES} are accepted",
                         notes=notes)
        return Entry("submission.py", notes=notes)
    notebooks = [p for p in notebooks if not p.is_symlink()]
    if len(notebooks) > 1:
        return Entry(None, problem=f"several notebooks and no submission.py: {', '.join(p.name for p in notebooks)}; "
                                   f"keep one notebook or add submission.py", notes=notes)
    if notebooks:
        size = notebooks[0].stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return Entry(None, problem=f"{notebooks[0].name} is {size} bytes; at most {MAX_NOTEBOOK_BYTES} are read "
                                       f"(clear the cell outputs)", notes=notes)
        try:
            source, nb_notes = extract_notebook(notebooks[0])
        except ValueError as e:
            return Entry(None, problem=str(e), notes=notes)
        return Entry(NOTEBOOK_ENTRY, notes=nb_notes + notes, notebook_source=source)
    return Entry(None, problem=f"no submission.py and no .ipynb notebook in {folder.name}/", notes=notes)
