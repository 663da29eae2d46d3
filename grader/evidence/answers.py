"""answers.toml: the student's answers to Problems 1-4 and the free text, read once per grade."""
from __future__ import annotations

import tomllib
from pathlib import Path

ANSWERS_FILE = "answers.toml"
MAX_ANSWER_BYTES = 1 << 20  # of answers.toml read
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
    if path.is_symlink():  # a link could point at the reference answers, which the grading process can read
        return {}, f"{ANSWERS_FILE} is a symbolic link; submit the file itself"
    if not path.is_file():
        return {}, f"no {ANSWERS_FILE} in the submission"
    try:
        raw = path.read_bytes()[:MAX_ANSWER_BYTES]
        return tomllib.loads(raw.decode("utf-8")), ""
    except UnicodeDecodeError:
        return {}, f"{ANSWERS_FILE} is not UTF-8 text"
    except tomllib.TOMLDecodeError as e:
        return {}, f"{ANSWERS_FILE} is not valid TOML: {e}"
