"""Which submission a report is about: a name a person recognises (the GitHub repository, else the folder's
own name, never an absolute path) and the graded commit when the folder is a git checkout.

The folder belongs to the student, so git is never run on it (a repository's config can make git run
commands); `.git/HEAD`, its ref and `config` are read as size-capped text instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GIT_TEXT_BYTES = 256 * 1024  # at most this much of HEAD, a ref, packed-refs or config is read
COMMIT_CHARS = 12  # of the hash shown
_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REMOTE = re.compile(r'\[remote "origin"\][^\[]*?^\s*url\s*=\s*(\S+)', re.M | re.S)
_SLUG = re.compile(r"(?:github\.com|gitlab\.com|bitbucket\.org)[:/]+([\w.\-]+/[\w.\-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Origin:
    name: str  # "owner/repo" of the origin remote, else the folder's name
    commit: str = ""  # abbreviated hash of HEAD, "" when unknown


def _read(path: Path) -> str:
    try:
        if not path.is_file():  # a FIFO would block the grader, a device never end
            return ""
        with path.open("rb") as f:
            return f.read(GIT_TEXT_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def _git_dirs(folder: Path) -> tuple[Path, Path] | None:
    """(the git dir holding HEAD, the common dir holding refs and config) of a checkout rooted at `folder`."""
    dot_git = folder / ".git"
    if dot_git.is_file():  # a worktree or submodule: "gitdir: PATH"
        m = re.match(r"gitdir:\s*(.+)", _read(dot_git).strip())
        if not m:
            return None
        dot_git = (folder / m.group(1).strip()).resolve()
    if not (dot_git / "HEAD").is_file():
        return None
    common = _read(dot_git / "commondir").strip()
    return dot_git, (dot_git / common).resolve() if common else dot_git


def head_commit(folder: Path) -> str:
    """HEAD's commit hash (full), "" when the folder is not a git checkout or HEAD cannot be resolved."""
    dirs = _git_dirs(folder)
    if dirs is None:
        return ""
    git_dir, common = dirs
    head = _read(git_dir / "HEAD").strip()
    if _HASH.fullmatch(head):  # detached
        return head
    m = re.fullmatch(r"ref:\s*(refs/[\w./\-]+)", head)
    if not m or ".." in m.group(1):
        return ""
    ref = m.group(1)
    loose = _read(common / ref).strip() or _read(git_dir / ref).strip()
    if _HASH.fullmatch(loose):
        return loose
    for line in _read(common / "packed-refs").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref and _HASH.fullmatch(parts[0]):
            return parts[0]
    return ""


def origin_of(folder: Path) -> Origin:
    """The submission's name and commit (see the module docstring)."""
    folder = Path(folder)
    dirs = _git_dirs(folder)
    slug = None
    if dirs is not None:
        m = _REMOTE.search(_read(dirs[1] / "config"))
        url = m.group(1) if m else ""
        s = _SLUG.search(url)
        slug = s.group(1) if s else None
    name = slug or folder.resolve().name or str(folder)
    return Origin(name=name, commit=head_commit(folder)[:COMMIT_CHARS])
