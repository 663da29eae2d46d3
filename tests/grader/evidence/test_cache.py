"""The cache of trusted training runs: two students whose different code builds byte-identical starting
networks share one training; the reused result is exactly the recomputed one; a change of one ulp in one
starting weight misses; nothing but the grading process writes an entry, and an entry that is not one of
ours is trained again, never believed."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grader.engine import Protocol
from grader.evidence.cache import CachedRun, TrainingCache, run_key
from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from tests.grader.test_batch import CORRECT, CORRECT_ATTRIBUTES
from tests.grader.test_training_limits import short_run

NET_RUN = "5.1.3"  # Net's graded run: the grader trains it itself when the network maps onto the reference
LABEL = "Net (5.1.3)"
# The attribute-style student, one starting weight moved by one ulp after the default initialisation
NUDGED = CORRECT_ATTRIBUTES.replace(
    "        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)\n",
    "        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)\n"
    "        with torch.no_grad():\n"
    "            self.fc3.bias[0] = torch.nextafter(self.fc3.bias[0], torch.tensor(1.0))\n", 1)


def student(tmp_path, name: str, source: str):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "submission.py").write_text(source)
    return folder


def curves(result):
    return [(c.label, c.steps, c.losses, c.epoch_accuracy) for c in result.curves]


@pytest.fixture
def graded(tmp_path, cifar10, calibration, isolation):
    """grade(folder, cache folder or None) of Net's graded run, with a 640-image protocol."""
    if not isolation.bwrap:
        pytest.skip("the training cache is used with bubblewrap only (without it the student's code could write it)")
    cal, data = short_run(calibration, cifar10)

    def run(folder, cache):
        options = GradeOptions(selected=RUBRIC.select(NET_RUN), verify_reference=False,
                               training_cache=str(cache) if cache else None)
        return grade(folder, options, dataset=data, calibration=cal, isolation=isolation)
    return run


def test_two_students_with_identical_starting_weights_share_one_training_and_get_the_recomputed_result(tmp_path, graded):
    assert NUDGED != CORRECT_ATTRIBUTES
    cache = tmp_path / "cache"
    sequential = graded(student(tmp_path, "seq", CORRECT), cache)  # trains and stores
    attributes = graded(student(tmp_path, "attr", CORRECT_ATTRIBUTES), cache)  # other code, same bytes: reused
    recomputed = graded(student(tmp_path, "attr-again", CORRECT_ATTRIBUTES), None)

    assert sequential.reused_runs == [] and attributes.reused_runs == [LABEL] and recomputed.reused_runs == []
    assert len(list(cache.glob("*.npz"))) == 1
    assert "identical starting weights to a run already trained: result reused" in " ".join(attributes.notes)
    assert "reused" in " ".join(k for k in attributes.environment if k.startswith("time: training"))
    # exactly, not approximately: every loss point and accuracy, and the filters drawn from the weights
    assert curves(attributes) == curves(recomputed) == curves(sequential)
    assert attributes.curves[0].epoch_accuracy and attributes.curves[0].losses
    assert attributes.accuracy_table == recomputed.accuracy_table
    assert attributes.filters_png == recomputed.filters_png
    assert [(i.number, i.score, i.status) for i in attributes.items] == \
        [(i.number, i.score, i.status) for i in recomputed.items]


def test_one_ulp_in_one_starting_weight_misses_the_cache(tmp_path, graded):
    cache = tmp_path / "cache"
    graded(student(tmp_path, "attr", CORRECT_ATTRIBUTES), cache)
    nudged = graded(student(tmp_path, "nudged", NUDGED), cache)
    assert nudged.reused_runs == [] and "result reused" not in " ".join(nudged.notes)
    assert len(list(cache.glob("*.npz"))) == 2


def test_without_a_cache_folder_nothing_is_stored_or_reused(tmp_path, graded):
    first = graded(student(tmp_path, "a", CORRECT), None)
    second = graded(student(tmp_path, "b", CORRECT), None)
    assert first.reused_runs == second.reused_runs == []
    assert not any(tmp_path.rglob("*.npz"))


def reference_net():
    from solutions.cnn import Net

    torch.manual_seed(0)
    return Net()


