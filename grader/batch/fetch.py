"""Getting the submission a roster row names: the folder itself, or a fresh `git clone` (and checkout of the
roster's commit) under DIR/.clones/<id>, so that the student's own folder or repository is never modified."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from grader.batch.records import StudentJob
from grader.batch.roster import is_git_url

CLONES = ".clones"


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
    steps = [["git", "clone", "--quiet", "--", source, str(dest)]]
    if job.commit:
        steps.append(["git", "-C", str(dest), "checkout", "--quiet", "--detach", job.commit])
    deadline = time.monotonic() + job.clone_timeout_s
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                                  timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None, "", f"git {argv[1] if argv[1] != '-C' else argv[3]} of {job.path} took more than {job.clone_timeout_s:.0f} s"
        except OSError as e:
            return None, "", f"git could not run: {e}"
        if done.returncode != 0:
            what = "clone" if argv[1] == "clone" else f"checkout of {job.commit}"
            return None, "", f"git {what} of {job.path} failed: {_git_message(done.stderr)}"
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


def _git_message(stderr: str) -> str:
    """git's first fatal/error line (the following ones are generic advice), else its last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "no message")


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
