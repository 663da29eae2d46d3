"""`hw2-grade init-ci`: the workflow passes the GitHub workflow schema (check-jsonschema, with the schema vendored
in tests/data) and runs exactly the commands of `grader.tools.ci_init` (CPU torch, pip and CIFAR-10 caches,
bubblewrap, the badge only after a complete grade, a job summary and artifact for private repositories), tox
reads the written tox.ini with the same grading command, the README gets the badge once, and the workflow's
local commands work: the grading command (the body of `tox -e grade`) grades a student repository with the
installed student edition, the job summary script writes its score, and the badge script publishes
out/badge.svg to a `badges` branch."""
from __future__ import annotations

import configparser
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.results.gradescope import render_gradescope
from grader.tools import ci_init
from grader.tools.ci_init import (BADGE_PATH, DATA_CACHE, GRADE_COMMAND, GRADER_ENV_VAR, INSTALL_TOX, JOB_SUMMARY,
                                  REPORT_PATH, RUN_TOX, TORCH_CPU_INDEX, WORKFLOW_COMMANDS, WORKFLOW_FILE, init_ci, shell)
from tests.grader.sample_results import sample_grade_result
from tests.grader.test_export_student import STUDENT_ANSWERS, student_install, write_submission

SPEC = "hw2-grade-student @ git+https://github.com/eleg5491/hw2-grade-student@v1"
SCHEMA = Path(__file__).resolve().parents[1] / "data" / "github-workflow.schema.json"


def check_jsonschema(workflow: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), str(workflow)],
                          capture_output=True, text=True, timeout=120)


def _repo(tmp_path: Path, remote: str | None = "git@github.com:alice/my-hw2.git") -> Path:
    repo = tmp_path / "my-hw2"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", remote], check=True)
    return repo


def _steps(repo: Path) -> list[dict]:
    return yaml.safe_load((repo / WORKFLOW_FILE).read_text())["jobs"]["grade"]["steps"]


