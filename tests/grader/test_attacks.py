"""Hostile submissions (tests/corpus/attacks.py) graded through the real pipeline, sandbox included: each one
gets a full result, no item above what its honest part earns, nothing written outside the output folder and
the child's scratch, no process left behind, and a run that ends within its limits."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from grader.reference.networks import reference_classifier
from grader.sandbox import limits as sandbox_limits
from grader.sandbox import process as sandbox
from grader.calibration import Calibration
from grader.data import default_cache_dir
from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from grader.sandbox.bwrap import grader_root
from grader.sandbox.limits import Limits
from tests.conftest import item
from tests.corpus import attacks


QUICK = [n for n, a in attacks.ATTACKS.items() if not a.training]
TRAINING = [n for n, a in attacks.ATTACKS.items() if a.training]
# Files the write attack appends its token to (checked for the token, so that other people's edits of
# the repository during the run do not matter).
APPENDED = ("grader/sandbox/tasks.py", "grader/grade.py", "solutions/cnn.py", "grader/calibration.json")


@pytest.fixture(scope="module", autouse=True)
def own_sandbox_uid():
    """Sandbox uids counted from a base of this test process's own, so that the check for left-over
    processes below looks at our children's uid (each child claims the first free uid from the base)."""
    saved = sandbox_limits.SANDBOX_UID
    sandbox_limits.SANDBOX_UID = 61000 + os.getpid() % 3000
    yield sandbox_limits.SANDBOX_UID
    sandbox_limits.SANDBOX_UID = saved


class Listeners:
    """A TCP port on 127.0.0.1 and an abstract unix socket of the grading machine; records what arrives."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.open = True
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.abstract = f"hw2-grade-test-{uuid.uuid4().hex[:8]}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen(8)
        for s in (self.tcp, self.unix):
            s.settimeout(0.2)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s: socket.socket) -> None:
        while self.open:
            try:
                conn, _ = s.accept()
            except (TimeoutError, OSError):
                continue
            self.received.append(b"connection " + conn.recv(100))
            conn.close()

    def close(self) -> None:
        self.open = False
        time.sleep(0.3)
        self.tcp.close()
        self.unix.close()


@pytest.fixture
def listeners():
    lst = Listeners()
    yield lst
    lst.close()


def placeholders(tmp_path: Path, listeners: Listeners | None = None, **extra) -> dict[str, str]:
    return {"SENTINEL": str(tmp_path / "sentinel" / "pwned.txt"), "TOKEN": f"pwned_{uuid.uuid4().hex[:10]}",
            "DATA": os.environ.get("HW2_CIFAR10") or str(tmp_path / "no-data.zip"), "CACHE": str(default_cache_dir()),
            "PORT": str(listeners.port if listeners else 9), "ABSTRACT": listeners.abstract if listeners else "none",
            "OUTDIR": str(tmp_path / "cli-out"), **extra}


def assert_contained(values: dict[str, str]) -> None:
    """Nothing of the run is alive, and nothing was written outside the output folder and the scratch."""
    time.sleep(0.2)
    assert not sandbox.marked_processes(f"{os.getpid()}-"), "a process of the sandbox outlived the run"
    assert sandbox._count_processes(sandbox_limits.SANDBOX_UID) == 0, f"a process of uid {sandbox_limits.SANDBOX_UID} is left"
    assert not Path(values["SENTINEL"]).exists(), "the sentinel outside the sandbox was written"
    root, token = grader_root(), values["TOKEN"]
    for rel in APPENDED:
        assert token not in (root / rel).read_text(errors="replace"), f"{rel} was written to"
    for folder in (root, root / "grader", root / "solutions", default_cache_dir(), Path("/tmp"), Path.home()):
        if folder.is_dir():
            assert not [p for p in folder.iterdir() if token in p.name], f"a file was created in {folder}"
    data = values["DATA"]
    if Path(data).is_file():
        with open(data, "rb") as f:
            f.seek(max(0, Path(data).stat().st_size - 200))
            assert token.encode() not in f.read(), "the data file was written to"


def check_result(name: str, result, elapsed: float) -> None:
    """The scores, the messages and the time; for a known hole (its `xfail`), an expected failure while it
    pays and an error once it does not (then its `xfail` must go). Call after the containment checks, which
    hold for every attack, known holes included."""
    attack = attacks.ATTACKS[name]
    if attack.xfail:
        gained = [f"{n}: {item(result, n).score}" for n in attack.only if item(result, n).score > attack.max_score(n)]
        if gained:
            pytest.xfail(f"known hole, it earns {', '.join(gained)}: {attack.xfail}")
        _check_result(name, result, elapsed)
        pytest.fail(f"{name} no longer pays: remove its xfail in tests/corpus/attacks.py")
    _check_result(name, result, elapsed)


def _check_result(name: str, result, elapsed: float) -> None:
    attack = attacks.ATTACKS[name]
    for number in attack.only:
        it = item(result, number)
        assert it.status in ("passed", "partial", "failed", "review") and it.score is not None, f"{number} has no result"
        assert it.score <= attack.max_score(number) + 1e-9, \
            f"{name}: {number} scored {it.score} > {attack.max_score(number)} (honest part): {it.feedback}"
        assert "LEAK" not in it.feedback, f"{name}: the sandbox leaked: {it.feedback}"
        for phrase in attack.feedback.get(number, ()):
            assert phrase.lower() in it.feedback.lower(), f"{name}: {phrase!r} not in {number}'s feedback: {it.feedback}"
    for number in attack.keeps:
        it = item(result, number)
        assert it.score == attack.max_score(number), f"{name}: {number} lost points: {it.feedback}"
    assert result.isolation and result.limits
    wall = attack.limits.get("wall_s")
    if wall:  # at most three children (one per crashed task, here) each stopped at the wall-clock limit
        assert elapsed < 3 * wall + 60, f"{name} ran {elapsed:.0f} s"
    else:
        assert elapsed < 150, f"{name} ran {elapsed:.0f} s"


@pytest.fixture
def scratch_dir(tmp_path, monkeypatch):
    """The grader's temporary folders go here (tempfile's default), so that what a grade leaves is seen."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize("name", QUICK)
