"""grader/tools/calibrate.py: it writes where it is told, records the reference's trained conv1 filters for the
report, and leaves the installed package alone. A real (short) calibration on the real CIFAR-10."""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from grader.calibration import CALIBRATION_FILE, CLASSIFIER_FILE, Calibration, load_calibration
from grader.engine import Protocol
from grader.tools.calibrate import calibrate

TINY = Protocol(epochs=1, train_images=640, log_every=5)  # 10 SGD steps per run: the mechanics, in seconds


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_calibrate_writes_only_where_told_and_keeps_the_reference_filters(tmp_path, cifar10):
    before = (_digest(CALIBRATION_FILE), _digest(CLASSIFIER_FILE))
    # every 50th image: all ten classes (the image-folder data set is stored class by class)
    small = dataclasses.replace(cifar10, train_x=cifar10.train_x[::50][:640], train_y=cifar10.train_y[::50][:640],
                                test_x=cifar10.test_x[::20], test_y=cifar10.test_y[::20])
    out, classifier = tmp_path / "calibration.json", tmp_path / "reference_classifier.npz"
    raw = calibrate(small, seeds=[0, 1, 2], protocol=TINY, out=out, classifier_out=classifier, log=lambda _: None)
    assert (_digest(CALIBRATION_FILE), _digest(CLASSIFIER_FILE)) == before  # the package is untouched
    assert out.is_file() and classifier.is_file()
    filters = load_calibration(out, classifier).first_conv("net")
    assert filters.shape == (6, 3, 5, 5) and np.abs(filters).max() > 0
    assert raw["variants"]["net"]["seeds"] == [0, 1, 2] and "first_conv" not in raw["variants"]["bn"]


def test_the_shipped_calibration_has_the_reference_filters():
    filters = load_calibration().first_conv("net")
    assert filters is not None and filters.shape == (6, 3, 5, 5)
    assert Calibration({"variants": {"net": {"first_conv": [[1.0, float("nan")]]}}}).first_conv("net") is None
