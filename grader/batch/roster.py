"""The roster CSV: reading and validating it, and what a roster path names. It needs a student id column and a
path column (a folder or a repository URL), may have a commit column, and keeps any other columns (name, email,
SIS id, section, ...) for the gradebook and the LMS exports. The three columns' names are options
(`RosterColumns`), so a GitHub Classroom or Canvas roster export is read as it is."""
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
class RosterColumns:
    """Which roster columns hold the student id, the submission and the commit (header names, compared
    case-insensitively). GitHub Classroom's export: id `github_username`, path `student_repository_url`."""

    id: str = "student_id"
    path: str = "path"  # a folder (relative to the roster) or a git URL
    commit: str = "commit"  # optional column


@dataclass(frozen=True)
class RosterEntry:
    student_id: str
    path: str  # as written in the roster: a folder, a git URL or a repository path
    commit: str = ""  # git commit (or ref) to check out; "" for the default branch / a plain folder
    extra: tuple[tuple[str, str], ...] = ()  # the roster's other columns (header, value), in the roster's order

    def column(self, name: str) -> str:
        """The value of the extra column `name` (case-insensitive), "" when the roster has none."""
        return next((v for k, v in self.extra if k.strip().lower() == name.strip().lower()), "")


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


def read_roster(path: Path, columns: RosterColumns = RosterColumns(), remote_only: bool = False) -> list[RosterEntry]:
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
    try:
        rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in row)]
    except csv.Error as e:
        raise RosterError(f"roster {path} is not a readable CSV file: {e}") from None
    if not rows:
        raise RosterError(f"roster {path} is empty: the first line must be the header "
                          f"{columns.id},{columns.path}[,{columns.commit}]")
    header = [c.strip() for c in rows[0][1]]
    i_id, i_path, i_commit = _header_index(path, rows[0][0], header, columns)
    required = max(i_id, i_path) + 1  # a shorter row lacks the id or the path; trailing fields may be left out
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for n, row in rows[1:]:
        if not required <= len(row) <= len(header):
            raise RosterError(f"roster {path} line {n}: expected {len(header)} fields ({','.join(header)}), found {len(row)}")
        row = [c.strip() for c in row] + [""] * (len(header) - len(row))
        student_id, where = row[i_id], row[i_path]
        commit = row[i_commit] if i_commit >= 0 else ""
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
        extra = tuple((h, v) for i, (h, v) in enumerate(zip(header, row)) if i not in (i_id, i_path, i_commit))
        entries.append(RosterEntry(student_id, where, commit, extra))
    if not entries:
        raise RosterError(f"roster {path} lists no students (only the header)")
    return entries


def _header_index(path: Path, line: int, header: list[str], columns: RosterColumns) -> tuple[int, int, int]:
    """Positions of the id, path and commit columns (commit: -1 when absent)."""
    lower = [h.lower() for h in header]
    for name in lower:
        if not name:
            raise RosterError(f"roster {path} line {line}: a column of the header has no name")
        if lower.count(name) > 1:
            raise RosterError(f"roster {path} line {line}: the header names the column {name!r} twice")
    want = {"id": columns.id.strip().lower(), "path": columns.path.strip().lower()}
    if want["id"] == want["path"]:
        raise RosterError(f"the student id and the path must be different columns, both are {columns.id!r}")
    what = {"id": "the student id", "path": "the path"}
    missing = [f"{what[k]} column {want[k]!r}" for k in ("id", "path") if want[k] not in lower]
    if missing:
        raise RosterError(f"roster {path} line {line}: the header must have {' and '.join(missing)} (name other "
                          f"columns with --id-column / --path-column), found {','.join(header)!r}")
    commit = columns.commit.strip().lower()
    return lower.index(want["id"]), lower.index(want["path"]), lower.index(commit) if commit in lower else -1


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