def test_attack_gains_nothing(name, tmp_path, grade_folder, listeners, isolation, scratch_dir):
    attack = attacks.ATTACKS[name]
    values = placeholders(tmp_path, listeners)
    folder = attacks.build(name, tmp_path, **values)
    start = time.monotonic()
    result = grade_folder(folder, ",".join(attack.only), limits=Limits(**attack.limits))
    elapsed = time.monotonic() - start
    assert_contained(values)
    left = [p.name for p in scratch_dir.iterdir() if not p.name.startswith("torchinductor_")]  # torch's own cache
    assert not left, f"{name}: the grade left {left} behind"
    assert not listeners.received, f"{name} reached the grading machine's sockets: {listeners.received}"
    assert not Path(values["OUTDIR"]).exists(), "the child wrote into an output folder"
    check_result(name, result, elapsed)
    if name == "symlink_to_reference":
        assert "symbolic link" in " ".join(result.notes) + item(result, "5.1.1").feedback


def test_attack_corpus_covers_the_issue():
    names = set(attacks.ATTACKS)
    assert len(names) >= 20
    for required in ("forge_result_at_import", "write_outside_scratch", "sys_exit_at_import", "os_exit_at_import",
                     "sys_exit_in_forward", "os_exit_in_forward", "fake_passed_output", "patch_child_tasks",
                     "patch_torch_and_numpy", "rigged_eq_loss", "read_reference_and_rubric", "loop_at_import",
                     "loop_in_forward", "memory_bomb_at_import", "fork_bomb", "print_flood", "raw_fd_flood",
                     "daemons", "network", "read_test_labels", "lookup_test_labels", "two_faced_dispatch_mode",
                     "two_faced_c_dispatch_stack", "two_faced_call_stack",
                     # issue 15: stored starting weights, with and without per-seed noise, and a cut graph
                     "pretrained_start", "pretrained_net_start", "pretrained_net_start_with_noise",
                     "pretrained_init_weights", "forge_training_result", "cut_graph_trained_in_its_place"):
        assert required in names


