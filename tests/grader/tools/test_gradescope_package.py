"""`hw2-grade gradescope-package`: the zip has Gradescope's documented layout, and its `run_autograder`, run on a
simulated autograder root (HW2_AUTOGRADER_ROOT) with the grader of this checkout (HW2_GRADE), grades the
submission for real (sandboxed children) and writes a results.json that the Gradescope schema accepts. Only
items that need no training are graded: the point is the package, not the training (tests/grader/test_grade.py
covers a full grade)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.cli import main as cli_main
from tests.grader.test_batch import WRONG_LOSS

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((Path(__file__).with_name("gradescope_results.schema.json")).read_text())
QUICK = "2.1,2.2,5.1.2,5.2.1"
ANSWERS = '[problem2]\nG_3 = "F(F(F(h0, x1), x2), x3)"\nreasons = """The same F at every step."""\n'


def run_autograder(root: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "HW2_AUTOGRADER_ROOT": str(root), "HW2_GRADE": f"{sys.executable} -m grader.cli",
               "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=environ,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package") / "autograder.zip"
    assert cli_main(["gradescope-package", "--out", str(out), "--only", QUICK, "--format", "md",
                     "--item-visibility", "5.2.1=after_due_date"]) == 0
    return out


def test_zip_has_gradescopes_layout_with_executable_scripts_and_the_pinned_cpu_torch(package, tmp_path):
    with zipfile.ZipFile(package) as z:
        names = z.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(tmp_path)
    assert {"setup.sh", "run_autograder"} <= set(names)  # at the root of the archive, as Gradescope requires
    assert all(modes[n] & stat.S_IXUSR for n in ("setup.sh", "run_autograder"))
    assert "hw2-grade/pyproject.toml" in names and "hw2-grade/grader/cli.py" in names
    assert not any("__pycache__" in n for n in names)
    pins = [d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
            if d.startswith(("torch==", "torchvision=="))]
    setup = (tmp_path / "setup.sh").read_text()
    assert all(f'"{pin}"' in setup for pin in pins) and "--index-url https://download.pytorch.org/whl/cpu" in setup
    assert "bubblewrap" in setup and 'pip install -q "$SOURCE/hw2-grade"' in setup
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(tmp_path / script)]).returncode == 0


def test_run_autograder_on_a_simulated_root_writes_a_valid_results_json(package, tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package) as z:
        z.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "submission.py").write_text(WRONG_LOSS)  # the loss summed instead of averaged
    (root / "submission" / "answers.toml").write_text(ANSWERS)
    done = run_autograder(root)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    tests = {t["number"]: t for t in results["tests"]}
    assert set(tests) == {"2.1", "5.1.2", "5.2.1"}  # 2.2 is graded by hand: pending, not a test yet
    assert (tests["2.1"]["score"], tests["5.1.2"]["score"], tests["5.2.1"]["score"]) == (10, 0, 4)
    assert results["score"] == 14 and tests["5.2.1"]["visibility"] == "after_due_date"
    assert results["output_format"] == "md" and "summed over the batch instead of averaged" in results["output"]
    assert "2.2 two reasons (10 points): graded by hand" in results["output"]


def test_a_grader_failure_writes_no_results_and_fails_the_run(tmp_path):
    package = tmp_path / "autograder.zip"
    assert cli_main(["gradescope-package", "--out", str(package), "--only", "5.1.3",
                     "--data-url", "https://example.invalid/cifar10.zip"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package) as z:
        z.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "submission.py").write_text(WRONG_LOSS)
    done = run_autograder(root, HW2_CIFAR10=str(tmp_path / "missing.zip"))
    assert done.returncode == 2 and "hw2-grade gradescope-run: error:" in done.stderr
    assert not (root / "results" / "results.json").exists()  # Gradescope shows a failed autograder, not a 0


def test_training_items_need_the_data_bundled_or_fetched(tmp_path, capsys):
    assert cli_main(["gradescope-package", "--out", str(tmp_path / "a.zip"), "--only", "5.1.3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bundle it with --data PATH" in err and not (tmp_path / "a.zip").exists()
