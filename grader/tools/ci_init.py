"""`hw2-grade init-ci DIR`: set up a student repository for continuous self-grading on GitHub Actions.

Writes, in DIR:
- `.github/workflows/hw2-grade.yml`: on every push (and by hand), check out the repository, set up Python 3.11
  with pip's cache, install bubblewrap (the student's code runs sandboxed in CI as on a laptop), restore the
  CIFAR-10 cache, `pip install tox`, then `tox -e grade`, which installs the student edition of the grader
  (the pip requirement given by `--grader`, with the CPU build of torch rather than the multi-GB CUDA wheels)
  and grades the repository. `out/` (report, results, badge) is uploaded as an artifact and the score written
  to the run's job summary: both work in private (GitHub Classroom) repositories. Only after a complete grade,
  never a failed or cancelled one, `out/badge.svg` is also force-pushed, alone, to the `badges` branch, unless
  `--no-badge-branch` (a read-only token then costs nothing; a refused push does not fail the run);
- `tox.ini`, unless the repository has one: its `grade` environment installs the student edition and runs
  `hw2-grade . --out out --edition student`;
- `README.md`: the badge line, appended once: the image on the `badges` branch, or without it the workflow's
  own status badge, each linking to the workflow's runs.

The commands live in one place, the constants below: the workflow and the tox file are written from them, and
the tests run the same constants locally.
"""
from __future__ import annotations

import argparse
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
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # torch's CPU-only wheels (about 200 MB, not 2-3 GB)
DATA_CACHE = "~/.cache/hw2-grade"  # CIFAR-10 and its decoded arrays (grader.data.default_cache_dir)
ARTIFACT = "hw2-grade-report"

# The workflow's shell commands, in order; the tests run exactly these.
INSTALL_TOX = ("python", "-m", "pip", "install", "tox")
RUN_TOX = ("tox", "-e", TOX_ENV)
# What the `grade` environment of tox.ini runs (student edition, the repository itself, outputs in out/).
GRADE_COMMAND = ("hw2-grade", ".", "--out", OUT_DIR, "--edition", "student")
WORKFLOW_COMMANDS = (INSTALL_TOX, RUN_TOX)
REPORT_PATH = f"{OUT_DIR}/report.html"
BADGE_PATH = f"{OUT_DIR}/badge.svg"

# Ubuntu 24.04 runners forbid unprivileged user namespaces through AppArmor unless allowed; bubblewrap needs them.
INSTALL_BUBBLEWRAP = """\
sudo apt-get update -qq
sudo apt-get install -y -qq --no-install-recommends bubblewrap
sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 || true
bwrap --ro-bind / / --dev /dev --unshare-all true \\
  || echo "::warning::bubblewrap cannot make a sandbox on this runner: the grade runs under resource limits only"
"""

# The job summary (a `shell: python` step, so it needs nothing the runner lacks): the score and each item.
JOB_SUMMARY = f"""\
import json, os
result = json.load(open("{OUT_DIR}/results.json", encoding="utf-8"))
cell = lambda text: str(text).replace("|", "\\\\|").replace("\\n", " ")
lines = ["## hw2-grade", "", cell(result["output"]), "", "| item | name | score |", "| --- | --- | ---: |"]
score = lambda t: f"{{t['score']:g}} / {{t['max_score']:g}}" if "score" in t else "form checked; the instructor scores it"
lines += [f"| {{cell(t['number'])}} | {{cell(t['name'])}} | {{score(t)}} |" for t in result["tests"]]
lines += ["", "The full report is the run's `{ARTIFACT}` artifact (report.html)."]
with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
    summary.write("\\n".join(lines) + "\\n")
"""

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