def test_workflow_is_valid_yaml_with_the_expected_steps(tmp_path):
    repo = _repo(tmp_path)
    init_ci(repo, SPEC)
    wf = yaml.safe_load((repo / WORKFLOW_FILE).read_text())
    assert wf == ci_init.workflow(SPEC)  # the file is exactly the structure, nothing lost in writing
    assert set(wf["on"]) == {"push", "workflow_dispatch"}  # "on" stays a string key (YAML 1.1 reads on as true)
    assert wf["permissions"] == {"contents": "write"}
    steps = wf["jobs"]["grade"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert steps[1]["with"]["python-version"] == "3.11"
    runs = [s["run"] for s in steps if "run" in s]
    commands = [r for r in runs if r in {shell(c) for c in WORKFLOW_COMMANDS}]
    assert commands == [shell(c) for c in WORKFLOW_COMMANDS] == ["python -m pip install tox", "tox -e grade"]
    grade = next(s for s in steps if s.get("run") == shell(RUN_TOX))
    assert grade["env"] == {GRADER_ENV_VAR: SPEC, "PIP_EXTRA_INDEX_URL": TORCH_CPU_INDEX}
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "out/" and REPORT_PATH.startswith("out/") and upload["if"] == "${{ !cancelled() }}"
    publish = steps[-1]
    assert BADGE_PATH in publish["run"] and "HEAD:badges" in publish["run"]
    assert publish["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert [s.get("run") for s in steps].index(shell(RUN_TOX)) < steps.index(upload) < steps.index(publish)
    for step in steps:  # every run script is valid bash, or valid Python for a `shell: python` step
        if step.get("shell") == "python":
            compile(step["run"], step["name"], "exec")
        elif "run" in step:
            subprocess.run(["bash", "-n", "-c", step["run"]], check=True)


@pytest.mark.parametrize("badge_branch", [True, False])
def test_workflow_passes_the_github_workflow_schema(tmp_path, badge_branch):
    repo = _repo(tmp_path)
    init_ci(repo, SPEC, badge_branch=badge_branch)
    checked = check_jsonschema(repo / WORKFLOW_FILE)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok -- validation done" in checked.stdout


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    """The validator is not a rubber stamp: a job without runs-on, or a step with both uses and run, fails."""
    for breakage in ("no runs-on", "uses and run"):
        wf = ci_init.workflow(SPEC)
        if breakage == "no runs-on":
            del wf["jobs"]["grade"]["runs-on"]
        else:
            wf["jobs"]["grade"]["steps"][0]["run"] = "true"
        path = tmp_path / f"{breakage.replace(' ', '-')}.yml"
        path.write_text(yaml.safe_dump(wf, sort_keys=False))
        checked = check_jsonschema(path)
        assert checked.returncode == 1 and "Schema validation errors" in checked.stdout + checked.stderr, breakage


def test_ci_installs_cpu_torch_caches_pip_and_cifar10_and_sandboxes_with_bubblewrap(tmp_path):
    repo = _repo(tmp_path)
    init_ci(repo, SPEC)
    steps = _steps(repo)
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip" and (repo / setup["with"]["cache-dependency-path"]).is_file()
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == DATA_CACHE == "~/.cache/hw2-grade"
    grade = next(s for s in steps if s.get("run") == shell(RUN_TOX))
    assert grade["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(repo / "tox.ini")
    assert "PIP_EXTRA_INDEX_URL" in ini["testenv:grade"]["pass_env"].split()  # tox hands the index on to pip
    sandbox = next(s for s in steps if "bubblewrap" in s.get("run", ""))
    assert "apt-get install" in sandbox["run"] and "bwrap " in sandbox["run"]
    assert steps.index(sandbox) < steps.index(grade)


def test_the_badge_is_published_only_after_a_complete_grade(tmp_path):
    repo = _repo(tmp_path)
    init_ci(repo, SPEC)
    steps = _steps(repo)
    publish = next(s for s in steps if "HEAD:badges" in s.get("run", ""))
    grade = next(s for s in steps if s.get("run") == shell(RUN_TOX))
    assert steps.index(grade) < steps.index(publish)
    # success(): not after a failed or cancelled grade (a cancelled run skips it); never always()
    assert publish["if"] == "success() && github.event_name == 'push'" and "always" not in publish["if"]
    assert publish["continue-on-error"] is True  # a token that may not push leaves the grade green


def test_private_repositories_get_a_summary_and_artifact_without_the_badges_branch(tmp_path):
    repo = _repo(tmp_path)
    init_ci(repo, SPEC, badge_branch=False)
    wf = yaml.safe_load((repo / WORKFLOW_FILE).read_text())
    steps = wf["jobs"]["grade"]["steps"]
    assert not any("HEAD:badges" in s.get("run", "") for s in steps)
    assert wf["permissions"] == {"contents": "read"}
    summary = next(s for s in steps if s.get("shell") == "python")
    assert summary["run"] == JOB_SUMMARY and summary["if"] == "success()"
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "out/"  # report.html, results.json and badge.svg
    readme = (repo / "README.md").read_text()
    assert "https://github.com/alice/my-hw2/actions/workflows/hw2-grade.yml/badge.svg" in readme
    assert "raw.githubusercontent.com" not in readme


def test_the_job_summary_shows_the_score_and_every_item(tmp_path):
    result = sample_grade_result()
    (tmp_path / "out").mkdir()
    gradescope = render_gradescope(result)
    gradescope["tests"][0]["name"] = "a | pipe"  # would split a Markdown table cell
    (tmp_path / "out" / "results.json").write_text(json.dumps(gradescope))
    summary = tmp_path / "summary.md"
    p = subprocess.run([sys.executable, "-c", JOB_SUMMARY], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert p.returncode == 0, p.stderr
    text = summary.read_text()
    assert "Score: 70.0 / 85 points" in text  # results.json's stand-alone summary (grader.results.gradescope.summary)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(gradescope["tests"]) and all(line.count(" | ") == 2 for line in rows)
    assert "a \\| pipe" in text


def test_tox_ini_grade_environment_runs_exactly_the_grade_command(tmp_path):
    repo = _repo(tmp_path)
    init_ci(repo, SPEC)
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(repo / "tox.ini")
    env = ini[f"testenv:{RUN_TOX[-1]}"]
    assert env["commands"].strip() == shell(GRADE_COMMAND) == "hw2-grade . --out out --edition student"
    assert env["skip_install"].strip() == "true"
    if importlib.util.find_spec("tox") is None:
        return  # the test suite's own tox environment does not hold tox; the ini check above still ran
    tox = [sys.executable, "-m", "tox", "config", "-e", "grade", "-k", "commands", "deps", "skip_install"]
    env_vars = {k: v for k, v in os.environ.items() if k != GRADER_ENV_VAR}
    shown = subprocess.run(tox, cwd=repo, capture_output=True, text=True, env=env_vars, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert f"commands = {shell(GRADE_COMMAND)}" in shown.stdout
    assert f"deps = {SPEC}" in shown.stdout and "skip_install = True" in shown.stdout
    shown = subprocess.run(tox, cwd=repo, capture_output=True, text=True, timeout=120,
                           env={**env_vars, GRADER_ENV_VAR: "/somewhere/hw2-grade-student"})
    assert "deps = /somewhere/hw2-grade-student" in shown.stdout  # the workflow's env var wins


def test_readme_gets_the_badge_once_and_existing_files_are_kept(tmp_path):
    repo = _repo(tmp_path)
    (repo / "README.md").write_text("# My homework 2\n\nNotes.\n")
    (repo / "tox.ini").write_text("[tox]\nenv_list = py\n")
    first = init_ci(repo, SPEC)
    workflow = (repo / WORKFLOW_FILE).read_text()
    second = init_ci(repo, SPEC)
    readme = (repo / "README.md").read_text()
    line = ci_init.badge_line("alice/my-hw2")
    assert readme.startswith("# My homework 2\n\nNotes.\n") and readme.count(line) == 1
    assert "https://raw.githubusercontent.com/alice/my-hw2/badges/badge.svg" in line
    assert "https://github.com/alice/my-hw2/actions/workflows/hw2-grade.yml" in line
    assert (repo / "tox.ini").read_text() == "[tox]\nenv_list = py\n"  # the student's own tox.ini is kept...
    assert any("WARNING" in d and "[testenv:grade]" in d for d in first)  # ...with a warning that grade is missing
    assert "README.md already shows the badge" in second
    assert (repo / WORKFLOW_FILE).read_text() == workflow


def test_command_line_creates_a_readme_and_reports_a_missing_remote(tmp_path):
    repo = _repo(tmp_path, remote=None)
    p = subprocess.run([sys.executable, "-m", "grader.cli", "init-ci", str(repo), "--grader", SPEC],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "OWNER/REPO" in p.stdout and (repo / "README.md").read_text().count("badges/badge.svg") == 1
    p = subprocess.run([sys.executable, "-m", "grader.cli", "init-ci", str(repo), "--repo", "not a repo"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "OWNER/REPO" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_the_workflow_commands_grade_the_repository_and_publish_the_badge(tmp_path, tmp_path_factory, cifar10):
    """What CI runs, run here: the tox environment's command (read back from the written tox.ini and equal to
    GRADE_COMMAND) with the installed student edition, in the student repository; then the workflow's own
    badge script, with github.com redirected to a local bare repository. (`pip install tox` and tox's install
    of the grader need the network: their commands are checked above, their work is done by the fixture.)"""
    installed = student_install(tmp_path_factory)
    repo = _repo(tmp_path)
    write_submission(repo, STUDENT_ANSWERS)
    init_ci(repo, str(installed.tree))
    steps = _steps(repo)
    assert [s["run"] for s in steps if s.get("run") in (shell(INSTALL_TOX), shell(RUN_TOX))] == [shell(INSTALL_TOX), shell(RUN_TOX)]
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(repo / "tox.ini")
    command = ini["testenv:grade"]["commands"].split()
    assert tuple(command) == GRADE_COMMAND
    p = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=installed.env(), timeout=1200)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    results = json.loads((repo / "out" / "results.json").read_text())
    scored = {t["number"]: t for t in results["tests"]}
    assert {"5.1.3", "5.2.2", "5.3.2", "5.4.3"} <= set(scored)  # the full rubric ran, training included
    for number in ("5.1.3", "5.2.2", "5.3.2"):
        assert scored[number]["score"] == scored[number]["max_score"], scored[number]["output"]
        assert "without NaN" in scored[number]["output"]
    # the augmentation's accuracy drop needs the instructor's classifier: its form is checked here, not scored
    assert "score" not in scored["5.4.3"] and "format OK" in scored["5.4.3"]["output"], scored["5.4.3"]["output"]
    assert (repo / REPORT_PATH).exists() and (repo / BADGE_PATH).exists()
    summary = tmp_path / "summary.md"  # the job summary step, on this real grade
    p = subprocess.run([sys.executable, "-c", JOB_SUMMARY], cwd=repo, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert p.returncode == 0 and "| 5.1.3 |" in summary.read_text(), p.stderr
    assert "| 5.4.3 | augmentation | form checked; the instructor scores it |" in summary.read_text()

    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    token, slug = "t0ken", "alice/my-hw2"
    publish = steps[-1]
    env = {**os.environ, "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": slug, "GITHUB_SHA": "0123abc",
           "RUNNER_TEMP": str(tmp_path / "runner"), "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": f"url.{bare}.insteadOf",
           "GIT_CONFIG_VALUE_0": f"https://x-access-token:{token}@github.com/{slug}.git"}
    (tmp_path / "runner").mkdir()
    p = subprocess.run(["bash", "-c", publish["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    published = subprocess.run(["git", "--git-dir", str(bare), "show", "badges:badge.svg"], capture_output=True,
                               check=True).stdout
    assert published == (repo / BADGE_PATH).read_bytes()
    files = subprocess.run(["git", "--git-dir", str(bare), "ls-tree", "--name-only", "badges"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert files == ["badge.svg"]
    shutil.rmtree(tmp_path / "runner", ignore_errors=True)
