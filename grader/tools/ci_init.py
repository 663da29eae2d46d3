"""`hw2-grade init-ci DIR`: set up a student repository for continuous self-grading on GitHub Actions.

Writes, in DIR:
- `.github/workflows/hw2-grade.yml`: on every push (and by hand), check out the repository, set up Python 3.11,
  `pip install tox`, then `tox -e grade`, which installs the student edition of the grader (the pip
  requirement given by `--grader`) and grades the repository; `out/report.html` is uploaded as an artifact and
  `out/badge.svg` is published by force-pushing it, alone, to the `badges` branch;
- `tox.ini`, unless the repository has one: its `grade` environment installs the student edition and runs
  `hw2-grade . --out out --edition student`;
- `README.md`: the badge line (the image on the `badges` branch, linking to the workflow's runs), appended once.

The commands live in one place, the constants below: the workflow and the tox file are written from them, and
the tests run the same constants locally.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from grader.messages import ArgumentParser, fail

PYTHON_VERSION = "3.11"
WORKFLOW_FILE = Path(".github") / "workflows" / "hw2-grade.yml"
WORKFLOW_NAME = "hw2-grade"
TOX_ENV = "grade"
GRADER_ENV_VAR = "HW2_GRADER_SPEC"  # the pip requirement of the student edition, read by tox.ini's deps
DEFAULT_GRADER_SPEC = "hw2-grade-student @ git+https://github.com/COURSE-ORG/hw2-grade-student@main"  # placeholder
STUDENT_DISTRIBUTION = "hw2-grade-student"  # the student edition's distribution name (grader/export_student.py)
BADGE_BRANCH = "badges"
OUT_DIR = "out"

# The workflow's shell commands, in order; the tests run exactly these.
INSTALL_TOX = ("python", "-m", "pip", "install", "tox")
RUN_TOX = ("tox", "-e", TOX_ENV)
# What the `grade` environment of tox.ini runs (student edition, the repository itself, outputs in out/).
GRADE_COMMAND = ("hw2-grade", ".", "--out", OUT_DIR, "--edition", "student")
WORKFLOW_COMMANDS = (INSTALL_TOX, RUN_TOX)
REPORT_PATH = f"{OUT_DIR}/report.html"
BADGE_PATH = f"{OUT_DIR}/badge.svg"

PUBLISH_BADGE = f"""\
set -eu
badge="$RUNNER_TEMP/hw2-badge"
rm -rf "$badge" && mkdir -p "$badge"
cp {BADGE_PATH} "$badge/badge.svg"
cd "$badge"
git init -q -b {BADGE_BRANCH}
git add badge.svg
git -c user.name="github-actions[bot]" -c user.email="41898282+github-actions[bot]@users.noreply.github.com" \\
  commit -q -m "hw2-grade badge for $GITHUB_SHA"
git push -q -f "https://x-access-token:${{GITHUB_TOKEN}}@github.com/${{GITHUB_REPOSITORY}}.git" HEAD:{BADGE_BRANCH}
"""


def shell(command: tuple[str, ...]) -> str:
    """A command tuple as the workflow writes it (every word is a plain word: no quoting needed)."""
    assert all(re.fullmatch(r"[\w.\-=/]+", w) for w in command), command
    return " ".join(command)


def workflow(grader_spec: str) -> dict:
    """The workflow as a plain mapping (written as YAML)."""
    return {
        "name": WORKFLOW_NAME,
        "on": {"push": {"branches-ignore": [BADGE_BRANCH]}, "workflow_dispatch": {}},
        "permissions": {"contents": "write"},  # to push the badge branch
        "concurrency": {"group": "hw2-grade-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {
            "grade": {
                "runs-on": "ubuntu-latest",
                "timeout-minutes": 60,
                "steps": [
                    {"uses": "actions/checkout@v4"},
                    {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON_VERSION}},
                    {"name": "Cache CIFAR-10", "uses": "actions/cache@v4",
                     "with": {"path": "~/.cache/hw2-grade", "key": "hw2-grade-cifar10-v1"}},
                    {"name": "Install tox", "run": shell(INSTALL_TOX)},
                    {"name": "Grade (tox installs the student edition, then runs hw2-grade)",
                     "run": shell(RUN_TOX), "env": {GRADER_ENV_VAR: grader_spec}},
                    {"name": "Upload the report", "if": "always()", "uses": "actions/upload-artifact@v4",
                     "with": {"name": "hw2-grade-report", "path": REPORT_PATH, "if-no-files-found": "error"}},
                    {"name": f"Publish the badge to the {BADGE_BRANCH} branch",
                     "if": "always() && github.event_name == 'push'",
                     "env": {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"},
                     "run": PUBLISH_BADGE},
                ],
            }
        },
    }


def workflow_yaml(grader_spec: str) -> str:
    import yaml

    header = (f"# Written by `hw2-grade init-ci`: grades this repository with the student edition of hw2-grade on\n"
              f"# every push; the report is the run's artifact, the badge lives on the `{BADGE_BRANCH}` branch.\n")
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):  # multi-line scripts as literal blocks, as people write them
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    # `on` is quoted by PyYAML (YAML 1.1 would read a bare on as true), which GitHub reads the same.
    return header + yaml.dump(workflow(grader_spec), Dumper=Dumper, sort_keys=False, width=120, allow_unicode=True)


def tox_ini(grader_spec: str) -> str:
    """The student repository's tox.ini: one `grade` environment running GRADE_COMMAND."""
    return f"""\
# Written by `hw2-grade init-ci`. `tox -e grade` grades this repository with the student edition of
# hw2-grade and writes {OUT_DIR}/results.json, {OUT_DIR}/report.html and {OUT_DIR}/badge.svg.
[tox]
requires = tox>=4
env_list = {TOX_ENV}

[testenv:{TOX_ENV}]
description = grade this repository with the student edition of hw2-grade
skip_install = true
deps = {{env:{GRADER_ENV_VAR}:{grader_spec}}}
pass_env =
    HW2_CIFAR10
    XDG_CACHE_HOME
    HOME
    CI
commands =
    {shell(GRADE_COMMAND)}
"""


