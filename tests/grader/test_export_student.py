"""`hw2-grade export-student`: the exported tree holds no reference answer and no reference source text, it
installs into a fresh virtual environment without `solutions/`, and the installed student edition grades a
submission: public items scored, the others marked as scored only by the instructor's run."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.tools.ci_init import GRADE_COMMAND, shell
from grader.tools.export_student import ExportError, export_student, plan_export
from grader.rubric.items import RUBRIC

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = ROOT / "solutions" / "reference" / "answers.toml"
SOURCE_LINE = 25  # a reference source line this long (stripped) is distinctive enough to look for
FORMAT_ONLY = "[format] "  # how a format-checked item's output begins in the student edition's results.json
QUICK_ITEMS = "1,2,3,4,5.1.1,5.1.2,5.2.1,5.3.1,5.4.1,5.4.2"
# Lazy imports of the reference on the instructor's path only (module -> what it imports there).
INSTRUCTOR_PATHS = {"grader/evidence/training.py": {"grader.reference.networks", "grader.reference.gradients"},
                    "grader/grade.py": {"grader.reference.proofs"},
                    "grader/batch/run.py": {"grader.reference.page"},
                    "grader/cli.py": set()}  # every item that needs neither data nor training
# A tiny training protocol for the installed copy (the graded runs stay real, only shorter): tests/grader's
# budget is minutes on two cores. Written into the exported tree after the leak scan, before installing.
TEST_CALIBRATION = {"protocol": {"epochs": 1, "batch_size": 64, "lr": 0.001, "momentum": 0.9, "weight_decay": 5e-4,
                                 "train_images": 1024, "log_every": 4, "threads": 2}}


def squash(text: str) -> str:
    """Whitespace and quotes dropped: an answer copied with other spacing or quoting still matches."""
    return re.sub(r"[\s'\"]+", "", text)


def reference_needles() -> dict[str, str]:
    """Distinctive reference text (squashed) -> where it comes from: the answers of answers.toml, the answers
    the reference derives (sympy expressions, the synchronisation stages), and the source lines of solutions/."""
    import solutions.fc_complexity as fc
    from solutions.alexnet_sync import sync_stages
    from solutions.unrolled_state import REASONS, unrolled_state

    needles: dict[str, str] = {}

    def add(text: str, origin: str) -> None:
        s = squash(text)
        if len(s) >= 8:
            for variant in {s, s.replace("**", "^")}:
                if origin not in needles.get(variant, "").split(" | "):
                    needles[variant] = f"{needles[variant]} | {origin}" if variant in needles else origin

    def walk(value, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(value, list):
            for sep in (",", ";"):
                add(sep.join(map(str, value)), f"answers.toml {key}")
            add(json.dumps(value), f"answers.toml {key}")
        else:
            text = str(value)
            add(text, f"answers.toml {key}")
            for line in text.splitlines():
                if len(line.strip()) >= 20:
                    add(line, f"answers.toml {key}")

    walk(tomllib.loads(ANSWERS.read_text()), "")
    for t in (2, 3, 4):
        add(str(unrolled_state(t)), f"solutions.unrolled_state.unrolled_state({t})")
    for sentence in re.split(r"(?<=[.;:])\s+", REASONS):
        if len(sentence) >= 30:
            add(sentence, "solutions.unrolled_state.REASONS")
    add(",".join(sync_stages()), "solutions.alexnet_sync.sync_stages()")
    expressions = {"weights": fc.weights(), "parameters": fc.parameters(True), "parameters(bias=False)": fc.parameters(False),
                   "sgd_multiplications": fc.sgd_multiplications(True),
                   "sgd_multiplications(bias=False)": fc.sgd_multiplications(False),
                   "path_multiplications": fc.path_multiplications()}
    for name, expr in expressions.items():
        add(str(expr), f"solutions.fc_complexity.{name}()")
    for name in ("parameters", "sgd_multiplications", "path_multiplications"):
        add(fc.asymptotic_class(name), f"solutions.fc_complexity.asymptotic_class({name!r})")
        add(str(fc.asymptotic_representative(name)), f"solutions.fc_complexity.asymptotic_representative({name!r})")
    for path in sorted((ROOT / "solutions").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            s = line.strip()
            # Imports and comments are no solution; a rule of dashes is no text.
            if len(s) >= SOURCE_LINE and not s.startswith(("import ", "from ", "#")) and sum(ch.isalnum() for ch in s) >= 12:
                add(s, f"{path.relative_to(ROOT)}:{number}")
    return needles


def leaks(folder: Path, needles: dict[str, str]) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = squash(path.read_bytes().decode("utf-8", errors="ignore"))
        found += [f"{path.relative_to(folder)}: {origin}: {needle[:80]!r}" for needle, origin in needles.items()
                  if needle in text]
    return found


@pytest.fixture(scope="module")
def needles() -> dict[str, str]:
    return reference_needles()


def test_the_scan_finds_the_reference_where_it_is(needles):
    """The scan is not vacuous: every kind of needle is found in the instructor's tree."""
    origins = {o.split(":")[0].split(" ")[0].split("(")[0] for joined in needles.values() for o in joined.split(" | ")}
    assert {"answers.toml", "solutions.fc_complexity.path_multiplications", "solutions.alexnet_sync.sync_stages",
            "solutions/bptt.py", "solutions/cnn.py"} <= origins
    hits = leaks(ROOT / "solutions", needles)
    assert any("answers.toml problem3.sync_stages" in h for h in hits)
    assert any("answers.toml problem4.parameters" in h for h in hits)
    assert any("solutions.unrolled_state.unrolled_state(3)" in h for h in hits)
    assert any("solutions/optimizers.py" in h for h in hits)