def test_the_key_covers_every_starting_tensor_protocol_seed_threads_and_data():
    model, protocol = reference_net(), Protocol(epochs=1, train_images=640)
    key = run_key(model, protocol, seed=0, threads=2, data="d")
    assert key == run_key(reference_net(), protocol, seed=0, threads=2, data="d")  # a pure function of the bytes
    nudged = reference_net()
    with torch.no_grad():
        w = nudged.conv2.weight.view(-1)
        w[17] = torch.nextafter(w[17], torch.tensor(float("inf")))
    others = [run_key(nudged, protocol, 0, 2, "d"), run_key(model, Protocol(epochs=2, train_images=640), 0, 2, "d"),
              run_key(model, protocol, 1, 2, "d"), run_key(model, protocol, 0, 1, "d"), run_key(model, protocol, 0, 2, "e")]
    assert key not in others and len(set(others)) == len(others)


def a_run(accuracy: float) -> CachedRun:
    return CachedRun(initial_accuracy=0.1, steps=[10, 20], losses=[2.302585092994046, 2.1 + 1e-16],
                     epoch_accuracy=[accuracy], images_per_s=1234.5, seconds=3.0, error="",
                     first_conv=np.arange(6 * 3 * 5 * 5, dtype=np.float32).reshape(6, 3, 5, 5) / 7)


def test_an_entry_reads_back_bit_for_bit_and_a_second_caller_does_not_train_again(tmp_path):
    cache, trained = TrainingCache(tmp_path), []
    first, reused = cache.run("k" * 64, lambda: trained.append(1) or a_run(0.3141592653589793))
    again, reused_again = cache.run("k" * 64, lambda: trained.append(2) or a_run(0.9))
    assert trained == [1] and (reused, reused_again) == (False, True)
    assert again.losses == first.losses and again.epoch_accuracy == [0.3141592653589793]
    assert np.array_equal(again.first_conv, first.first_conv) and again.first_conv.dtype == np.float32


@pytest.mark.parametrize("tamper", ["other key", "not npz", "symlink", "old format"])
def test_an_entry_that_is_not_ours_is_trained_again_never_believed(tmp_path, tamper):
    cache, key = TrainingCache(tmp_path), "a" * 64
    cache.write("b" * 64, a_run(0.99))
    entry = tmp_path / f"{key}.npz"
    if tamper == "other key":  # an entry copied under another key's name
        (tmp_path / f"{'b' * 64}.npz").rename(entry)
    elif tamper == "not npz":
        entry.write_bytes(b"PK\x03\x04 not a zip")
    elif tamper == "symlink":
        entry.symlink_to(tmp_path / f"{'b' * 64}.npz")
    else:
        meta = {"format": 0, "key": key}
        np.savez(entry, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    run, reused = cache.run(key, lambda: a_run(0.25))
    assert not reused and run.epoch_accuracy == [0.25]


def _worker(folder: str, log: str, barrier, answers) -> None:
    """One batch worker asking for the same key as another; answers whether it reused the other's run."""
    import time

    def train():
        with open(log, "a") as f:
            f.write("trained\n")
        time.sleep(1.0)  # the other worker asks while this one trains
        return a_run(0.5)
    barrier.wait()
    answers.put(TrainingCache(folder).run("c" * 64, train)[1])


def test_two_processes_asking_for_one_key_at_once_train_it_once(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, answers = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), str(tmp_path / "log"), barrier, answers))
               for _ in range(2)]
    for w in workers:
        w.start()
    reused = sorted(answers.get(timeout=120) for _ in workers)
    for w in workers:
        w.join(timeout=60)
    assert reused == [False, True]
    assert (tmp_path / "log").read_text() == "trained\n"


POISON = '''
import glob as _glob, os as _os
_folder = "@@CACHE@@"
for _path in _glob.glob(_os.path.join(_folder, "*")) + [_os.path.join(_folder, "f" * 64 + ".npz")]:
    try:
        with open(_path, "wb") as _f:
            _f.write(b"forged: 99% accuracy")
    except OSError:
        pass
'''


def test_a_submission_that_knows_where_the_cache_is_can_neither_write_nor_forge_it(tmp_path, graded):
    """The attacker knows the folder and that an honest classmate's run is stored there (the same starting
    weights as its own): it overwrites every entry and plants one. The folder is hidden from the sandbox, so
    the entries stay the grader's, and the attacker gets exactly the honest run's result."""
    cache = tmp_path / "cache"
    honest = graded(student(tmp_path, "honest", CORRECT_ATTRIBUTES), cache)
    before = {p.name: p.read_bytes() for p in cache.iterdir()}
    attacker = graded(student(tmp_path, "attacker", CORRECT + POISON.replace("@@CACHE@@", str(cache))), cache)
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == before
    assert attacker.reused_runs == [LABEL] and curves(attacker) == curves(honest)
