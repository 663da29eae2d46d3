"""Which statements of a notebook the grader runs: a program slice from the contract's names.

A student's notebook defines the contract's names (`Net`, `loss_fn`, ...) among argparse set-up, data
downloads, training loops and plots. Starting from the contract names, the slice keeps every top-level
statement that defines a name they use, transitively and whatever its kind (`args =
parser.parse_args(args=[])`, `parser.add_argument(...)`, `class args:`, `in_conv1_width = args.width`), and
drops the rest, so training loops, downloads and plots never run. Names a function or method uses are looked
up where the grader calls it, after the notebook (the last definition before the end, and every change made
to it after that); names a statement uses at once, where it stands. A statement that trains (it calls
`.backward()` or an optimiser's `.step()`) is never kept.

This module runs in a sandboxed child (`python -m grader.sandbox.slicing BASE`, the "slice" phase, one of
`grader.sandbox.bwrap.CHILD_MODULES`): the grading process never parses a notebook. It imports only the
standard library. The probe children load the slice (grader.sandbox.child), compiling every kept statement
under the name "<notebook>, code cell N" (`cell_filename`) with the cell's own line numbers, so every error
points at the student's cell and line.
"""
from __future__ import annotations

import ast
import json
import os
import re
import symtable
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox import protocol as P
from grader.sandbox.contract import contract_hints

SLICE_FILE = "slice.json"  # written by the child into out/
SLICE_ENTRY = "_notebook_slice.json"  # the parent's copy in the scratch submission, which probe children load
MAX_CELL_BYTES = 512 << 10  # a code cell larger than this is data, not code a student wrote: not parsed
MAX_STATEMENTS = 20_000  # top-level statements analysed; the rest of a larger notebook is dropped
CELL_MAGICS_RUN_AS_PYTHON = ("%%time", "%%timeit", "%%capture")
COMPREHENSIONS = ("listcomp", "setcomp", "dictcomp", "genexpr")
TRAINING_CALLS = ("backward", "step")  # a statement calling these trains a network: never kept
CELL_NAME = re.compile(r", code cell \d+$")  # the file name of a compiled cell ends so (grader.sandbox.errors)


def cell_filename(notebook: str, cell: int) -> str:
    return f"{notebook}, code cell {cell}"


@dataclass
class Statement:
    cell: int  # code cell number, 1-based, counting code cells only
    line: int  # first line in the cell (decorators included), 1-based
    end: int  # last line in the cell
    code: str  # its source, cut at its columns
    node: ast.stmt
    strong: set[str] = field(default_factory=set)  # names it (re)binds for certain: earlier bindings are dead
    weak: set[str] = field(default_factory=set)  # names it may bind or changes in place (loops, ifs, `x.f()`)
    now: set[str] = field(default_factory=set)  # names it reads when it runs
    later: set[str] = field(default_factory=set)  # names its functions read when called

    @property
    def defines(self) -> set[str]:
        return self.strong | self.weak

    @property
    def where(self) -> str:
        lines = f"line {self.line}" if self.end == self.line else f"lines {self.line}-{self.end}"
        return f"code cell {self.cell}, {lines}"


