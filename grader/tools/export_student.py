"""`hw2-grade export-student DIR`: write the student edition of the grader, an installable project that
runs the public judges only.

What is private is declared here, by path (`PRIVATE`), and visible in the layout: the reference solutions
(`solutions/`), the answer-holding judges (`grader/rubric/answers/`), the reference networks and proofs
(`grader/reference/`), the instructor's tools, the trained reference classifier, and the checks modules
that hold or derive reference answers. Everything else of `grader/` and `checks/` ships, with
`templates/`, a rewritten `pyproject.toml` (distribution `hw2-grade-student`), a `tox.ini` whose `grade`
environment runs `hw2-grade . --out out --edition student`, a student README, and `grader/EDITION`
saying "student", so that the installed `hw2-grade` runs each item's public judge (grader.rubric.items).
`grader/calibration.json` ships when present: pass marks and the reference's training curves are numbers
that say how well a correct network trains, not how to write one.

Before it returns, the export checks itself: no reference answer of solutions/reference/answers.toml and no
line of solutions/ source appears in any exported file (tests/grader/test_export_student.py checks the same
independently, with more of the reference's derived answers).
"""
from __future__ import annotations

import json
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grader.messages import ArgumentParser, fail
from grader.options import installed_edition
from grader.rubric.items import RUBRIC
from grader.tools.ci_init import DEFAULT_GRADER_SPEC, GRADE_COMMAND, TOX_ENV, shell

# Paths (files, or folders ending in "/") that never leave the instructor's tree, and why.
PRIVATE = {
    "solutions/": "reference solutions and answers",
    "tests/": "the test suite uses the reference solutions",
    "grader/rubric/answers/": "judges that compare with the reference solutions and answers",
    "grader/reference/": "the reference networks and proofs (built on solutions/)",
    "grader/tools/calibrate.py": "trains the reference solutions (instructor's command)",
    "grader/tools/bench.py": "grades the reference solution (instructor's command)",
    "grader/tools/export_student.py": "writes this export (instructor's command)",
    "grader/reference_classifier.npz": "trained reference network (the reference solution in binary form)",
    "checks/bptt.py": "derives the BPTT reference gradients (solutions.bptt)",
    "checks/unrolled_state.py": "derives G_t (solutions.unrolled_state)",
    "checks/alexnet_sync.py": "derives the synchronisation stages (solutions.alexnet_sync)",
    "checks/fc_complexity.py": "derives the complexity answers (solutions.fc_complexity)",
    "checks/he_init.py": "the He-initialisation proofs (solutions.he_init)",
}
SHIPPED_FOLDERS = ("grader", "checks", "templates")
SHIPPED_DATA = ("grader/calibration.json",)  # non-Python files of grader/ that ship when present
STUDENT_DISTRIBUTION = "hw2-grade-student"
EDITION_FILE = "grader/EDITION"
MIN_SOURCE_LINE = 25  # reference source lines at least this long (stripped) must not appear in the export


class ExportError(Exception):
    """The export cannot be written (bad target, not a source checkout, reference text in the export)."""


@dataclass
class ExportPlan:
    files: list[str] = field(default_factory=list)  # relative paths copied as they are
    left_out: dict[str, str] = field(default_factory=dict)  # relative path -> why it stays behind


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def private_reason(rel: str) -> str | None:
    """Why `rel` (a path relative to the project root) stays behind, or None when it ships."""
    for path, why in PRIVATE.items():
        if rel == path or (path.endswith("/") and rel.startswith(path)):
            return why
    return None


def plan_export(root: Path) -> ExportPlan:
    plan = ExportPlan()
    for folder in SHIPPED_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            why = private_reason(rel)
            if why is not None:
                top = next(p for p in PRIVATE if rel == p or rel.startswith(p))
                plan.left_out[top] = why
            elif folder == "templates" or rel.endswith(".py") or rel in SHIPPED_DATA:
                plan.files.append(rel)
    plan.left_out.update({p: why for p, why in PRIVATE.items() if p.startswith(("solutions", "tests"))})
    return plan


