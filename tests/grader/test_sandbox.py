"""What a sandboxed child can see and do, observed from inside by a probe submission, and what the report
says about the isolation: the reference, the rubric, the data and the test labels are out of reach, the
network is gone, only the scratch is writable, limits are in force, and the rlimits-only path works and
says plainly that it is weaker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import process as sandbox
from grader.data import default_cache_dir
from grader.grade import grade
from grader.options import GradeOptions
from grader.results.html import render_html
from grader.rubric.items import RUBRIC
from grader.sandbox.runner import SubmissionRun
from grader.sandbox import bwrap
from grader.sandbox import protocol as P
from grader.sandbox.bwrap import CHILD_MODULES, grader_root, reference_paths
from grader.sandbox import limits as sandbox_limits
from grader.sandbox.limits import Limits, detect_isolation
from grader.sandbox.process import make_scratch
from grader.sandbox.space import within_quota
from tests.conftest import item
from tests.corpus import attacks
from tests.grader.test_attacks import InputRecorder, own_sandbox_uid  # noqa: F401  (autouse fixture)

LOOK_AROUND = r'''
import json, os, resource, socket
from pathlib import Path
import grader

root = Path(grader.__file__).resolve().parent.parent
report = {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(), "env": sorted(os.environ),
          "home": os.environ.get("HOME"), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
report["cap_eff"], report["no_new_privs"] = status["CapEff"].strip(), status.get("NoNewPrivs", "").strip()
report["rlimits"] = {name: resource.getrlimit(getattr(resource, name))[0]
                     for name in ("RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CPU")}


def readable(path):
    try:
        p = Path(path)
        return bool(p.read_bytes()) if p.is_file() else bool(list(p.iterdir()))
    except OSError:
        return False


report["readable"] = {p: readable(p) for p in json.loads(Path(__file__).with_name("look_at.json").read_text())}
report["root_listing"] = sorted(os.listdir(root)) if root.is_dir() else None
report["grader_listing"] = sorted(p.relative_to(root / "grader").as_posix() for p in (root / "grader").rglob("*")
                                  if p.is_file())
report["tmp_listing"] = sorted(os.listdir("/tmp"))
writable = {}
for where in ("../out/x", "../work/x", "../submission/x", "../in/x", str(root / "x"), str(root / "grader" / "x"),
              "/usr/x", "/etc/x", "/tmp/x", "/var/tmp/x"):
    try:
        Path(where).write_text("x")
        writable[where] = True
    except OSError:
        writable[where] = False
report["writable"] = writable
report["interfaces"] = [n for _, n in socket.if_nameindex()]
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    report["internet"] = True
except OSError:
    report["internet"] = False
Path("../out/look_around.json").write_text(json.dumps(report))
'''


@pytest.fixture
def bwrap_isolation(isolation):
    if not isolation.bwrap:
        pytest.skip("bubblewrap is not usable on this machine")
    return isolation


def grade_hidden() -> list[Path]:
    """What grade() hides from every child (grader/grade.py)."""
    return [Path(p) for p in (os.environ.get("HW2_CIFAR10"),) if p] + [default_cache_dir(), *reference_paths()]


def look_around(tmp_path: Path, iso, look_at: list[str], limits: Limits = Limits()) -> dict:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "submission.py").write_text(LOOK_AROUND)
    (folder / "look_at.json").write_text(json.dumps(look_at))
    run = SubmissionRun(folder, limits, iso, grade_hidden())
    try:
        outcome = run.run([P.NAMES], P.Request())[P.NAMES]
        assert outcome.ok, outcome.error
        return json.loads((outcome.out_dir / "look_around.json").read_text())
    finally:
        run.close()


def test_child_sees_only_what_it_needs(tmp_path, bwrap_isolation):
    root = grader_root()
    secrets = [str(p) for ref in reference_paths() for p in ref.rglob("*") if p.is_file()][:40]
    secrets += [str(root / "grader" / "rubric" / "answers" / "p5_1_net.py"), str(root / "grader" / "calibration.json"),
                str(root / "grader" / "reference_classifier.npz"), str(root / "grader" / "grade.py"),
                str(root / ".git"), str(root / "tests"), str(root / "README.md"), str(default_cache_dir()),
                str(tmp_path)]
    if os.environ.get("HW2_CIFAR10"):
        secrets.append(os.environ["HW2_CIFAR10"])
        secrets.append(str(Path(os.environ["HW2_CIFAR10"]).parent))
    assert any("solutions" in s and s.endswith("cnn.py") for s in secrets), "the reference was not found to test"
    limits = Limits(file_bytes=32 << 20, open_files=200, processes=50)
    seen = look_around(tmp_path, bwrap_isolation, secrets, limits)

    leaked = [p for p, ok in seen["readable"].items() if ok]
    assert not leaked, f"readable from the sandbox: {leaked}"
    assert seen["grader_listing"] == sorted(CHILD_MODULES), seen["grader_listing"]
    # Besides the child's modules, only a Python environment that lives in the checkout (tox's .tox/) shows.
    env_tops = {q.relative_to(root).parts[0] for q in bwrap._python_paths() if q.is_relative_to(root) and q != root}
    assert set(seen["root_listing"] or []) <= {"grader", "solutions"} | env_tops, seen["root_listing"]
    assert seen["interfaces"] == ["lo"] and not seen["internet"]
    assert len(seen["pids"]) <= 5 and os.getpid() not in seen["pids"], "the child sees the machine's processes"
    writable = seen["writable"]
    assert writable["../out/x"] and writable["../work/x"]
    assert not any(ok for where, ok in writable.items() if where not in ("../out/x", "../work/x", "/tmp/x", "/var/tmp/x"))
    python_in_tmp = {q.relative_to("/tmp").parts[0] for q in bwrap._python_paths() if q.is_relative_to("/tmp")}
    assert set(seen["tmp_listing"]) <= python_in_tmp, f"the child's /tmp is not private: {seen['tmp_listing']}"
    assert seen["home"] == "/sandbox/work" and "HW2_CIFAR10" not in seen["env"]
    assert sandbox.MARKER_VAR in seen["env"]
    if bwrap_isolation.drop_uid:
        base = sandbox_limits.SANDBOX_UID
        assert base <= seen["uid"] < base + sandbox.UID_SLOTS and seen["gid"] == seen["uid"]
        assert int(seen["cap_eff"], 16) == 0 and seen["no_new_privs"] == "1"
    r = seen["rlimits"]
    assert r["RLIMIT_AS"] == limits.memory_bytes and r["RLIMIT_FSIZE"] == limits.file_bytes
    assert r["RLIMIT_NOFILE"] == limits.open_files and r["RLIMIT_CPU"] == limits.cpu_s
    if bwrap_isolation.drop_uid:  # otherwise the limit counts the user's other processes too
        assert r["RLIMIT_NPROC"] == limits.processes


def test_child_cannot_read_test_labels(tmp_path, grade_folder, cifar10, monkeypatch):
    """The data file and the decoded cache are not reachable from inside, and no array the grader hands a
    child holds the test labels (5.4.3 hands it test images, which are perturbed and unlabelled)."""
    recorder = InputRecorder(monkeypatch)
    values = {"DATA": os.environ.get("HW2_CIFAR10") or str(tmp_path / "none.zip"), "CACHE": str(default_cache_dir())}
    folder = attacks.build("read_test_labels", tmp_path, **values)
    result = grade_folder(folder, "5.1.2,5.4.3", dataset=cifar10)
    report = item(result, "5.1.2").feedback
    assert "PROBE-DONE" in report and "LEAK" not in report, report
    assert "aug_images" in recorder.arrays
    recorder.assert_no_test_labels(cifar10.test_y)
    assert set(recorder.arrays) >= {"loss_logits", "loss_targets"}
    assert not any("label" in n or n.startswith("test_y") for n in recorder.arrays)


def test_report_states_isolation_and_limits(tmp_path, grade_folder, bwrap_isolation):
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "submission.py").write_text(attacks.BASE.read_text())
    result = grade_folder(folder, "5.1.2", limits=Limits(wall_s=120))
    assert result.isolation.startswith("bubblewrap") and "no network" in result.isolation
    assert f"an unprivileged uid of its own (from {sandbox_limits.SANDBOX_UID})" in result.isolation or not bwrap_isolation.drop_uid
    assert result.limits.startswith("wall 120 s") and "address space" in result.limits
    assert result.environment["isolation"] == "bubblewrap"
    html = render_html(result)
    assert "bubblewrap" in html and "wall 120 s" in html


def test_rlimits_only_path_works_and_says_so(tmp_path, calibration):
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "submission.py").write_text(attacks.BASE.read_text())
    result = grade(folder, GradeOptions(selected=RUBRIC.select("5.1.1,5.1.2"), verify_reference=False, allow_bwrap=False),
                   calibration=calibration)
    assert [i.score for i in result.auto_items] == [i.max_score for i in result.auto_items], \
        [i.feedback for i in result.auto_items]
    assert result.isolation.startswith("rlimits only: NO bubblewrap")
    assert "use the network" in result.isolation and "install bubblewrap" in result.isolation
    assert result.environment["isolation"] == "rlimits only"
    assert result.limits.startswith("wall ")
    assert "NO bubblewrap" in render_html(result)
    assert detect_isolation(allow_bwrap=False).bwrap is None


def test_concurrent_runs_do_not_kill_each_other(tmp_path, bwrap_isolation):
    """Two grading runs at once: the one that ends first must not kill the other's child (each child has a
    uid of its own, and the clean-up kills only processes of that uid that are its own or carry no marker)."""
    slow, quick = tmp_path / "slow", tmp_path / "quick"
    for folder in (slow, quick):
        folder.mkdir()
    (slow / "submission.py").write_text("import time\ntime.sleep(6)\nNet = None\n")
    (quick / "submission.py").write_text("Net = None\n")
    outcome = {}

    def run_slow():
        run = SubmissionRun(slow, Limits(wall_s=60), bwrap_isolation, grade_hidden())
        try:
            outcome["slow"] = run.run([P.NAMES], P.Request())[P.NAMES]
        finally:
            run.close()

    thread = threading.Thread(target=run_slow)
    thread.start()
    time.sleep(1.5)
    for _ in range(2):
        run = SubmissionRun(quick, Limits(wall_s=60), bwrap_isolation, grade_hidden())
        try:
            assert run.run([P.NAMES], P.Request())[P.NAMES].ok
        finally:
            run.close()
    thread.join(90)
    assert outcome["slow"].ok, outcome["slow"].error


def test_scratch_copy_leaves_out_links_and_special_files(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "submission.py").write_text("x = 1\n")
    (folder / "data").mkdir()
    (folder / "data" / "w.npy").write_bytes(b"123")
    (folder / "answers.toml").symlink_to(grader_root() / "solutions" / "reference" / "answers.toml")
    (folder / "data" / "cifar").symlink_to(Path(os.environ.get("HW2_CIFAR10") or "/etc/passwd"))
    os.mkfifo(folder / "pipe")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    scratch = make_scratch(folder, base=tmp_path)
    copied = sorted(str(p.relative_to(scratch / "submission")) for p in (scratch / "submission").rglob("*"))
    assert copied == ["data", "data/w.npy", "submission.py"]
    from grader.sandbox.submission import locate_entry

    assert any("symbolic links are not followed" in n and "answers.toml" in n for n in locate_entry(folder).notes)


def test_disk_quota_counts_bytes_and_files_in_every_folder(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    (work / "deep" / "er").mkdir(parents=True)
    out.mkdir()
    (out / "a.bin").write_bytes(os.urandom(300 << 10))
    (work / "deep" / "er" / "b.bin").write_bytes(os.urandom(300 << 10))
    limits = Limits(disk_bytes=1 << 20, disk_entries=10)
    assert within_quota([out, work], limits)  # 600 KiB in 4 entries
    (work / "deep" / "c.bin").write_bytes(os.urandom(500 << 10))
    assert not within_quota([out, work], limits), "1.1 MiB passed a 1 MiB quota"
    (work / "deep" / "c.bin").unlink()
    for i in range(8):
        (work / f"empty{i}").touch()
    assert not within_quota([out, work], limits), "12 entries passed a quota of 10"


def test_sparse_file_counts_what_it_occupies(tmp_path):
    with open(tmp_path / "sparse", "wb") as f:
        f.truncate(4 << 30)  # 4 GiB long, nothing written
    assert within_quota([tmp_path], Limits(disk_bytes=1 << 20))


@pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids are claimed only when the grader runs as root")
def test_each_child_claims_a_uid_no_concurrent_child_holds(tmp_path):
    """Claims held at once get different uids, one held by another process is skipped, and a released uid
    is claimed again."""
    import subprocess
    import sys

    first = 62000 + os.getpid() % 2000
    with sandbox.claim_uid(first) as a, sandbox.claim_uid(first) as b:
        assert (a, b) == (first, first + 1)
    holder = subprocess.Popen([sys.executable, "-c", f"from grader.sandbox import process as sandbox; import time\n"
                               f"with sandbox.claim_uid({first}):\n    print('held', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True, cwd=grader_root())
    try:
        assert holder.stdout.readline().strip() == "held"
        with sandbox.claim_uid(first) as c:
            assert c == first + 1, "a uid another process holds was claimed"
    finally:
        holder.kill()
        holder.wait()
    with sandbox.claim_uid(first) as d:
        assert d == first, "the lock did not die with its holder"


# ----- the sandbox's own edges (issue 10) ---------------------------------------------------------------------
def _child(tmp_path: Path, source: str, limits: Limits, iso, output: str = ""):
    """(the names task's outcome, the text of out/`output` or None) of a child running `source`."""
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    (folder / "submission.py").write_text(source)
    run = SubmissionRun(folder, limits, iso, grade_hidden())
    try:
        outcome = run.run([P.NAMES], P.Request())[P.NAMES]
        path = outcome.out_dir / output if output and outcome.out_dir else None
        return outcome, path.read_text() if path and path.is_file() else None
    finally:
        run.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel-limited tmpfs is mounted where the grader runs as root")
def test_the_childs_space_is_a_tmpfs_of_its_quota_in_a_namespace_of_its_own(tmp_path, isolation):
    """The child sees a file system of exactly disk_bytes and disk_entries; the grading process's other
    threads, and the host, never see the mount."""
    source = ("import os, json\nst = os.statvfs('.')\n"
              "json.dump([st.f_blocks * st.f_frsize, st.f_files], open('../out/space.json', 'w'))\n")
    outcome, seen = _child(tmp_path, source, Limits(disk_bytes=48 << 20, disk_entries=500), isolation, "space.json")
    assert outcome.ok, outcome.error
    size, inodes = json.loads(seen)
    assert size == 48 << 20 and 500 <= inodes <= 510
    assert "hw2grade" not in Path("/proc/self/mounts").read_text()  # unmounted; never in the host's table
    assert "hw2grade" not in Path("/proc/1/mounts").read_text()


def test_a_child_that_never_reaches_the_submission_is_the_graders_failure(tmp_path, isolation):
    """An address space too small for Python to start: no student code ran, so the tasks are the grader's
    errors, not failures of the submission."""
    outcome, _ = _child(tmp_path, "Net = None\n", Limits(memory_bytes=64 << 20, wall_s=60), isolation)
    assert not outcome.ok and outcome.grader_fault
    assert "the grader's sandbox failed before any of the submission's code ran" in outcome.error


@pytest.mark.skipif(not detect_isolation().cgroup, reason="cgroups are not writable here")
def test_forty_spinning_processes_get_the_childs_cpu_share_only(tmp_path, isolation):
    """40 processes in sessions of their own, spinning: the cgroup's quota holds the whole tree to the
    child's 2 CPUs (measured from the cgroup's own CPU time)."""
    from grader.sandbox.process import run_child

    folder = tmp_path / "spin"
    folder.mkdir()
    (folder / "submission.py").write_text(
        "import os, time\nfor _ in range(40):\n    if os.fork() == 0:\n        os.setsid()\n        while True:\n"
        "            pass\ntime.sleep(30)\n")
    scratch = sandbox.make_scratch(folder, base=tmp_path)
    request = P.Request(tasks=[P.NAMES.key], entry="submission.py", threads=2).to_json()
    try:
        outcome = run_child("probe", request, scratch, Limits(wall_s=6), isolation, scratch / "kept", grade_hidden())
    finally:
        sandbox.remove_tree(scratch)
    assert outcome.status in ("timeout", "overloaded") and outcome.cpu_s is not None
    assert outcome.cpu_s <= 2 * outcome.seconds * 1.1 + 0.5, f"{outcome.cpu_s:.1f} CPU s in {outcome.seconds:.1f} s"


def test_result_json_depth_is_measured_without_parsing():
    from grader.sandbox.nesting import json_depth, toml_depth

    assert json_depth('{"a": [1, {"b": "[[[["}]}') == 3
    assert json_depth("[" * 100_000 + "]" * 100_000) == 100_000
    assert toml_depth('[problem3]\nsync_stages = ["conv3", "fc6"]  # [[[\n') == 1
    assert toml_depth("x = '''[[['''\n[[tables]]\ny = {z = [[1]]}\n") == 3


def test_a_child_starved_by_the_machine_is_the_graders_failure_not_a_timeout(tmp_path, isolation):
    """Busy code on a CPU that six other processes hold (each in a session of its own, as other graders'
    children are): it hits its wall-clock limit while it waited for the CPU most of the time it was ready to
    run (the kernel's schedstat), so the task is the grader's error ("grade again"), not the student's
    timeout. A child that loops on a CPU of its own is the student's timeout (loop_at_import, fork_bomb)."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})  # the child and the competitors share one CPU
    competitors = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"], start_new_session=True)
                   for _ in range(6)]
    try:
        outcome, _ = _child(tmp_path, "total = 0\nfor i in range(10**10):\n    total += i\n", Limits(wall_s=8),
                            isolation)
    finally:
        os.sched_setaffinity(0, saved)
        for p in competitors:
            p.kill()
            p.wait()
    assert not outcome.ok and outcome.grader_fault, outcome.error
    assert "the machine was too busy" in outcome.error and "grade again" in outcome.error


def test_a_folder_deeper_than_path_max_is_walked_copied_to_its_cap_and_removed(tmp_path):
    """1,200 levels of 100-character names: rglob, copytree and rmtree fail on it (PATH_MAX, recursion);
    the bounded walk copies 16 levels, notes the rest, and remove_tree removes it all."""
    from grader.sandbox.tree import remove_tree

    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "submission.py").write_text("x = 1\n")
    attacks.make_deep_folder(folder)
    notes: list[str] = []
    scratch = make_scratch(folder, base=tmp_path, notes=notes)
    assert any("is more than 16 folders deep; it was left out" in n for n in notes), notes
    levels, probe = 0, scratch / "submission"
    while (probe / ("d" * 100)).is_dir():
        probe, levels = probe / ("d" * 100), levels + 1
    assert levels == 16 and (scratch / "submission" / "submission.py").read_text() == "x = 1\n"
    remove_tree(scratch)
    remove_tree(folder)
    assert not scratch.exists() and not folder.exists()


def test_sparse_files_are_copied_sparse_and_oversized_ones_are_never_read(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "submission.py").write_text("x = 1\n")
    with open(folder / "holes.bin", "wb") as f:  # 32 MiB long, 4 KiB of data in the middle
        f.seek(16 << 20)
        f.write(b"x" * 4096)
        f.truncate(32 << 20)
    with open(folder / "huge.bin", "wb") as f:  # 8 GiB long, nothing written
        f.truncate(8 << 30)
    notes: list[str] = []
    scratch = make_scratch(folder, base=tmp_path, notes=notes)
    copy = scratch / "submission" / "holes.bin"
    assert copy.stat().st_size == 32 << 20 and copy.stat().st_blocks * 512 <= 1 << 20
    with open(copy, "rb") as f:
        f.seek(16 << 20)
        assert f.read(4096) == b"x" * 4096
    assert not (scratch / "submission" / "huge.bin").exists()
    assert any("huge.bin is 8,589,934,592 bytes" in n for n in notes), notes
