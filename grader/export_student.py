"""`hw2-grade export-student DIR`: write the student edition of the grader, an installable project with
the public checks only.

What goes in DIR:
- `grader/`: every module of the grading pipeline (sandbox, children, report, badge, Gradescope JSON), the
  student rubric `grader/rubric_student/`, and of the instructor rubric `grader/rubric/` only the table of
  items (`__init__.py`), its glue (`common.py`, `conftest.py`) and the modules the student rubric imports
  checks from (they must be free of reference imports: the export fails otherwise). The instructor's
  problem modules are left out: they compare with `solutions/` and with the judges holding the answers.
  `grader/EDITION` says "student", so the installed `hw2-grade` runs the student rubric by default.
- `grader/calibration.json` when present: pass marks, protocol and the reference's training curves (numbers
  that say how well a correct network trains, not how to write one).
- NOT `grader/reference_classifier.npz`: it is the reference NetBN's trained weights, i.e. the reference
  solution in binary form (its tensor names and shapes spell out the architecture); only the instructor's
  run uses it, for the accuracy-drop criterion of 5.4.3.
- `checks/`: the modules that neither import `solutions` nor a module that does (`checks/answer_format.py`,
  the public answer parsers, is one of them); the judges of Problems 1-4 and the He-init proofs, which hold
  or derive the reference answers, are left out.
- `templates/`, a rewritten `pyproject.toml` (distribution `hw2-grade-student`, no `solutions` packages, no
  reference data), a `tox.ini` whose `grade` environment runs `hw2-grade . --out out --edition student`, and
  a README for students.
- No `solutions/`, no `tests/` (they use the reference), nothing else.

Before it returns, the export checks itself: no reference answer of solutions/reference/answers.toml and no
line of solutions/ source appears in any exported file (tests/grader/test_export_student.py checks the same
independently, with more of the reference's derived answers).
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PRIVATE_PACKAGES = ("solutions",)  # the reference solutions and answers: never exported
REFERENCE_DATA = ("grader/reference_classifier.npz",)  # trained reference network: never exported
PUBLIC_DATA = ("grader/calibration.json",)  # exported when present
INSTRUCTOR_RUBRIC_GLUE = ("__init__.py", "common.py", "conftest.py")  # of grader/rubric/: no checks, no answers
STUDENT_DISTRIBUTION = "hw2-grade-student"
EDITION_FILE = "grader/EDITION"
MIN_SOURCE_LINE = 25  # reference source lines at least this long (stripped) must not appear in the export


class ExportError(Exception):
    """The export cannot be written (bad target, not a source checkout, a public module needing a private one)."""


@dataclass
class ExportPlan:
    files: list[str] = field(default_factory=list)  # relative paths copied as they are
    left_out: dict[str, str] = field(default_factory=dict)  # relative path -> why it stays behind


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def _module_name(rel: str) -> str:
    return rel[:-3].replace("/", ".").removesuffix(".__init__")


def imported_modules(path: Path, top_level_only: bool = False) -> set[str]:
    """Dotted names a module imports (`from a.b import c` gives a.b and a.b.c), at any depth unless
    `top_level_only` (then only statements executed on import: module level, if/try blocks included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if top_level_only:
        nodes, stack = [], list(tree.body)
        while stack:
            node = stack.pop()
            nodes.append(node)
            if isinstance(node, (ast.If, ast.Try, ast.With)):
                stack += [n for part in ("body", "orelse", "finalbody", "handlers") for n in getattr(node, part, [])]
            if isinstance(node, ast.ExceptHandler):
                stack += node.body
    else:
        nodes = list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _is_private_name(name: str, private: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in (*PRIVATE_PACKAGES, *private))


def private_checks(root: Path) -> dict[str, str]:
    """checks modules that import `solutions`, directly or through another such module -> why."""
    modules = {f"checks.{p.stem}": p for p in sorted((root / "checks").glob("*.py"))}
    imports = {m: imported_modules(p) for m, p in modules.items()}
    private: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for m, names in imports.items():
            if m in private:
                continue
            hit = sorted(n for n in names if _is_private_name(n, set(private)))
            if hit:
                private[m] = f"imports {hit[0]} (reference solutions or answers)"
                changed = True
    return private


def plan_export(root: Path) -> ExportPlan:
    plan = ExportPlan()
    private = private_checks(root)
    for m, why in private.items():
        plan.left_out[f"checks/{m.split('.')[1]}.py"] = why
    plan.files += [f"checks/{p.name}" for p in sorted((root / "checks").glob("*.py")) if f"checks.{p.stem}" not in private]
    plan.files += [f"grader/{p.name}" for p in sorted((root / "grader").glob("*.py"))]
    student = sorted((root / "grader" / "rubric_student").glob("*.py"))
    if not student:
        raise ExportError(f"{root / 'grader' / 'rubric_student'} holds no student rubric")
    plan.files += [f"grader/rubric_student/{p.name}" for p in student]
    # Instructor rubric: the item table and glue, plus the modules the student rubric takes checks from.
    wanted = {n for p in student for n in imported_modules(p)}
    for p in sorted((root / "grader" / "rubric").glob("*.py")):
        rel, name = f"grader/rubric/{p.name}", _module_name(f"grader/rubric/{p.name}")
        needed = p.name in INSTRUCTOR_RUBRIC_GLUE or name in wanted or any(w.startswith(name + ".") for w in wanted)
        if not needed:
            plan.left_out[rel] = "instructor rubric module (judges against the reference)"
            continue
        hit = sorted(n for n in imported_modules(p) if _is_private_name(n, set(private)))
        if hit:
            raise ExportError(f"{rel} is needed by the student rubric but imports {hit[0]}: move the public check "
                              f"it provides into a module free of reference imports")
        plan.files.append(rel)
    for rel in PUBLIC_DATA:
        if (root / rel).is_file():
            plan.files.append(rel)
    for rel in REFERENCE_DATA:
        if (root / rel).exists():
            plan.left_out[rel] = "trained reference network (the reference solution in binary form)"
    plan.files += [f"templates/{p.name}" for p in sorted((root / "templates").iterdir()) if p.is_file()]
    for package in PRIVATE_PACKAGES:
        plan.left_out[f"{package}/"] = "reference solutions and answers"
    plan.left_out["tests/"] = "the test suite uses the reference solutions"
    _check_student_imports(root, plan)
    return plan


def _project_module(root: Path, name: str) -> str | None:
    """The project module (a .py file or package) that an imported dotted name refers to, or None."""
    for candidate in (name, name.rsplit(".", 1)[0]):
        base = root / candidate.replace(".", "/")
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return candidate
    return None


def _check_student_imports(root: Path, plan: ExportPlan) -> None:
    """Every exported module's import-time imports of project modules resolve inside the export, and the student
    rubric imports nothing private at any depth (lazy imports elsewhere are instructor-only code paths)."""
    shipped = {_module_name(f) for f in plan.files if f.endswith(".py")}
    for rel in (f for f in plan.files if f.endswith(".py")):
        path = root / rel
        deep = rel.startswith("grader/rubric_student/")
        for name in sorted(imported_modules(path, top_level_only=not deep)):
            if name.split(".")[0] in PRIVATE_PACKAGES:
                raise ExportError(f"{rel} imports {name}: {'the student rubric' if deep else 'an exported module'} "
                                  f"must not need the reference")
            module = _project_module(root, name)
            if module is not None and module not in shipped:
                raise ExportError(f"{rel} imports {name}, which the student edition does not ship")


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
    packages = sorted({_module_name(f).rsplit(".", 1)[0] for f in plan.files if f.endswith(".py")})
    st = data.setdefault("tool", {}).setdefault("setuptools", {})
    st["packages"] = packages
    st["include-package-data"] = True
    # calibration.json is listed even when absent (a glob matching nothing is ignored): a calibration dropped
    # into the exported tree before it is published ships with it.
    data_files = sorted({Path(f).name for f in (*PUBLIC_DATA, EDITION_FILE)})
    st["package-data"] = {"grader": data_files}
    st["data-files"] = {"share/hw2-grade/templates": [f for f in plan.files if f.startswith("templates/")]}
    data["tool"].pop("pytest", None)  # no test suite in the student edition
    return ("# The student edition of hw2-grade, written by `hw2-grade export-student` (do not edit by hand).\n"
            + dump_toml(data))


def student_tox_ini() -> str:
    from grader.ci_init import GRADE_COMMAND, TOX_ENV, shell

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
    from grader.ci_init import DEFAULT_GRADER_SPEC, GRADE_COMMAND, shell
    from grader.rubric import RUBRIC
    from grader.rubric_student import CHECKS

    rows = []
    for item in RUBRIC:
        scored = "by hand" if item.manual else "here" if item.public else "instructor's run only"
        check = "graded by hand (your text is shown in the report)" if item.manual else CHECKS.get(item.number, "")
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
    for package in PRIVATE_PACKAGES:
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
    from grader.grade import installed_edition

    p = argparse.ArgumentParser(prog="hw2-grade export-student", description="Write the student edition (public "
                                "checks only, no reference solutions or answers) into a new folder.")
    p.add_argument("folder", type=Path, help="where to write it (must not exist, or be empty)")
    args = p.parse_args(argv)
    if installed_edition() == "student":
        print("hw2-grade: error: this is already the student edition; export from the instructor's checkout",
              file=sys.stderr)
        return 2
    try:
        plan = export_student(args.folder)
    except ExportError as e:
        print(f"hw2-grade: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote the student edition to {args.folder} ({len(plan.files) + 4} files)")
    for rel, why in sorted(plan.left_out.items()):
        print(f"  left out {rel}: {why}")
    return 0
