"""`hw2-grade calibrate --out DIR`: train every variant (Net, Net + He init, NetBN) of `solutions/` for several
seeds under the grading protocol and engine, and write the pass marks and the first seed's trained conv1
filters of Net (DIR/calibration.json, see grader.calibration) and a trained reference classifier
(DIR/reference_classifier.npz) for the augmentation check. It writes only where --out says, and says where:
an installation grades with the files in its own package folder, which the instructor replaces by hand."""
from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from checks.statistics import lower_prediction_bound
from grader.calibration import CALIBRATION_FILE, CLASSIFIER_FILE, COVERAGE, FIRST_CONV_DIGITS
from grader.data import DataError, load_cifar10, perturb_test_images
from grader.engine import Protocol, predict, train_variant
from grader.messages import ArgumentParser, fail
from grader.reference.networks import reference_model
from grader.sandbox.protocol import VARIANTS
from solutions.he_init import init_weights


def calibrate(dataset, seeds: list[int], protocol: Protocol, out: Path, classifier_out: Path, command: str = "",
              log=print) -> dict:
    """Train every variant for every seed; write the calibration file (and the reference classifier)."""
    torch.set_num_threads(protocol.threads)
    train_x, train_y = torch.from_numpy(dataset.train_x), torch.from_numpy(dataset.train_y)
    test_y = torch.from_numpy(dataset.test_y)
    variants: dict[str, dict] = {}
    best_bn = None
    for name, variant in VARIANTS.items():
        build, init = (lambda network=variant.network: reference_model(network)), init_weights if variant.init else None
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
            if name == "net" and "first_conv" not in record:  # the report shows it beside the student's
                record["first_conv"] = np.round(model.conv1.weight.detach().numpy().astype(float),
                                                FIRST_CONV_DIGITS).tolist()  # (6, 3, 5, 5) after the last epoch
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


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="hw2-grade calibrate", description="Recalibrate the training pass marks "
                                "from runs of the reference solution.")
    p.add_argument("--out", type=Path, required=True,
                   help=f"folder for {CALIBRATION_FILE.name} and {CLASSIFIER_FILE.name} (this installation grades "
                        f"with the ones in {CALIBRATION_FILE.parent}: copy them there to use them)")
    p.add_argument("--data", help="CIFAR-10 location (default: $HW2_CIFAR10)")
    p.add_argument("--seeds", type=int, default=8, help="number of seeds per variant (at least 5)")
    args = p.parse_args(argv)
    try:
        if args.seeds < 5:
            raise ValueError("--seeds must be at least 5")
        args.out.mkdir(parents=True, exist_ok=True)
        dataset = load_cifar10(args.data)
    except (ValueError, DataError) as e:
        return fail(str(e), prog="hw2-grade calibrate")
    except OSError as e:
        return fail(f"cannot create {args.out}: {e.strerror}", prog="hw2-grade calibrate")
    out, classifier = args.out / CALIBRATION_FILE.name, args.out / CLASSIFIER_FILE.name
    raw = calibrate(dataset, seeds=list(range(args.seeds)), protocol=Protocol(), out=out, classifier_out=classifier,
                    command=f"hw2-grade calibrate --seeds {args.seeds} --out DIR")
    marks = ", ".join(f"{name} {100 * v['threshold']:.1f}%" for name, v in raw["variants"].items())
    print(f"wrote {out} (pass marks: {marks}) and {classifier}")
    if out.resolve() != CALIBRATION_FILE.resolve():
        print(f"this installation still grades with {CALIBRATION_FILE}: copy both files into {CALIBRATION_FILE.parent} "
              f"to use them")
    return 0
