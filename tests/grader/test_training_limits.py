"""Training runs of the student's own code are limited by CPU time scaled to this machine's speed, measured in
the same grade, not by wall time: under load a slow but correct network is still trained (and sent for
review, since the grader could not train it itself), and a run the machine's load starves is the grader's
error, to regrade, never the student's failure."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from grader.engine import Protocol
from grader.evidence import budget
from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from tests.conftest import item
from tests.corpus import fair
from tests.grader.test_attacks import small_calibration

PER_IMAGE = fair.HERE / "per_image_loop"


def short_run(calibration, dataset):
    """The real pass marks with a protocol of 640 training images, and 1000 test images: enough to
    time a run of the student's code end to end, in seconds (what is tested is the limit, not the accuracy).
    Every tenth test image: the image-folder test set is sorted by class, its first 1000 are all airplanes."""
    cal = small_calibration(calibration)
    cal.raw["protocol"]["train_images"] = 640
    return cal, replace(dataset, test_x=dataset.test_x[::10], test_y=dataset.test_y[::10])


def test_the_limit_is_cpu_time_proportional_to_the_measured_speed():
    protocol = Protocol(epochs=2, train_images=50_000)
    slow, fast = budget.training_budget(protocol, 4e-4), budget.training_budget(protocol, 2e-4)
    assert slow.cpu_s - budget.START_CPU_S == pytest.approx(2 * (fast.cpu_s - budget.START_CPU_S))
    assert fast.cpu_s == pytest.approx(budget.SLOWDOWN_ALLOWED * 2e-4 * 100_000 + budget.START_CPU_S)
    assert slow.wall_s == pytest.approx(budget.WALL_PER_CPU * slow.cpu_s)
    measured = budget.measure_cpu_per_image(protocol, threads=2)
    assert 1e-6 < measured < 1e-2, measured  # CPU seconds per image of a small CNN on any CPU


@pytest.fixture
def load():
    """Three processes spinning on this machine's CPUs for the duration of a test."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    yield
    for p in hogs:
        p.kill()
        p.wait()


@pytest.mark.slow
def test_slow_but_correct_unmappable_network_under_load_is_trained_to_the_end(cifar10, calibration, isolation, load):
    """Its training is judged on the accuracy it reached, not stopped by the machine's load (with the full
    protocol such a run is sent for review; this short one does not learn, which is not what is tested)."""
    cal, data = short_run(calibration, cifar10)
    result = grade(PER_IMAGE, GradeOptions(selected=RUBRIC.select("5.1.3"), verify_reference=False), dataset=data,
                   calibration=cal, isolation=isolation)
    it = item(result, "5.1.3")
    assert it.status in ("review", "partial", "passed", "failed") and "test accuracy after 1 epochs" in it.feedback, \
        it.feedback
    assert "timed out" not in it.feedback and "CPU time" not in it.feedback
    assert "s of CPU time per run" in result.environment["time limit of the student's training code"]
    assert [c.epoch_accuracy for c in result.curves if c.label.startswith("Net ")][0], "no accuracy was measured"
    assert not result.timed_out


@pytest.mark.slow
def test_a_run_the_machine_starves_is_an_error_to_regrade_not_a_failure(cifar10, calibration, isolation, monkeypatch):
    """The student's training runs on a CPU that six other processes hold (each in a session of its own, as
    other graders' children are), with a wall-clock backstop it cannot meet: its threads waited for the CPU
    most of the time they were ready to run (the kernel's schedstat, grader.sandbox.process), so the item is
    the grader's error, to regrade, not the student's timeout."""
    monkeypatch.setattr(budget, "WALL_PER_CPU", 0.02)  # the backstop fires while the run is still computing
    cal, data = short_run(calibration, cifar10)
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})  # the grader's children and the competitors share one CPU
    competitors = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"], start_new_session=True)
                   for _ in range(6)]
    try:
        result = grade(PER_IMAGE, GradeOptions(selected=RUBRIC.select("5.1.3"), verify_reference=False), dataset=data,
                       calibration=cal, isolation=isolation)
    finally:
        os.sched_setaffinity(0, saved)
        for p in competitors:
            p.kill()
            p.wait()
    it = item(result, "5.1.3")
    assert it.status == "error", it.feedback
    assert "the machine was too busy" in it.feedback and "grade again" in it.feedback
    assert not result.timed_out  # batch must not record the student as `timed out`
