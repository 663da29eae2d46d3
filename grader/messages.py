"""How every `hw2-grade` command talks to its user: an error is one line prefixed with the command (argparse's
usage block and "unrecognized arguments" included), and counts read right ("1 student"). The messages are
written short (under about 200 characters but for the paths they name); nothing here cuts them, since any
cut could drop the part that says what to do."""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn

def one_line(message: str) -> str:
    """The message on one line (a multi-line exception text joined with spaces)."""
    return " ".join(str(message).split())


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