# ----- reading cells ----------------------------------------------------------------------------------------
def read_cells(path: Path) -> list[tuple[int, str, int | None]]:
    """(code cell number, source, execution count) of every code cell (nbformat 4, or 3's worksheets)."""
    try:
        nb = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{path.name} is not a readable notebook: {type(e).__name__}: {str(e)[:300]}") from None
    if not isinstance(nb, dict):
        raise ValueError(f"{path.name} is not a readable notebook: the file holds no notebook object")
    cells = nb.get("cells")
    if cells is None and isinstance(nb.get("worksheets"), list) and nb["worksheets"]:
        cells = nb["worksheets"][0].get("cells") if isinstance(nb["worksheets"][0], dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{path.name} is not a readable notebook: it has no list of cells")
    out = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        count = cell.get("execution_count", cell.get("prompt_number"))
        out.append((len(out) + 1, source if isinstance(source, str) else "", count if type(count) is int else None))
    return out


def python_lines(source: str) -> list[str] | None:
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


def segment(lines: list[str], node: ast.stmt) -> str:
    """The statement's source with its decorators, cut at its columns (ast counts them in UTF-8 bytes), so
    that `import x; train()` keeps only the import."""
    decorators = getattr(node, "decorator_list", [])
    first, col = (min(d.lineno for d in decorators), 0) if decorators else (node.lineno, node.col_offset)
    raw = [ln.encode() for ln in lines[first - 1: node.end_lineno]]
    raw[-1] = raw[-1][: node.end_col_offset]
    raw[0] = raw[0][col:]
    return "\n".join(b.decode(errors="replace") for b in raw)


# ----- what a statement defines and uses --------------------------------------------------------------------
def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _changed_in_place(node: ast.stmt) -> set[str]:
    """Names a statement changes without rebinding them: `args.cuda = ...`, `d[k] = v`, `parser.add_argument(..)`,
    `setattr(args, ...)`, in its top-level code and in the bodies of its ifs, loops, withs and trys."""
    found: set[str] = set()
    for sub in _top_level_nodes(node):
        targets = []
        if isinstance(sub, ast.Assign):
            targets = sub.targets
        elif isinstance(sub, (ast.AugAssign, ast.AnnAssign)):
            targets = [sub.target]
        elif isinstance(sub, ast.Delete):
            targets = sub.targets
        elif isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Call):
            call = sub.value
            receiver = call.func.value if isinstance(call.func, ast.Attribute) else \
                call.args[0] if isinstance(call.func, ast.Name) and call.func.id == "setattr" and call.args else None
            if receiver is not None and (name := _root(receiver)):
                found.add(name)
        for t in targets:
            for part in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]):
                if not isinstance(part, ast.Name) and (name := _root(part)):  # a bare name is a binding
                    found.add(name)
    return found


def _top_level_nodes(node: ast.stmt):
    """The statement and the statements nested in its blocks, not entering functions or classes."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for attr in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(n, attr, []) or []:
                if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    stack.extend(child.body)
                elif isinstance(child, ast.stmt) and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                            ast.ClassDef)):
                    stack.append(child)


def _reads(table: symtable.SymbolTable, later: bool, now: set[str], deferred: set[str]) -> None:
    """Global names read in `table` and the tables inside it: at once (module, class bodies, comprehensions
    in them) or when a function runs (everything inside a function or lambda)."""
    for sym in table.get_symbols():
        if sym.is_referenced() and (table.get_type() == "module" or sym.is_global()):
            (deferred if later else now).add(sym.get_name())
    for child in table.get_children():
        in_function = later or (child.get_type() == "function" and child.get_name() not in COMPREHENSIONS)
        _reads(child, in_function, now, deferred)


def analyse(stmt: Statement, imported: set[str]) -> None:
    """Fill stmt's strong/weak bindings and its reads. `imported`: names whose last binding so far is an
    import (calling a module's function, `torch.manual_seed(0)`, does not change the module)."""
    node = stmt.node
    table = symtable.symtable(stmt.code, "<statement>", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    _reads(table, False, stmt.now, stmt.later)
    certain = isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                ast.Assign)) or (isinstance(node, ast.AnnAssign) and node.value is not None)
    (stmt.strong if certain else stmt.weak).update(bound)
    stmt.weak.update(n for n in _changed_in_place(node) if n not in imported)
    stmt.now -= {n for n in stmt.strong if isinstance(node, (ast.Import, ast.ImportFrom))}


def trains(node: ast.stmt, trainers: frozenset[str] = frozenset()) -> bool:
    """Whether the statement runs a training step when it runs: it calls `.backward()` or `.step()`, or a
    function of the notebook that does (`trainers`), outside the functions and classes it defines."""
    for n in _top_level_nodes(node):
        for sub in ast.walk(n) if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ():
            if isinstance(sub, ast.Call) and (isinstance(sub.func, ast.Attribute) and sub.func.attr in TRAINING_CALLS
                                              or isinstance(sub.func, ast.Name) and sub.func.id in trainers):
                return True
    return False