def workflow(grader_spec: str, badge_branch: bool = True) -> dict:
    """The workflow as a plain mapping (written as YAML)."""
    steps = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {
            "python-version": PYTHON_VERSION, "cache": "pip",
            "cache-dependency-path": "tox.ini"}},  # the repository has no requirements.txt; tox.ini names the grader
        {"name": "Install bubblewrap (sandbox for the graded code)", "run": INSTALL_BUBBLEWRAP},
        {"name": "Cache CIFAR-10", "uses": "actions/cache@v4",
         "with": {"path": DATA_CACHE, "key": "hw2-grade-cifar10-v1"}},
        {"name": "Install tox", "run": shell(INSTALL_TOX)},
        {"name": "Grade (tox installs the student edition, then runs hw2-grade)", "run": shell(RUN_TOX),
         "env": {GRADER_ENV_VAR: grader_spec, "PIP_EXTRA_INDEX_URL": TORCH_CPU_INDEX}},
        {"name": "Score in the job summary", "if": "success()", "shell": "python", "run": JOB_SUMMARY},
        {"name": "Upload the report", "if": "${{ !cancelled() }}", "uses": "actions/upload-artifact@v4",
         "with": {"name": ARTIFACT, "path": f"{OUT_DIR}/", "if-no-files-found": "warn"}},
    ]
    if badge_branch:
        steps.append({"name": f"Publish the badge to the {BADGE_BRANCH} branch",
                      "if": "success() && github.event_name == 'push'",  # a complete grade only
                      "continue-on-error": True,  # a read-only token (some classrooms) leaves the summary and artifact
                      "env": {"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"},
                      "run": PUBLISH_BADGE})
    return {
        "name": WORKFLOW_NAME,
        "on": {"push": {"branches-ignore": [BADGE_BRANCH]}, "workflow_dispatch": {}},
        "permissions": {"contents": "write" if badge_branch else "read"},  # write: to push the badge branch
        "concurrency": {"group": "hw2-grade-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {"grade": {"runs-on": "ubuntu-latest", "timeout-minutes": 60, "steps": steps}},
    }


def workflow_yaml(grader_spec: str, badge_branch: bool = True) -> str:
    import yaml

    badge = f"the badge lives on the `{BADGE_BRANCH}` branch" if badge_branch else "the score is in the job summary"
    header = (f"# Written by `hw2-grade init-ci`: grades this repository with the student edition of hw2-grade on\n"
              f"# every push; the report is the run's artifact, {badge}.\n")
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):  # multi-line scripts as literal blocks, as people write them
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    # `on` is quoted by PyYAML (YAML 1.1 would read a bare on as true), which GitHub reads the same.
    return header + yaml.dump(workflow(grader_spec, badge_branch), Dumper=Dumper, sort_keys=False, width=120, allow_unicode=True)


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
    PIP_EXTRA_INDEX_URL
    HW2_CIFAR10
    XDG_CACHE_HOME
    HOME
    CI
commands =
    {shell(GRADE_COMMAND)}
"""


def badge_line(repo: str | None, badge_branch: bool = True) -> str:
    """The README line showing the badge, linking to the workflow's runs: the score badge on the badges branch,
    or the workflow's status badge (GitHub serves it in private repositories too; the score is in the runs)."""
    slug = repo or "OWNER/REPO"
    runs = f"https://github.com/{slug}/actions/workflows/{WORKFLOW_FILE.name}"
    image = f"https://raw.githubusercontent.com/{slug}/{BADGE_BRANCH}/badge.svg" if badge_branch else f"{runs}/badge.svg"
    return f"[![hw2-grade]({image})]({runs})"


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
    if f"/{BADGE_BRANCH}/badge.svg" in text or f"/{WORKFLOW_FILE.name}/badge.svg" in text:
        return False
    if not text:
        text = f"# {readme.parent.resolve().name}\n"
    readme.write_text(text.rstrip("\n") + "\n\n" + line + "\n", encoding="utf-8")
    return True


def init_ci(folder: Path, grader_spec: str, repo: str | None = None, badge_branch: bool = True) -> list[str]:
    """Write the workflow, tox.ini (if missing) and the README badge into `folder`; returns what was done."""
    done = []
    wf = folder / WORKFLOW_FILE
    wf.parent.mkdir(parents=True, exist_ok=True)
    wf.write_text(workflow_yaml(grader_spec, badge_branch), encoding="utf-8")
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
    added = append_badge(folder / "README.md", badge_line(slug, badge_branch))
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
    p.add_argument("--badge-branch", action=argparse.BooleanOptionalAction, default=True,
                   help=f"publish the badge on a `{BADGE_BRANCH}` branch after each complete grade (default); "
                        "--no-badge-branch: the score only in the job summary and artifact (private classroom repos)")
    args = p.parse_args(argv)
    if not args.folder.is_dir():
        return fail(f"{args.folder} is not a folder", prog=p.prog)
    if args.repo is not None and not re.fullmatch(r"[\w.\-]+/[\w.\-]+", args.repo):
        return fail(f"--repo must look like OWNER/REPO, got {args.repo!r}", prog=p.prog)
    spec = args.grader or installed_grader_spec() or DEFAULT_GRADER_SPEC
    if "\n" in spec or "}" in spec:
        return fail("--grader must be one pip requirement on one line", prog=p.prog)
    for line in init_ci(args.folder, spec, args.repo, badge_branch=args.badge_branch):
        print(line)
    if spec == DEFAULT_GRADER_SPEC:
        print(f"NOTE: the workflow installs the placeholder {DEFAULT_GRADER_SPEC!r}: pass --grader with the "
              f"course's student edition (a pip requirement) unless the course publishes it there")
    return 0
