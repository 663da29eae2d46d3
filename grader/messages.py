"""How every `hw2-grade` command talks to its user: errors are one line under MESSAGE_CHARS, prefixed with the
command (argparse's usage block and "unrecognized arguments" included), and counts read right ("1 student")."""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn

MESSAGE_CHARS = 200  # an error line longer than this is cut (paths in it can be long: keep the start)


def one_line(message: str, limit: int = MESSAGE_CHARS) -> str:
    """The message on one line, at most `limit` characters (cut with "…")."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fail(message: str, prog: str = "hw2-grade", status: int = 2) -> int:
    """Print `PROG: error: MESSAGE` on one line to stderr; returns the exit status to return."""
    print(one_line(f"{prog}: error: {message}"), file=sys.stderr)
    return status


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """'1 student', '3 students', '0 students'."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error that points at --help instead of printing the usage block."""

    def error(self, message: str) -> NoReturn:
        print(one_line(f"{self.prog}: error: {message} (see {self.prog} --help)"), file=sys.stderr)
        sys.exit(2)