def trainers(statements: list[Statement]) -> frozenset[str]:
    """Names of the notebook's top-level functions whose body calls `.backward()` or `.step()`."""
    return frozenset(s.node.name for s in statements if isinstance(s.node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr in TRAINING_CALLS
                              for c in ast.walk(s.node)))


def describe(stmt: Statement, training: frozenset[str] = frozenset()) -> str:
    """What a dropped statement does, in a few words a student recognises."""
    node, code = stmt.node, stmt.code
    first = code.strip().splitlines()[0] if code.strip() else ""
    head = first if len(first) <= 60 else first[:57] + "..."
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return f"an import nothing graded uses (`{head}`)"
    if trains(node, training):
        return "the training loop" if isinstance(node, (ast.For, ast.While)) else f"a training step (`{head}`)"
    if re.search(r"download\s*=\s*True|DataLoader|datasets\.|urlretrieve|wget", code):
        return f"data loading (`{head}`)"
    if re.search(r"\bplt\.|imshow|\.plot\(|savefig|matplotlib", code):
        return f"plotting (`{head}`)"
    if isinstance(node, (ast.For, ast.While)):
        return f"a loop (`{head}`)"
    return f"`{head}`"


# ----- the slice ----------------------------------------------------------------------------------------------
@dataclass
class Slice:
    statements: list[Statement]
    kept: list[int]  # indices into statements, in order
    needs: dict[str, list[int]]  # contract spelling -> the statements it needs (its definition first)
    blocked: dict[int, str] = field(default_factory=dict)  # statement -> needed name it defines, but it trains


def reaching(statements: list[Statement], name: str, pos: int) -> list[int]:
    """The statements before `pos` whose bindings of `name` may be the ones seen at `pos`."""
    found = []
    for j in range(min(pos, len(statements)) - 1, -1, -1):
        s = statements[j]
        if name in s.strong:
            found.append(j)
            break
        if name in s.weak:
            found.append(j)
    return found


def program_slice(statements: list[Statement], names: tuple[str, ...]) -> Slice:
    end = len(statements)
    edges: dict[int, set[int]] = {}
    blocked: dict[int, str] = {}
    training = trainers(statements)

    def resolve(name: str, pos: int) -> set[int]:
        hits = set()
        for j in reaching(statements, name, pos):
            if trains(statements[j].node, training):
                blocked.setdefault(j, name)
            else:
                hits.add(j)
        return hits

    roots = {n: resolve(n, end) for n in names}
    todo = [j for js in roots.values() for j in js]
    while todo:
        i = todo.pop()
        if i in edges:
            continue
        s = statements[i]
        deps = set()
        for n in s.now:
            deps |= resolve(n, i)
        for n in s.later:
            deps |= resolve(n, end)
        edges[i] = deps
        todo.extend(deps - set(edges))
    for i, s in enumerate(statements):  # `from x import *` binds names nobody can see; __future__ must stay
        if isinstance(s.node, ast.ImportFrom) and (s.node.module == "__future__" or any(a.name == "*" for a in s.node.names)):
            edges.setdefault(i, set())
    needs = {}
    for name, js in roots.items():
        if not js:
            continue
        seen, stack = [], sorted(js, reverse=True)
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.append(j)
                stack.extend(sorted(edges.get(j, ()), reverse=True))
        needs[name] = seen
    return Slice(statements, sorted(edges), needs, blocked)


