"""Finds what to grade in a submission folder: `submission.py`, or the top-level definitions of a notebook.

A notebook is read with nbformat and never executed as a whole: only imports, function and class
definitions and constant assignments (UPPER_CASE names or literal values) of its code cells are kept, so its
training loops and other top-level statements do not run. The notes say which cells were used.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

NOTEBOOK_ENTRY = "_notebook_submission.py"  # written into the scratch copy, never into the student's folder
MAX_SOURCE_BYTES = 2 << 20  # a larger submission.py is not source code a student wrote


@dataclass
class Entry:
    file: str | None  # file name inside the (scratch) submission folder, None when nothing can be graded
    problem: str = ""  # why nothing can be graded
    notes: list[str] = field(default_factory=list)
    notebook_source: str | None = None  # code extracted from a notebook, to be written as NOTEBOOK_ENTRY


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names_ok = all(isinstance(t, ast.Name) for t in targets)
        constant = names_ok and all(t.id.isupper() for t in targets)
        literal = node.value is not None and _is_literal(node.value)
        return names_ok and (constant or literal)
    return False


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False


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
        # IPython magics and shell escapes are not Python; blank them so line numbers stay right
        lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in cell.source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as e:
            notes.append(f"code cell {number} has a SyntaxError at line {e.lineno}: {e.msg}; it was skipped")
            continue
        kept = [n for n in tree.body if _keep(n)]
        if kept:
            used.append(number)
            parts.append(f"# --- code cell {number} ---\n" + "\n\n".join(ast.get_source_segment("\n".join(lines), n) or ast.unparse(n) for n in kept))
    notes.insert(0, f"graded from notebook {path.name}: top-level definitions of code cells "
                    f"{', '.join(map(str, used)) or 'none'} (of {len(code_cells)}); other statements were not run")
    return "\n\n".join(parts) + "\n", notes


def locate_entry(folder: Path) -> Entry:
    if not folder.is_dir():
        return Entry(None, problem=f"{folder} is not a folder")
    py = folder / "submission.py"
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if py.is_file():
        notes = [f"both submission.py and {notebooks[0].name} found: submission.py is graded"] if notebooks else []
        if py.stat().st_size > MAX_SOURCE_BYTES:
            return Entry(None, problem=f"submission.py is {py.stat().st_size} bytes; at most {MAX_SOURCE_BYTES} are accepted")
        return Entry("submission.py", notes=notes)
    if len(notebooks) > 1:
        return Entry(None, problem=f"several notebooks and no submission.py: {', '.join(p.name for p in notebooks)}; "
                                   f"keep one notebook or add submission.py")
    if notebooks:
        try:
            source, notes = extract_notebook(notebooks[0])
        except ValueError as e:
            return Entry(None, problem=str(e))
        return Entry(NOTEBOOK_ENTRY, notes=notes, notebook_source=source)
    return Entry(None, problem=f"no submission.py and no .ipynb notebook in {folder.name}/")
