"""How an exception raised in the child is told to the student: one line naming the exception and the
line of their code that raised it. Shared by the child and its tasks (one of CHILD_MODULES)."""
from __future__ import annotations

import ast
import errno
import os
import resource
import traceback
from pathlib import Path

from grader.sandbox.slicing import CELL_NAME

MAX_ERROR_CHARS = 2000  # of an exception message sent back
MEMORY_WORDS = ("can't allocate memory", "DefaultCPUAllocator", "out of memory")  # torch's allocator errors


class GraderStop(BaseException):
    """Raised by the grader's own code in the child (a time limit, tampering): its message stands alone. A
    BaseException, so that the student's `except Exception` cannot swallow it."""


class TaskTimeout(GraderStop):
    """Raised by the alarm when a task runs past its wall-clock limit."""


def describe_exception(e: BaseException, filename: str = "submission.py") -> str:
    """One line a student can act on: the exception and the line of their code that raised it."""
    if isinstance(e, SyntaxError):
        return f"SyntaxError in {Path(e.filename or filename).name} at line {e.lineno}: {e.msg}"
    if isinstance(e, GraderStop):
        return str(e)
    text = _describe(e, filename)
    if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and any(w in text for w in MEMORY_WORDS)):
        return "ran out of memory: " + text  # MemoryError is what RLIMIT_AS looks like; torch raises RuntimeError
    if isinstance(e, OSError) and e.errno == errno.EFBIG:  # RLIMIT_FSIZE (Python ignores SIGXFSZ)
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return f"wrote more than {limit >> 20} MiB to one file (the limit): {text}"
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):  # the child's tmpfs is full
        return f"filled its disk quota ({_space_words()}): {text}"
    return text


def _space_words() -> str:
    """The size of the child's writable space (its cwd's file system), in words."""
    try:
        st = os.statvfs(".")
        return f"{st.f_blocks * st.f_frsize >> 20} MiB and {st.f_files:,} files in its working folders"
    except OSError:
        return "the limit on its working folders"


def _describe(e: BaseException, filename: str) -> str:
    where = ""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        code = (frame.line or "").strip()[:120]
        if CELL_NAME.search(frame.filename):  # a statement of a notebook, compiled under its cell's name
            where = f" (at {frame.filename}, line {frame.lineno}: {code})"
            break
        if "/submission/" in frame.filename or frame.filename.endswith(filename):
            where = f" (at {Path(frame.filename).name} line {frame.lineno}: {code})"
            break
    try:
        msg = str(e).replace("\n", " ")
    except BaseException:  # noqa: BLE001  a student's exception whose __str__ fails
        msg = "(the exception's message could not be read)"
    return f"{type(e).__name__}: {msg}"[:MAX_ERROR_CHARS] + where


def describe_import_failure(e: BaseException, entry: str, tree: ast.Module | None) -> str:
    """Why importing `entry` failed; when a top-level statement that does work raised (the course starter
    parses arguments, downloads CIFAR-10 and trains at import time), what happened and what to do."""
    text = describe_exception(e, entry)
    if isinstance(e, SyntaxError) or tree is None:
        return text
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith(entry) and f.name == "<module>"]
    stmt = next((n for n in tree.body if lines and n.lineno <= lines[0] <= (n.end_lineno or n.lineno)), None)
    if stmt is None or isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return text
    if isinstance(e, SystemExit) and any(f.filename.endswith("argparse.py") for f in traceback.extract_tb(e.__traceback__)):
        text = (f"SystemExit: {e.code} from argparse (the grader imports {entry} with no command-line arguments, so "
                f"every option needs a default)")
    return (f"{entry} runs code when it is imported: its top-level statement at line {stmt.lineno} raised {text}. "
            f"The grader imports {entry} only to find Net, loss_fn and the other names of the contract: put the "
            f"argument parsing, data loading and training under `if __name__ == \"__main__\":`, or submit the notebook "
            f"instead (its training cells are not run)")