def hw2_grade(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, int]:
    """(the finished command, its pid: the prefix of its children's sandbox marker)."""
    with subprocess.Popen([sys.executable, "-m", "grader.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=grader_root()) as proc:
        stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), proc.pid


@pytest.mark.parametrize("name", ["fake_passed_output", "write_outside_scratch"])
def test_attack_through_the_command_line(name, tmp_path):
    """The CLI exits 0 with a full result; nothing the child printed reaches its output, nothing it wrote
    reaches the output folder."""
    attack = attacks.ATTACKS[name]
    values = placeholders(tmp_path)
    out = Path(values["OUTDIR"])
    folder = attacks.build(name, tmp_path, **values)
    p, pid = hw2_grade(str(folder), "--out", str(out), "--only", ",".join(attack.only), "--no-verify")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "PASSED 5.1.2" not in p.stdout + p.stderr and '"score": 100' not in p.stdout + p.stderr
    results = json.loads((out / "results.json").read_text())
    scores = {t["number"]: t["score"] for t in results["tests"]}
    for number in attack.only:
        assert scores[number] <= attack.max_score(number), f"{number}: {scores[number]}"
    assert sorted(p.name for p in out.iterdir()) == ["badge.svg", "report.html", "results.json"]
    assert values["TOKEN"] not in (out / "results.json").read_text()
    time.sleep(0.2)
    assert not sandbox.marked_processes(f"{pid}-"), "a process of the sandbox outlived the run"
    assert not Path(values["SENTINEL"]).exists()


# ----- attacks that need a training run ------------------------------------------------------------------
def small_calibration(calibration: Calibration) -> Calibration:
    """The real pass marks with a protocol of 3200 images and one epoch: the attacks below succeed or fail
    whatever the length of training, and this keeps each run to seconds."""
    raw = json.loads(json.dumps(calibration.raw))
    raw["protocol"] = {**raw.get("protocol", {}), "train_images": 3200, "epochs": 1, "log_every": 10}
    return Calibration(raw, calibration.classifier_file)


@pytest.fixture(scope="module")
def training_files(tmp_path_factory, cifar10, calibration):
    """pretrained.npz: trained BatchNorm weights (the grader's reference classifier) named as the base's NetBN
    names them; testset.npz: the public test images and labels."""
    import importlib.util

    folder = tmp_path_factory.mktemp("shipped")
    spec = importlib.util.spec_from_file_location("base_submission_for_test", attacks.BASE)
    base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base)
    reference = reference_classifier(calibration.classifier_file)
    assert reference is not None, "no reference classifier to ship"
    student_names = list(base.NetBN().state_dict())
    np.savez(folder / "pretrained.npz", **{s: v.numpy() for s, v in zip(student_names, reference.state_dict().values())})
    np.savez(folder / "testset.npz", x=cifar10.test_x, y=cifar10.test_y)
    return {"PRETRAINED": str(folder / "pretrained.npz"), "TESTSET": str(folder / "testset.npz")}


class InputRecorder:
    """Every array the grader hands a child (SubmissionRun.put_inputs)."""

    def __init__(self, monkeypatch) -> None:
        from grader.sandbox.runner import SubmissionRun

        self.arrays: dict[str, np.ndarray] = {}
        original = SubmissionRun.put_inputs

        def record(run, arrays):
            self.arrays.update(arrays)
            return original(run, arrays)

        monkeypatch.setattr(SubmissionRun, "put_inputs", record)

    def assert_no_test_labels(self, test_y: np.ndarray) -> None:
        for name, arr in self.arrays.items():
            flat = np.asarray(arr).ravel()
            assert not (flat.size >= 100 and flat.size <= test_y.size and np.array_equal(flat, test_y[: flat.size])), \
                f"in/{name}.npy holds the test labels"
            assert not (flat.size == test_y.size and flat.dtype.kind in "iu" and np.mean(flat == test_y) > 0.2), \
                f"in/{name}.npy looks like the test labels"


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING)
def test_training_attack_gains_nothing(name, tmp_path, cifar10, calibration, isolation, training_files, monkeypatch):
    attack = attacks.ATTACKS[name]
    recorder = InputRecorder(monkeypatch)
    values = placeholders(tmp_path, **training_files)
    folder = attacks.build(name, tmp_path, **values)
    start = time.monotonic()
    result = grade(folder, GradeOptions(selected=RUBRIC.select(",".join(attack.only)), verify_reference=False),
                   dataset=cifar10, calibration=small_calibration(calibration), isolation=isolation)
    elapsed = time.monotonic() - start
    assert_contained(values)
    recorder.assert_no_test_labels(cifar10.test_y)
    check_result(name, result, elapsed)
