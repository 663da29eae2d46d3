"""Pass marks for the graded training runs, calibrated from real runs of the reference solution.

`hw2-grade calibrate` trains every variant (Net, Net + He init, NetBN) of `solutions/` for several seeds
under the grading protocol and engine, and stores in `grader/calibration.json`: the per-seed accuracies and
loss curves, the pass marks, the protocol, the machine, and the command that regenerates the file. It also
stores a trained reference classifier (`grader/reference_classifier.npz`) for the augmentation check.

Pass mark: a one-sided lower prediction bound, mean - t_{0.999, n-1} * sd * sqrt(1 + 1/n) over the n seeds,
so that a correct network (one more draw from the same population) passes with probability >= 0.999.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from checks.statistics import lower_prediction_bound
from grader.engine import Protocol, predict, train_variant

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
CLASSIFIER_FILE = Path(__file__).with_name("reference_classifier.npz")
COVERAGE = 0.999
VARIANTS = ("net", "kaiming", "bn")


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

    def protocol(self) -> Protocol | None:
        return Protocol(**self.raw["protocol"]) if "protocol" in self.raw else None

    def reference_classifier(self) -> torch.nn.Module | None:
        if not self.classifier_file or not self.classifier_file.exists():
            return None
        from solutions.cnn import NetBN

        model = NetBN()
        with np.load(self.classifier_file, allow_pickle=False) as z:
            model.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
        return model.eval()


def load_calibration(path: Path = CALIBRATION_FILE, classifier: Path = CLASSIFIER_FILE) -> Calibration:
    raw = json.loads(path.read_text()) if path.exists() else {}
    return Calibration(raw, classifier)


def _builders():
    from solutions.cnn import Net, NetBN
    from solutions.he_init import init_weights

    return {"net": (Net, None), "kaiming": (Net, init_weights), "bn": (NetBN, None)}


def calibrate(dataset, seeds: list[int], protocol: Protocol, out: Path = CALIBRATION_FILE,
              classifier_out: Path = CLASSIFIER_FILE, command: str = "", log=print) -> dict:
    """Train every variant for every seed; write the calibration file (and the reference classifier)."""
    from grader.context import perturb_test_images

    torch.set_num_threads(protocol.threads)
    train_x, train_y = torch.from_numpy(dataset.train_x), torch.from_numpy(dataset.train_y)
    test_y = torch.from_numpy(dataset.test_y)
    variants: dict[str, dict] = {}
    best_bn = None
    for name, (build, init) in _builders().items():
        record = {"seeds": [], "epoch_accuracy": [], "losses": [], "steps": [], "images_per_s": []}
        for seed in seeds:
            test_x = torch.from_numpy(perturb_test_images(dataset.test_x, seed))  # what grading evaluates on
            model, result = train_variant(build, init, train_x, train_y, protocol, seed)
            accs = []
            for state in result.epoch_states:
                model.load_state_dict(state)
                accs.append(float((predict(model, test_x) == test_y).float().mean()))
            record["seeds"].append(seed)
            record["epoch_accuracy"].append(accs)
            record["losses"].append(result.losses)
            record["steps"] = result.steps
            record["images_per_s"].append(result.images_per_s)
            log(f"calibrate {name} seed {seed}: accuracy per epoch {[round(a, 4) for a in accs]}, "
                f"{result.images_per_s:.0f} images/s")
            if name == "bn" and (best_bn is None or accs[-1] > best_bn[0]):
                best_bn = (accs[-1], {k: v.numpy() for k, v in model.state_dict().items()})
        record["threshold"] = lower_prediction_bound([a[-1] for a in record["epoch_accuracy"]], COVERAGE)
        variants[name] = record
    raw = {"command": command, "coverage": COVERAGE, "protocol": asdict(protocol), "variants": variants,
           "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
                      f"{platform.processor() or platform.platform()}",
           "created": time.strftime("%Y-%m-%d %H:%M:%S"), "data": dataset.source}
    out.write_text(json.dumps(raw, indent=1))
    if best_bn is not None:
        np.savez(classifier_out, **best_bn[1])
    return raw