def statements_of(cells: list[tuple[int, str, int | None]]) -> tuple[list[Statement], dict[int, list[str]], list[str]]:
    """(top-level statements in order, the Python lines of each cell, notes on cells that were skipped)."""
    statements: list[Statement] = []
    sources: dict[int, list[str]] = {}
    notes: list[str] = []
    imported: set[str] = set()
    for number, source, _ in cells:
        if len(source.encode(errors="replace")) > MAX_CELL_BYTES:
            notes.append(f"code cell {number} holds {len(source.encode(errors='replace')) >> 10} KiB of code "
                         f"(at most {MAX_CELL_BYTES >> 10} KiB per cell are read); it was skipped")
            continue
        lines = python_lines(source)
        if lines is None:
            notes.append(f"code cell {number} is a cell magic ({source.strip().split()[0]}), not Python; it was skipped")
            continue
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as e:
            notes.append(f"code cell {number} has a SyntaxError at line {e.lineno}: {e.msg}; it was skipped")
            continue
        except (ValueError, RecursionError, MemoryError) as e:  # NUL bytes; nesting too deep for the parser
            notes.append(f"code cell {number} could not be parsed ({type(e).__name__}); it was skipped")
            continue
        sources[number] = lines
        for node in (n for n in tree.body if not isinstance(n, ast.Pass)):  # IPython lines became `pass`
            if len(statements) >= MAX_STATEMENTS:
                notes.append(f"the notebook has more than {MAX_STATEMENTS} top-level statements; the rest were not read")
                return statements, sources, notes
            decorators = getattr(node, "decorator_list", [])
            first = min([d.lineno for d in decorators] + [node.lineno])
            stmt = Statement(number, first, node.end_lineno, segment(lines, node), node)
            try:
                analyse(stmt, imported)
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                continue  # a statement symtable cannot read alone is not kept
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported |= stmt.strong
            else:
                imported -= stmt.strong
            statements.append(stmt)
    return statements, sources, notes


# ----- the child's task, and loading a slice ----------------------------------------------------------------
def slice_notebook(path: Path) -> dict:
    """What the slice phase writes to out/slice.json."""
    cells = read_cells(path)
    statements, sources, notes = statements_of(cells)
    wanted = tuple(n for name in P.CONTRACT for n in (name, *P.ALIASES.get(name, ())))
    sl = program_slice(statements, wanted)
    labels = {n: f"code cell {n}" + (f" (In [{c}])" if c is not None else "") for n, _, c in cells}
    kept = set(sl.kept)
    training = trainers(statements)
    used_cells = sorted({statements[i].cell for i in kept})
    return {
        "notebook": path.name, "code_cells": len(cells), "notes": notes,
        "cells": [{"cell": n, "label": labels[n], "source": "\n".join(sources[n])} for n in used_cells],
        "statements": [{"cell": s.cell, "line": s.line, "end": s.end, "code": s.code, "kept": i in kept,
                        "defines": sorted(s.defines)[:20], "what": "" if i in kept else describe(s, training),
                        "blocked": sl.blocked.get(i, "")} for i, s in enumerate(statements)],
        "needs": {P.canonical(n): js for n, js in sl.needs.items()},
        "spelled": {P.canonical(n): n for n in sl.needs if n != P.canonical(n)},
        "hints": contract_hints([s.node for s in statements]),
    }


def main(argv: list[str]) -> int:
    """`python -m grader.sandbox.slicing PHASE BASE RW`: the slice phase. Reads BASE/in/request.json (the
    notebook's name in `entry`) and the notebook in BASE/submission, writes RW/out/slice.json and
    RW/out/result.json in the protocol's form."""
    base, rw = Path(argv[1]), Path(argv[2])
    request = P.Request.from_json(json.loads((base / "in" / "request.json").read_text()))
    results: dict = {"_complete": False, "tasks": {}, "_current": P.SLICE.key}
    out = rw / "out"
    (out / "result.json").write_text(json.dumps(results))
    # From here on a failure is the notebook's (the parent tells a child that never got here from one that did)
    sys.__stdout__.write(f"{P.LOADING_LINE} ({os.environ.get(P.MARKER_VAR, '')})\n")
    sys.__stdout__.flush()
    try:
        data = slice_notebook(base / "submission" / request.entry)
        (out / SLICE_FILE).write_text(json.dumps(data))
        outcome = {"ok": True}
    except (ValueError, OSError, MemoryError, RecursionError) as e:
        outcome = {"ok": False, "error": str(e)[:2000] if isinstance(e, ValueError) else
                   f"{request.entry} could not be read: {type(e).__name__}"}
    results.update({"_complete": True, "_current": None, "tasks": {P.SLICE.key: outcome}})
    (out / "result.json").write_text(json.dumps(results))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
