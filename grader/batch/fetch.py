"""Getting the submission a roster row names: the folder itself, or a fresh `git clone` (and checkout of the
roster's commit) under DIR/.clones/<id>, so that the student's own folder or repository is never modified.

A clone is made without a working tree first: the commit's tree is listed (`git ls-tree`, read with a cap) and
checked against `CHECKOUT_CAPS` before a file is written, because a repository of a few hundred kilobytes can
hold the same blob of zeros under thousands of names and expand to gigabytes."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from grader.batch.records import StudentJob
from grader.batch.roster import is_git_url
from grader.sandbox.tree import TreeCaps, remove_tree

CLONES = ".clones"
# what a checkout may write: files (apparent sizes summed), entries, and folder depth of any path
CHECKOUT_CAPS = TreeCaps(max_depth=32, max_entries=20_000, max_bytes=1 << 30)
LS_TREE_BYTES = 16 << 20  # of `git ls-tree` output read at most (about 100,000 entries)


def materialise(job: StudentJob) -> tuple[Path | None, str, str]:
    """(folder to grade, commit graded, problem): the roster's folder itself, or a fresh clone of the
    repository under DIR/.clones/<id> at the roster's commit. folder is None when it cannot be had."""
    source = job.source
    if not is_git_url(job.path):
        folder = Path(source)
        if not folder.exists():
            return None, "", f"the submission folder {folder} does not exist"
        if not folder.is_dir():
            return None, "", f"{folder} is not a folder"
        if not job.commit:
            return folder, "", ""
        if not (folder / ".git").exists():
            return None, "", f"commit {job.commit} is given but {folder} is not a git repository"
    dest = Path(job.out) / CLONES / job.student_id
    _remove_tree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # a private repository fails instead of asking for a password
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if job.remote_only:
        env["GIT_ALLOW_PROTOCOL"] = "https:ssh"  # git itself refuses file://, ext:: and the rest, redirects too
    rev = job.commit or "HEAD"
    deadline = time.monotonic() + job.clone_timeout_s
    problem = _git(["git", "clone", "--quiet", "--no-checkout", "--", source, str(dest)], job, env, deadline)
    if not problem:
        problem = _tree_problem(dest, rev, env, deadline)
    if not problem:
        problem = _git(["git", "-C", str(dest), "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach",
                        rev], job, env, deadline)
    if problem:
        return None, "", problem
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True, env=env)
    return dest, head.stdout.strip() if head.returncode == 0 else "", ""


def commit_info(folder: Path) -> tuple[str, str]:
    """(commit, committer date in ISO 8601) of HEAD when `folder` is the top of a git work tree, else ("", "").
    The student's repository configuration is not trusted: no fsmonitor, hooks or pager can run."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_PAGER": "cat"}
    base = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-C", str(folder)]
    try:
        top = subprocess.run([*base, "rev-parse", "--show-toplevel"], capture_output=True, text=True, env=env,
                             stdin=subprocess.DEVNULL, timeout=30)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != folder.resolve():
            return "", ""  # not a repository, or a folder inside someone else's (the course's) repository
        head = subprocess.run([*base, "log", "-1", "--format=%H %cI", "HEAD"], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "", ""
    parts = head.stdout.split()
    return (parts[0], parts[1]) if head.returncode == 0 and len(parts) == 2 else ("", "")


def _git(argv: list[str], job: StudentJob, env: dict, deadline: float) -> str:
    """Run one git step; "" when it worked, else why not."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                              timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return f"git {argv[1] if argv[1] != '-C' else 'checkout'} of {job.path} took more than {job.clone_timeout_s:.0f} s"
    except OSError as e:
        return f"git could not run: {e}"
    if done.returncode != 0:
        what = "clone" if argv[1] == "clone" else f"checkout of {job.commit or 'the default branch'}"
        return f"git {what} of {job.path} failed: {_git_message(done.stderr)}"
    return ""


def _tree_problem(repo: Path, rev: str, env: dict, deadline: float, caps: TreeCaps = CHECKOUT_CAPS) -> str:
    """Why the tree of `rev` must not be checked out ("" when it may): more files, bytes or folder depth than
    `caps` allow. Read from git's object database (sizes of blobs), before anything is written."""
    argv = ["git", "-C", str(repo), "ls-tree", "-r", "-l", "-z", "--end-of-options", rev]
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    except OSError as e:
        return f"git could not run: {e}"
    try:
        listing = proc.stdout.read(LS_TREE_BYTES + 1)
        if len(listing) > LS_TREE_BYTES:
            return f"the repository at {rev} lists more than {caps.max_entries:,} files; it was not checked out"
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        return f"git checkout of {rev} failed: it is not a commit of the repository"
    files = total = 0
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, _, size = (meta.split() + [b"-"] * 4)[:4]
        files += 1
        total += int(size) if kind == b"blob" and size.isdigit() else 0
        if path.count(b"/") > caps.max_depth:
            return (f"the repository at {rev} has paths more than {caps.max_depth} folders deep; it was not "
                    f"checked out")
    if files > caps.max_entries:
        return f"the repository at {rev} holds {files:,} files (at most {caps.max_entries:,}); it was not checked out"
    if total > caps.max_bytes:
        return (f"the repository at {rev} expands to {total:,} bytes of files (at most {caps.max_bytes:,}); it was "
                f"not checked out")
    return ""


def _git_message(stderr: str) -> str:
    """git's first fatal/error line (the following ones are generic advice), else its last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "no message")


def _remove_tree(path: Path) -> None:
    remove_tree(path)  # a clone of any depth, never an exception
