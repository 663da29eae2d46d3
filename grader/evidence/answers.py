"""answers.toml: the student's answers to Problems 1-4 and the free text, read once per grade, in the grading
process and therefore bounded: a regular file only (never a link, FIFO or device, which is never opened),
its size on disk checked before a byte is read (a sparse file of gigabytes is refused unread), and its
nesting checked before the recursive TOML parser sees it."""
from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from grader.sandbox.nesting import toml_depth

ANSWERS_FILE = "answers.toml"
MAX_ANSWER_BYTES = 1 << 20  # of answers.toml: a larger file is refused unread
MAX_NESTING = 16  # arrays and inline tables inside each other (an answer needs 1)
MAX_ANSWER_CHARS = 20_000  # of one free-text answer kept for the report


class Answers:
    """The parsed file, or why it could not be parsed (`problem`)."""

    def __init__(self, folder: Path) -> None:
        self.values, self.problem = _read(folder / ANSWERS_FILE)

    def get(self, dotted: str) -> tuple[object | None, str]:
        """(value, problem) for a key like "problem4.parameters"; problem is "" when the value is there."""
        if self.problem:
            return None, self.problem
        node: object = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                table, key = dotted.rsplit(".", 1)
                return None, f"{ANSWERS_FILE} has no [{table}] {key}"
            node = node[part]
        return node, ""

    def text(self, dotted: str) -> tuple[str, str]:
        """(free text for the report, length-capped, "" when absent; problem)."""
        value, problem = self.get(dotted)
        if value is None:
            return "", problem
        text = str(value)
        return (text[:MAX_ANSWER_CHARS] + " [truncated]" if len(text) > MAX_ANSWER_CHARS else text), ""


def _read(path: Path) -> tuple[dict, str]:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return {}, f"no {ANSWERS_FILE} in the submission"
    except OSError as e:
        return {}, f"{ANSWERS_FILE} cannot be read: {e.strerror}"
    if stat.S_ISLNK(st.st_mode):  # a link could point at the reference answers, which the grading process can read
        return {}, f"{ANSWERS_FILE} is a symbolic link; submit the file itself"
    if not stat.S_ISREG(st.st_mode):
        return {}, f"{ANSWERS_FILE} is not a regular file; submit a text file"
    if st.st_size > MAX_ANSWER_BYTES:
        return {}, f"{ANSWERS_FILE} is {st.st_size:,} bytes; at most {MAX_ANSWER_BYTES:,} are read"
    try:
        # O_NONBLOCK: a file swapped for a FIFO since the check cannot block the grade
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return {}, f"{ANSWERS_FILE} is not a regular file; submit a text file"
            text = f.read(MAX_ANSWER_BYTES + 1)[:MAX_ANSWER_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        return {}, f"{ANSWERS_FILE} is not UTF-8 text"
    except OSError as e:
        return {}, f"{ANSWERS_FILE} cannot be read: {e.strerror}"
    depth = toml_depth(text)
    if depth > MAX_NESTING:
        return {}, f"{ANSWERS_FILE} nests arrays or tables {depth} deep; at most {MAX_NESTING} levels are read"
    try:
        return tomllib.loads(text), ""
    except tomllib.TOMLDecodeError as e:
        return {}, f"{ANSWERS_FILE} is not valid TOML: {e}"
    except RecursionError:  # a nesting toml_depth missed: still the student's file, not the grader's crash
        return {}, f"{ANSWERS_FILE} nests too deeply to be read"
