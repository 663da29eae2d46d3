"""Pass marks for the graded training runs, calibrated from real runs of the reference solution
(`grader/calibration.json`, written by `hw2-grade calibrate`, grader.tools.calibrate): the per-seed
accuracies and loss curves, the pass marks, the protocol, the machine and the command that made them.

Pass mark: a one-sided lower prediction bound, mean - t_{0.999, n-1} * sd * sqrt(1 + 1/n) over the n seeds,
so that a correct network (one more draw from the same population) passes with probability >= 0.999.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grader.engine import Protocol

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
CLASSIFIER_FILE = Path(__file__).with_name("reference_classifier.npz")
COVERAGE = 0.999
FIRST_CONV_DIGITS = 5  # decimals kept of the reference's conv1 weights (|w| ~ 0.1)


class Calibration:
    def __init__(self, raw: dict, classifier_file: Path | None = None) -> None:
        self.raw = raw
        self.classifier_file = classifier_file

    @property
    def coverage(self) -> float:
        return float(self.raw.get("coverage", COVERAGE))

    def has(self, variant: str) -> bool:
        return variant in self.raw.get("variants", {})

    def threshold(self, variant: str) -> float:
        return float(self.raw["variants"][variant]["threshold"])

    def mean(self, variant: str) -> float:
        return float(np.mean([a[-1] for a in self.raw["variants"][variant]["epoch_accuracy"]]))

    def seed_count(self, variant: str) -> int:
        return len(self.raw["variants"][variant]["seeds"])

    def band(self, variant: str) -> dict[str, list]:
        """Min/max over the calibration seeds of the loss curve and the per-epoch accuracy."""
        v = self.raw["variants"][variant]
        losses, accs = np.array(v["losses"]), np.array(v["epoch_accuracy"])
        return {"steps": v["steps"], "loss_lo": losses.min(0).tolist(), "loss_hi": losses.max(0).tolist(),
                "acc_lo": accs.min(0).tolist(), "acc_hi": accs.max(0).tolist()}

    def first_conv(self, variant: str = "net") -> np.ndarray | None:
        """The first calibration seed's conv1 weights (C_out, 3, k, k) after training, when recorded."""
        w = self.raw.get("variants", {}).get(variant, {}).get("first_conv")
        try:
            a = np.asarray(w, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return a if a.ndim == 4 and a.size and np.isfinite(a).all() else None

    def protocol(self) -> Protocol | None:
        return Protocol(**self.raw["protocol"]) if "protocol" in self.raw else None


def load_calibration(path: Path = CALIBRATION_FILE, classifier: Path = CLASSIFIER_FILE) -> Calibration:
    raw = json.loads(path.read_text()) if path.exists() else {}
    return Calibration(raw, classifier)