def badge_line(repo: str | None) -> str:
    """The README line showing the badge (the image on the badges branch, linking to the workflow's runs)."""
    slug = repo or "OWNER/REPO"
    return (f"[![hw2-grade](https://raw.githubusercontent.com/{slug}/{BADGE_BRANCH}/badge.svg)]"
            f"(https://github.com/{slug}/actions/workflows/{WORKFLOW_FILE.name})")


def github_slug(folder: Path) -> str | None:
    """OWNER/REPO of the folder's `origin` remote when it is on GitHub, else None."""
    try:
        url = subprocess.run(["git", "-C", str(folder), "remote", "get-url", "origin"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"github\.com[:/]+([\w.\-]+/[\w.\-]+?)(?:\.git)?/?$", url)
    return m.group(1) if m else None


def installed_grader_spec() -> str | None:
    """The pip requirement this student edition was installed from, when that is a VCS or web URL that a CI
    runner can install from too (PEP 610's direct_url.json); None otherwise."""
    from importlib import metadata

    try:
        raw = metadata.distribution(STUDENT_DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    url = str(info.get("url", ""))
    if not url.startswith(("https://", "http://")):
        return None
    vcs = info.get("vcs_info") or {}
    if vcs.get("vcs") == "git":
        return f"{STUDENT_DISTRIBUTION} @ git+{url}@{vcs.get('commit_id') or vcs.get('requested_revision') or 'HEAD'}"
    return f"{STUDENT_DISTRIBUTION} @ {url}"


def append_badge(readme: Path, line: str) -> bool:
    """Append the badge line to README.md (created if missing) unless a hw2-grade badge is there; True if added."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if f"/{BADGE_BRANCH}/badge.svg" in text and "hw2-grade" in text:
        return False
    if not text:
        text = f"# {readme.parent.resolve().name}\n"
    readme.write_text(text.rstrip("\n") + "\n\n" + line + "\n", encoding="utf-8")
    return True


def init_ci(folder: Path, grader_spec: str, repo: str | None = None) -> list[str]:
    """Write the workflow, tox.ini (if missing) and the README badge into `folder`; returns what was done."""
    done = []
    wf = folder / WORKFLOW_FILE
    wf.parent.mkdir(parents=True, exist_ok=True)
    wf.write_text(workflow_yaml(grader_spec), encoding="utf-8")
    done.append(f"wrote {WORKFLOW_FILE}")
    tox = folder / "tox.ini"
    if tox.exists():
        has_env = f"[testenv:{TOX_ENV}]" in tox.read_text(encoding="utf-8", errors="replace")
        done.append("kept the existing tox.ini" + ("" if has_env else
                    f" (WARNING: it has no [testenv:{TOX_ENV}] environment; the workflow's `tox -e {TOX_ENV}` "
                    f"needs one running `{shell(GRADE_COMMAND)}`)"))
    else:
        tox.write_text(tox_ini(grader_spec), encoding="utf-8")
        done.append("wrote tox.ini")
    slug = repo or github_slug(folder)
    added = append_badge(folder / "README.md", badge_line(slug))
    done.append("added the badge to README.md" if added else "README.md already shows the badge")
    if slug is None:
        done.append("WARNING: no GitHub remote found: replace OWNER/REPO in README.md's badge line (or rerun with --repo)")
    return done


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="hw2-grade init-ci", description="Set up a student repository to grade itself "
                                "on GitHub Actions (workflow, tox.ini, README badge).")
    p.add_argument("folder", type=Path, help="the student repository (its root folder)")
    p.add_argument("--grader", default=None, help="pip requirement of the student edition the workflow installs "
                   f"(default: where this student edition was installed from, else {DEFAULT_GRADER_SPEC!r})")
    p.add_argument("--repo", default=None, help="OWNER/REPO on GitHub for the badge URL (default: from git's origin)")
    args = p.parse_args(argv)
    if not args.folder.is_dir():
        return fail(f"{args.folder} is not a folder", prog=p.prog)
    if args.repo is not None and not re.fullmatch(r"[\w.\-]+/[\w.\-]+", args.repo):
        return fail(f"--repo must look like OWNER/REPO, got {args.repo!r}", prog=p.prog)
    spec = args.grader or installed_grader_spec() or DEFAULT_GRADER_SPEC
    if "\n" in spec or "}" in spec:
        return fail("--grader must be one pip requirement on one line", prog=p.prog)
    for line in init_ci(args.folder, spec, args.repo):
        print(line)
    if spec == DEFAULT_GRADER_SPEC:
        print(f"NOTE: the workflow installs the placeholder {DEFAULT_GRADER_SPEC!r}: pass --grader with the "
              f"course's student edition (a pip requirement) unless the course publishes it there")
    return 0