def test_exported_tree_holds_no_reference_answer_or_source(tmp_path, needles):
    out = tmp_path / "student"
    plan = export_student(out)
    found = leaks(out, needles)
    assert not found, "\n".join(found[:20])
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not any(f.startswith("solutions/") or f.endswith(".npz") or f.startswith("tests/") for f in files)
    assert (out / "grader" / "EDITION").read_text().strip() == "student"
    # No exported module imports the reference or a module that is not exported, but for the instructor-only
    # paths that import the reference where they use it (never reached in the student edition).
    shipped = {f[:-3].replace("/", ".").removesuffix(".__init__") for f in files if f.endswith(".py")}
    for f in sorted(files):
        if f.endswith(".py"):
            for name in imported_project_modules(out / f) - INSTRUCTOR_PATHS.get(f, set()):
                assert name in shipped, f"{f} imports {name}, which the student edition does not ship"
    assert {"checks/bptt.py", "checks/unrolled_state.py", "checks/alexnet_sync.py", "checks/fc_complexity.py",
            "checks/he_init.py", "grader/rubric/answers/", "grader/reference/"} <= set(plan.left_out)
    assert not any(f.startswith(("grader/rubric/answers/", "grader/reference/")) for f in files)
    assert {f"grader/rubric/public/p{n}" for n in ("1_bptt.py", "2_unrolled_state.py", "3_alexnet_sync.py",
                                                  "4_fc_complexity.py", "5_1_net.py")} <= files
    project = tomllib.loads((out / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]
    assert "grader.rubric.public" in packages and not any(p.startswith("solutions") for p in packages)
    assert "grader.rubric.answers" not in packages and "grader.reference" not in packages
    assert "solutions" not in json.dumps(project["tool"]["setuptools"])
    assert project["project"]["scripts"]["hw2-grade"] == "grader.cli:main"
    tox = (out / "tox.ini").read_text()
    assert f"\n    {shell(GRADE_COMMAND)}\n" in tox
    readme = (out / "README.md").read_text()
    assert "instructor's run" in readme and "submission.py" in readme


def test_export_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_student(tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def imported_project_modules(path: Path) -> set[str]:
    """The project modules (grader, checks, solutions) a file imports at any depth: the module itself for
    `from a.b import c` when c is a name, the submodule a.b.c when c is a module of the project."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names
                         if (ROOT / node.module.replace(".", "/") / f"{a.name}.py").exists())
    return {n for n in names if n.split(".")[0] in ("grader", "checks", "solutions")}


# ----------------------------------------------------------------------------------------------------------
# The installed student edition (shared with tests/grader/test_init_ci.py)
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentInstall:
    tree: Path  # the exported tree
    venv: Path
    bin: Path  # the venv's bin/, holding the installed hw2-grade

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        return env


_INSTALLED: dict[str, StudentInstall] = {}


def student_install(tmp_path_factory) -> StudentInstall:
    """Export, then install the tree into a fresh virtual environment (once per test session).

    The venv is created empty (`python -m venv --without-pip`: no system site-packages, none of this checkout
    on its path). Its third-party dependencies (torch is 5 GB; the tests run offline) come from this
    interpreter's site-packages through a .pth file holding that one *path*: a path line does not run the
    .pth files inside it, so an editable install of the instructor's project that lives there stays invisible.
    The tree itself is installed the ordinary way, `pip install --no-deps --no-build-isolation TREE` (its
    setuptools build backend comes from the same path); the checks below prove that `grader` is imported from
    the venv and that no `solutions` package can be found.
    """
    if "install" in _INSTALLED:
        return _INSTALLED["install"]
    base = tmp_path_factory.mktemp("student-edition")
    tree, venv = base / "hw2-grade-student", base / "venv"
    export_student(tree)
    (tree / "grader" / "calibration.json").write_text(json.dumps(TEST_CALIBRATION))  # see TEST_CALIBRATION
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    vpy = venv / "bin" / "python"
    purelib = subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    Path(purelib, "_hw2_test_dependencies.pth").write_text("".join(p + "\n" for p in deps))
    install = StudentInstall(tree, venv, venv / "bin")
    p = subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                        str(tree)], capture_output=True, text=True, env=install.env(), cwd=base, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    _INSTALLED["install"] = install
    return install


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> StudentInstall:
    return student_install(tmp_path_factory)


def write_submission(folder: Path, answers: str) -> Path:
    """A correct Problem-5 submission (tests/corpus/base_submission.py) with a bptt_gradients of the right form
    only (zeros): the student edition checks form, so it passes there."""
    folder.mkdir(parents=True, exist_ok=True)
    source = (ROOT / "tests" / "corpus" / "base_submission.py").read_text()
    source += ("\n\ndef bptt_gradients(params, xs, ys, h0):\n"
               "    return {k: torch.zeros(v.shape, dtype=torch.float64).numpy() for k, v in params.items()}\n")
    (folder / "submission.py").write_text(source)
    (folder / "answers.toml").write_text(answers)
    return folder


STUDENT_ANSWERS = """\
[problem2]
G_3 = "F(x3, F(x2, h0))"
reasons = "my two reasons"

[problem3]
sync_stages = ["conv1", "pool5"]

[problem4]
parameters = "d n + n c"
sgd_multiplications = "O(d n)"
path_multiplications = "n^L"

[problem5]
analysis = "my analysis"
proofs = "my proofs"
"""


@pytest.mark.slow
def test_installed_student_edition_grades_a_submission_without_the_reference(installed, tmp_path):
    vpy = installed.venv / "bin" / "python"
    probe = subprocess.run([str(vpy), "-c", "import grader, importlib.util; print(grader.__file__); "
                            "print(importlib.util.find_spec('solutions'))"],
                           capture_output=True, text=True, env=installed.env(), cwd=tmp_path, check=True).stdout.split()
    assert probe[0].startswith(str(installed.venv)) and probe[1] == "None", probe
    site = Path(probe[0]).parent.parent
    assert not (site / "solutions").exists() and not list(site.glob("grader/*.npz"))

    sub = write_submission(tmp_path / "my-hw2", STUDENT_ANSWERS)
    p = subprocess.run(["hw2-grade", str(sub), "--out", str(tmp_path / "out"), "--only", QUICK_ITEMS],
                       capture_output=True, text=True, env=installed.env(), cwd=tmp_path, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    tests = {t["number"]: t for t in results["tests"]}
    report = (tmp_path / "out" / "report.html").read_text()
    assert "student edition" in report and (tmp_path / "out" / "badge.svg").exists()
    # Items the public checks judge in full are scored here (this submission is right there)...
    scored = {n for n, t in tests.items() if "score" in t}
    assert scored == {"5.1.2", "5.2.1", "5.4.1", "5.4.2"}, sorted(scored)
    assert all(tests[n]["score"] == tests[n]["max_score"] > 0 for n in scored), {n: tests[n]["output"] for n in scored}
    # ...the others only have their form checked: no score, counted nowhere, and the report says the instructor's
    # run scores them, so a wrong answer of the right form is not a pass here...
    for number in sorted(set(tests) - scored):
        assert tests[number]["output"].startswith(FORMAT_ONLY), (number, tests[number]["output"])
    for number in ("1.1", "1.2", "2.1", "4.1", "4.2", "4.3", "5.1.1", "5.3.1"):
        assert "format OK, scored by the instructor" in tests[number]["output"], tests[number]["output"]
    assert "F(x3, F(x2, h0))" in tests["2.1"]["output"]
    # ...and a wrong form is named.
    assert "format problem" in tests["3.1"]["output"] and "Not stage names: 'pool5'" in tests["3.1"]["output"]
    assert "'5.1.3'" not in json.dumps(tests)  # not selected, not reported
    assert not leaks(tmp_path / "out", reference_needles())


def test_student_training_verdict_is_the_instructors_where_a_pass_mark_is_installed():
    """The student edition's training items: a failed or diverging run scores 0; a completed run is judged
    against the calibrated pass mark when the installation has one (the instructor's verdict), else passes."""
    from types import SimpleNamespace

    from grader.calibration import Calibration
    from grader.evidence.training import RunObservation
    from grader.rubric.public.common import judge_training

    calibrated = Calibration({"coverage": 0.999, "variants": {"net": {
        "threshold": 0.5, "seeds": [0, 1], "epoch_accuracy": [[0.4, 0.55], [0.41, 0.57]]}}})
    runs = {"good": RunObservation("net", True, verified=True, epoch_accuracy=[0.3, 0.6], losses=[2.0, 1.5]),
            "weak": RunObservation("net", True, verified=True, epoch_accuracy=[0.2, 0.35], losses=[2.0, 1.9]),
            "nan": RunObservation("net", True, epoch_accuracy=[0.1], losses=[2.0, float("nan")]),
            "crash": RunObservation("net", False, error="Net() raised ValueError")}
    for name, obs in runs.items():
        verdicts = {edition: judge_training(SimpleNamespace(training=lambda obs=obs: {"net": obs}, calibration=calibrated,
                                                            edition=edition), "net", "Net()")
                    for edition in ("student", "instructor")}
        if name in ("good", "weak"):
            assert verdicts["student"] == verdicts["instructor"]
            assert verdicts["student"].fraction == (1.0 if name == "good" else 0.5)
        else:
            assert verdicts["student"].fraction == 0.0 and ("NaN" in verdicts["student"].feedback
                                                            or "raised" in verdicts["student"].feedback), verdicts
    bare = SimpleNamespace(training=lambda: {"net": runs["weak"]}, calibration=Calibration({}), edition="student")
    v = judge_training(bare, "net", "Net()")
    assert v.fraction == 1.0 and "no calibrated pass mark" in v.feedback and "35.0%" in v.feedback


def test_a_run_the_instructor_could_not_verify_goes_to_review_but_the_student_edition_scores_it():
    """The same unverified run (trained by the submission's own code): the instructor's edition sends it for
    review with what it would earn; the student's edition scores it; a verified run is scored by both."""
    from types import SimpleNamespace

    from grader.calibration import Calibration
    from grader.evidence.training import RunObservation
    from grader.rubric.public.common import judge_training

    calibrated = Calibration({"coverage": 0.999, "variants": {"net": {
        "threshold": 0.5, "seeds": [0, 1], "epoch_accuracy": [[0.4, 0.55], [0.41, 0.57]]}}})
    for verified in (False, True):
        obs = RunObservation("net", True, verified=verified, epoch_accuracy=[0.3, 0.6], losses=[2.0, 1.5],
                             unmapped="" if verified else "it has an extra layer")
        verdicts = {}
        for edition in ("instructor", "student"):
            ctx = SimpleNamespace(training=lambda: {"net": obs}, calibration=calibrated, edition=edition)
            verdicts[edition] = judge_training(ctx, "net", "Net()")
        assert verdicts["student"].fraction == 1.0 and not verdicts["student"].review
        assert verdicts["instructor"].fraction == 1.0
        assert verdicts["instructor"].review is (not verified)
        if not verified:
            assert "it has an extra layer" in verdicts["instructor"].feedback
