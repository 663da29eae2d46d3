"""Finds what to grade in a submission folder: `submission.py`, or one notebook (*.ipynb).

Only names and `lstat` are looked at here, never a file's content: a notebook is read and sliced by a
sandboxed child (grader.sandbox.notebook, grader.sandbox.slicing), and anything that is not a regular file
(a FIFO, a device, a socket) is refused before anything opens it, since opening a FIFO blocks forever.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.tree import walk
MAX_SOURCE_BYTES = 2 << 20  # a larger submission.py is not source code a student wrote
MAX_NOTEBOOK_BYTES = 64 << 20  # notebooks carry their outputs (images); a larger one is not read


@dataclass
class Entry:
    file: str | None  # file name inside the (scratch) submission folder, None when nothing can be graded
    problem: str = ""  # why nothing can be graded
    notes: list[str] = field(default_factory=list)
    notebook: str = ""  # the notebook's file name when the entry is a notebook (then `file` is its slice)
    slice: dict | None = None  # what grader.sandbox.slicing chose to run of the notebook, once it has


def _kind(path: Path) -> str:
    """"file", "missing", "link", or the kind of a special file ("FIFO", "device", ...), from lstat alone."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    return "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "device"


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
    kind = _kind(py)
    # A link would make the grader read a file outside the submission (the reference solution, say).
    if kind == "link":
        return Entry(None, problem="submission.py is a symbolic link; submit the file itself", notes=notes)
    if kind not in ("file", "missing"):
        return Entry(None, problem=f"submission.py is a {kind}, not a regular file; submit the file itself", notes=notes)
    if kind == "file":
        if notebooks:
            notes.append(f"both submission.py and {', '.join(p.name for p in notebooks)} found: submission.py is "
                         f"graded, the notebook is not")
        if py.lstat().st_size > MAX_SOURCE_BYTES:
            return Entry(None, problem=f"submission.py is {py.lstat().st_size} bytes; at most {MAX_SOURCE_BYTES} are accepted",
                         notes=notes)
        return Entry("submission.py", notes=notes)
    special = [f"{p.name} ({_kind(p)})" for p in notebooks if _kind(p) not in ("file", "link")]
    if special:
        return Entry(None, problem=f"{', '.join(special)} is not a regular file; submit the notebook file itself",
                     notes=notes)
    notebooks = [p for p in notebooks if _kind(p) == "file"]
    if len(notebooks) > 1:
        return Entry(None, problem=f"several notebooks and no submission.py: {', '.join(p.name for p in notebooks)}; "
                                   f"keep one notebook or add submission.py", notes=notes)
    if notebooks:
        size = notebooks[0].lstat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return Entry(None, problem=f"{notebooks[0].name} is {size} bytes; at most {MAX_NOTEBOOK_BYTES} are read "
                                       f"(clear the cell outputs)", notes=notes)
        return Entry(notebooks[0].name, notes=notes, notebook=notebooks[0].name)
    return Entry(None, problem=f"no submission.py and no .ipynb notebook in {folder.name}/", notes=notes)
