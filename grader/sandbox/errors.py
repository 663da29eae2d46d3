"""How an exception raised in the child is told to the student: one line naming the exception and the
line of their code that raised it. Shared by the child and its tasks (one of CHILD_MODULES)."""
from __future__ import annotations

import errno
import os
import resource
import traceback
from pathlib import Path

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
        if "/submission/" in frame.filename or frame.filename.endswith(filename):
            where = f" (at {Path(frame.filename).name} line {frame.lineno}: {(frame.line or '').strip()[:120]})"
            break
    try:
        msg = str(e).replace("\n", " ")
    except BaseException:  # noqa: BLE001  a student's exception whose __str__ fails
        msg = "(the exception's message could not be read)"
    return f"{type(e).__name__}: {msg}"[:MAX_ERROR_CHARS] + where
