"""grader/evidence/origin.py: the report's title names the repository (or folder) and the commit, read from
real git checkouts without running git in them."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from grader.evidence.origin import Origin, origin_of

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def _commit(repo: Path) -> str:
    (repo / "submission.py").write_text("import torch\n")
    subprocess.run([*GIT, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-q", "-m", "hw2"], check=True)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_github_clone_is_named_owner_slash_repo_with_its_commit(tmp_path):
    repo = tmp_path / "checkout"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "https://github.com/eleg5491-classroom/hw2-alice.git"],
                   check=True)
    head = _commit(repo)
    assert origin_of(repo).name == "eleg5491-classroom/hw2-alice"
    assert origin_of(repo).commit == head[:12]


def test_packed_refs_detached_head_and_worktrees_give_the_commit(tmp_path):
    repo = tmp_path / "alice"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    head = _commit(repo)
    subprocess.run(["git", "-C", str(repo), "pack-refs", "--all"], check=True)  # no loose ref file left
    assert origin_of(repo).commit == head[:12] and origin_of(repo).name == "alice"
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "--detach"], check=True)
    assert origin_of(repo).commit == head[:12]
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "other"], check=True)
    assert origin_of(tmp_path / "wt").commit == head[:12]  # .git is a file pointing into the main repository


def test_a_plain_folder_is_named_by_its_own_name_never_a_path(tmp_path, monkeypatch):
    folder = tmp_path / "chan_tai_man"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert origin_of(Path(".")).name == "chan_tai_man" and origin_of(Path(".")).commit == ""


def test_a_hostile_git_folder_gives_no_commit_and_runs_nothing(tmp_path):
    repo = tmp_path / "mallory"
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/../../../../etc/passwd\n")
    (repo / ".git" / "config").write_text('[core]\n\tfsmonitor = "touch PWNED"\n[remote "origin"]\n\turl = ' + "x" * 10**6)
    assert origin_of(repo).commit == "" and origin_of(repo).name == "mallory"
    assert not (repo / "PWNED").exists() and not Path("PWNED").exists()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".git" / "config").unlink()
    os.mkfifo(repo / ".git" / "config")  # reading it would wait forever for a writer
    (repo / ".git" / "refs" / "heads" / "main").symlink_to("/dev/zero")
    assert origin_of(repo) == Origin("mallory", "")  # returns at all: neither file is read