# ----------------------------------------------------------------------------------------------------------
# Generated files
# ----------------------------------------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's string escapes are TOML basic-string escapes
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + "".join(f"    {_toml_value(v)},\n" for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: dict, prefix: str = "") -> str:
    """TOML for the subset pyproject.toml uses: tables of strings, numbers, booleans and arrays of them."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = (f"[{prefix}]\n" if prefix and lines else "") + "".join(line + "\n" for line in lines)
    for k, v in data.items():
        if isinstance(v, dict):
            sub = dump_toml(v, f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k))
            out += ("\n" if out else "") + sub
    return out


def student_pyproject(root: Path, plan: ExportPlan) -> str:
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    project["name"] = STUDENT_DISTRIBUTION
    project["description"] = ("Student edition of hw2-grade: the public checks of ELEG 5491 homework 2 "
                              "(no reference solutions or answers)")
    project["readme"] = "README.md"
    project.pop("optional-dependencies", None)  # the test extras: no tests ship
    packages = sorted({f.rsplit("/", 1)[0].replace("/", ".") for f in plan.files if f.endswith("/__init__.py")})
    st = data.setdefault("tool", {}).setdefault("setuptools", {})
    st["packages"] = packages
    st["include-package-data"] = True
    # calibration.json is listed even when absent (a glob matching nothing is ignored): a calibration dropped
    # into the exported tree before it is published ships with it.
    data_files = sorted({Path(f).name for f in (*SHIPPED_DATA, EDITION_FILE)})
    st["package-data"] = {"grader": data_files}
    st["data-files"] = {"share/hw2-grade/templates": [f for f in plan.files if f.startswith("templates/")]}
    data["tool"].pop("pytest", None)  # no test suite in the student edition
    return ("# The student edition of hw2-grade, written by `hw2-grade export-student` (do not edit by hand).\n"
            + dump_toml(data))


def student_tox_ini() -> str:
    return f"""\
# The student edition of hw2-grade, written by `hw2-grade export-student`.
# `tox -e {TOX_ENV}` installs this student edition and grades the folder named by HW2_SUBMISSION (default: this
# folder, if you keep submission.py and answers.toml here) into out/ there. In your own repository,
# `hw2-grade init-ci .` writes a tox.ini whose `{TOX_ENV}` environment runs the same command.
[tox]
requires = tox>=4
env_list = {TOX_ENV}

[testenv:{TOX_ENV}]
description = grade a homework-2 repository with the student edition (public checks only)
package = wheel
pass_env =
    HW2_CIFAR10
    XDG_CACHE_HOME
    HOME
    CI
change_dir = {{env:HW2_SUBMISSION:{{tox_root}}}}
commands =
    {shell(GRADE_COMMAND)}
