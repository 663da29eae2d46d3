"""The roster CSV (`student_id,path[,commit]`): reading and validating it, and what a roster path names."""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_ID_CHARS = 64
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # first character alphanumeric: no ".", "..", hidden folders
RESERVED_IDS = ("gradebook.csv", "index.html")  # names of the batch's own files in DIR (compared lower-case)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git's scp-like syntax, user@host:owner/repo.git


class RosterError(ValueError):
    """The roster cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class RosterEntry:
    student_id: str
    path: str  # as written in the roster: a folder, a git URL or a repository path
    commit: str = ""  # git commit (or ref) to check out; "" for the default branch / a plain folder


def validate_id(student_id: str) -> str:
    """"" when the id is usable as a folder name, else why not."""
    if not student_id:
        return "is empty"
    if len(student_id) > MAX_ID_CHARS:
        return f"is {len(student_id)} characters long (at most {MAX_ID_CHARS})"
    if not _ID.fullmatch(student_id):
        return "is not allowed: use letters, digits, '-', '_' and '.', starting with a letter or digit"
    if student_id.lower() in RESERVED_IDS:
        return "is the name of a file the batch writes"
    return ""


def read_roster(path: Path, remote_only: bool = False) -> list[RosterEntry]:
    """The roster's rows, validated. Raises RosterError with a one-line message. With `remote_only`, every
    path must be a remote repository (`is_allowed_remote`): a roster made from what students typed cannot
    point the grader at a local folder, another student's clone or the bundled reference."""
    if not path.exists():
        raise RosterError(f"roster {path} does not exist")
    if not path.is_file():
        raise RosterError(f"roster {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a byte-order mark
    except UnicodeDecodeError:
        raise RosterError(f"roster {path} is not UTF-8 text") from None
    except OSError as e:
        raise RosterError(f"roster {path} cannot be read: {e.strerror}") from None
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in row)]
    if not rows:
        raise RosterError(f"roster {path} is empty: the first line must be the header student_id,path[,commit]")
    header = [c.strip().lower() for c in rows[0][1]]
    if header not in (["student_id", "path"], ["student_id", "path", "commit"]):
        raise RosterError(f"roster {path} line {rows[0][0]}: the header must be 'student_id,path' or "
                          f"'student_id,path,commit', found {','.join(rows[0][1])!r}")
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for n, row in rows[1:]:
        if len(row) not in (2, len(header)):
            raise RosterError(f"roster {path} line {n}: expected {len(header)} fields ({','.join(header)}), found {len(row)}")
        student_id, where = row[0].strip(), row[1].strip()
        commit = row[2].strip() if len(row) > 2 else ""
        problem = validate_id(student_id)
        if problem:
            raise RosterError(f"roster {path} line {n}: student id {student_id!r} {problem}")
        key = student_id.lower()  # case-insensitive: "Alice" and "alice" share a folder on macOS and Windows
        if key in seen:
            raise RosterError(f"roster {path} line {n}: duplicate student id {student_id!r} (first on line {seen[key]})")
        seen[key] = n
        if not where:
            raise RosterError(f"roster {path} line {n}: student {student_id!r} has no path")
        if remote_only and not is_allowed_remote(where):
            raise RosterError(f"roster {path} line {n}: {where!r} of {student_id!r} is not a remote https:// or ssh "
                              f"repository (--remote-only allows nothing else)")
        if commit.startswith("-") or any(c.isspace() for c in commit):
            raise RosterError(f"roster {path} line {n}: commit {commit!r} of {student_id!r} is not a git commit or ref")
        entries.append(RosterEntry(student_id, where, commit))
    if not entries:
        raise RosterError(f"roster {path} lists no students (only the header)")
    return entries


def is_remote(path: str) -> bool:
    """A URL or git's scp-like `user@host:repo`: cloned as written, never read as a local path."""
    return "://" in path or bool(_SCP_LIKE.match(path))


_ALLOWED_REMOTE = re.compile(r"^(?:https://|ssh://|[\w.-]+@[\w.-]+:(?!/))[^\s]+$")  # not file://, git://, ext::, paths


def is_allowed_remote(path: str) -> bool:
    """An https:// or ssh:// URL, or git's scp-like ssh syntax user@host:repo."""
    return bool(_ALLOWED_REMOTE.match(path))


def resolve_source(path: str, roster_dir: Path) -> str:
    """The URL as written, or the absolute path a roster path names (relative to the roster's folder)."""
    if is_remote(path):
        return path
    p = Path(path).expanduser()
    return os.path.realpath(p if p.is_absolute() else roster_dir / p)


def is_git_url(path: str) -> bool:
    """A URL (https://, ssh://, file://, git://), scp-like `user@host:repo`, or a path ending in .git."""
    return is_remote(path) or path.rstrip("/").endswith(".git")