"""


def _student_section(root: Path) -> str:
    """The instructor README's "For students" section (the submission contract), if there is one."""
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    m = re.search(r"^## For students\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    return m.group(1).strip() if m else ""


def student_readme(root: Path) -> str:
    rows = []
    for item in RUBRIC:
        scored = "by hand" if item.manual else "here" if item.public else "instructor's run only"
        check = "graded by hand (your text is shown in the report)" if item.manual else item.student_check
        rows.append(f"| {item.number} | {item.name} | {item.points:g}{' bonus' if item.bonus else ''} | {scored} | {check} |")
    instructor_only = ", ".join(i.number for i in RUBRIC if not i.public and not i.manual)
    contract = _student_section(root)
    return f"""\
# hw2-grade, student edition

Self-grading for ELEG 5491 homework 2. This is the student edition of the course's grader: it runs the
public checks of every rubric item on your repository and writes the same report as the instructor's run,
but it holds no reference solution and no reference answer.

Items {instructor_only} are checked here for form only: your `bptt_gradients` runs and returns arrays of
the right shapes with finite values, your answers parse, your stage names are stage names. Whether they are
right is decided only by the instructor's run; their feedback in the report starts with "[public checks
only: the instructor's run scores this item]", and their points here only say that the form is right. The
table below says what is checked for every item.

## Install

Python 3.11:

```sh
pip install PATH-OR-URL-OF-THIS-FOLDER      # e.g. pip install "{DEFAULT_GRADER_SPEC}"
```

## Grade your repository

```sh
cd my-hw2 && {shell(GRADE_COMMAND)}
```

then open `out/report.html`. CIFAR-10 is read from `HW2_CIFAR10` (an image-folder zip or directory, or the
official `cifar-10-batches-py`), else downloaded once into `~/.cache/hw2-grade`.

## Grade on every push (GitHub Actions)

```sh
hw2-grade init-ci my-hw2 [--grader PIP-REQUIREMENT] [--repo OWNER/REPO]
```

writes `.github/workflows/hw2-grade.yml`, a `tox.ini` (if your repository has none) and the badge line of
`README.md`. The workflow installs tox, runs `tox -e grade` (which installs this student edition from
`--grader`, default `{DEFAULT_GRADER_SPEC}` — a placeholder unless the course publishes it there) and grades
the repository; the report is the run's artifact `hw2-grade-report`, the badge is pushed to the `badges`
branch. `tox -e grade` runs the same thing on your machine.

## Items

| item | name | points | scored | checked in this edition |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

## Your repository

{contract}
"""


# ----------------------------------------------------------------------------------------------------------
# Writing and self-check
# ----------------------------------------------------------------------------------------------------------


def reference_needles(root: Path) -> list[str]:
    """Text that must not leave the instructor's tree: the answers of solutions/reference/answers.toml (short
    ones whitespace-free, long ones line by line) and the reference source lines of MIN_SOURCE_LINE+ chars."""
    needles: set[str] = set()
    answers = root / "solutions" / "reference" / "answers.toml"
    if answers.exists():
        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    yield from walk(x)
            elif isinstance(v, list):
                yield ",".join(map(str, v))
            else:
                yield str(v)

        for value in walk(tomllib.loads(answers.read_text(encoding="utf-8"))):
            lines = [ln.strip() for ln in value.splitlines() if len(ln.strip()) >= MIN_SOURCE_LINE]
            needles.update(_squash(ln) for ln in lines or [value] if len(_squash(ln)) >= 8)
    for package in ("solutions",):
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".toml"):
                for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                    s = line.strip()
                    if (len(s) >= MIN_SOURCE_LINE and not s.startswith(("import ", "from ", "#"))
                            and sum(ch.isalnum() for ch in s) >= MIN_SOURCE_LINE // 2):  # not a rule of dashes
                        needles.add(_squash(s))
    return sorted(needles)


def _squash(text: str) -> str:
    """Text without whitespace and quotes: the same answer written with other spacing or quotes still matches."""
    return re.sub(r"[\s'\"]+", "", text)


def find_leaks(folder: Path, needles: list[str]) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in any file under folder (binary files read as text too)."""
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = _squash(path.read_bytes().decode("utf-8", errors="ignore"))
            hits += [(str(path.relative_to(folder)), n) for n in needles if n in text]
    return hits


def export_student(target: Path, root: Path | None = None) -> ExportPlan:
    """Write the student edition into `target` (missing or empty); returns what was copied and left out."""
    root = root or project_root()
    if not (root / "pyproject.toml").is_file() or not (root / "grader").is_dir():
        raise ExportError(f"{root} is not a source checkout of hw2-grade (no pyproject.toml): export from one")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ExportError(f"{target} exists and is not an empty folder")
    plan = plan_export(root)
    target.mkdir(parents=True, exist_ok=True)
    for rel in plan.files:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target / rel)
    (target / EDITION_FILE).write_text("student\n", encoding="utf-8")
    (target / "pyproject.toml").write_text(student_pyproject(root, plan), encoding="utf-8")
    (target / "tox.ini").write_text(student_tox_ini(), encoding="utf-8")
    (target / "README.md").write_text(student_readme(root), encoding="utf-8")
    leaks = find_leaks(target, reference_needles(root))
    if leaks:
        shutil.rmtree(target, ignore_errors=True)
        shown = "; ".join(f"{f}: {n[:60]!r}" for f, n in leaks[:5])
        raise ExportError(f"reference text would reach the student edition ({len(leaks)} hits: {shown}); nothing written")
    return plan


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="hw2-grade export-student", description="Write the student edition (public "
                       "checks only, no reference solutions or answers) into a new folder.")
    p.add_argument("folder", type=Path, help="where to write it (must not exist, or be empty)")
    args = p.parse_args(argv)
    if installed_edition() == "student":
        return fail("this is already the student edition; export from the instructor's checkout", prog=p.prog)
    try:
        plan = export_student(args.folder)
    except ExportError as e:
        return fail(str(e), prog=p.prog)
    print(f"wrote the student edition to {args.folder} ({len(plan.files) + 4} files)")
    for rel, why in sorted(plan.left_out.items()):
        print(f"  left out {rel}: {why}")
    return 0
