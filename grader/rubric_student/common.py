"""Public judging glue shared by the student rubric's modules: output shapes of a network and the
completion of a training run. No reference network and no reference answer is used."""
from __future__ import annotations

import math

from checks.verdict import Verdict
from grader.rubric.common import failed, percent
from grader.training_verdict import judge_training

ARCH_BATCH = (8, 10)  # the probe feeds (8, 3, 32, 32) inputs: (8, 10) logits expected


def judge_network_output(ctx, name: str) -> tuple[Verdict | None, dict]:
    """(a failing verdict or None, the probe's data): `name`() builds and maps the probe's (8, 3, 32, 32)
    inputs to finite (8, 10) logits (NetBN in train and eval mode)."""
    o = ctx.probe()[f"arch:{name}"]
    if not o.ok:
        return failed(o, f"{name}()"), {}
    modes = [("eval", f"{name}_y_eval")] + ([("train", f"{name}_y_train")] if name == "NetBN" else [])
    for mode, array in modes:
        try:
            y = o.array(array)
        except ValueError as e:
            return Verdict(0.0, f"{name}() in {mode} mode: output not usable ({e})."), o.data
        if tuple(y.shape) != ARCH_BATCH:
            return Verdict(0.0, f"{name}() maps a batch of shape (8, 3, 32, 32) to shape {tuple(y.shape)} in {mode} "
                                f"mode; the handout's network outputs (N, 10) logits, here {ARCH_BATCH}."), o.data
    return None, o.data


def judge_training_run(ctx, variant: str, what: str) -> Verdict:
    """The graded training run of `variant` completes without NaN and gives an evaluable network. Where this
    installation has a calibrated pass mark (grader/calibration.json; thresholds are no answers), the verdict
    is the instructor's: the test accuracy against that pass mark."""
    obs = ctx.training()[variant]
    if not obs.ok:
        return Verdict(0.0, f"training {what} failed: {obs.error}")
    if not obs.epoch_accuracy:
        return Verdict(0.0, f"training {what} produced no evaluable network")
    if not all(math.isfinite(x) for x in obs.losses):
        return Verdict(0.0, f"training {what}: the training loss became NaN or infinite")
    if ctx.calibration.has(variant):
        return judge_training(ctx, variant, what)
    epochs, acc = len(obs.epoch_accuracy), obs.epoch_accuracy[-1]
    return Verdict(1.0, f"{what} trained for {epochs} epoch{'s' if epochs != 1 else ''} of the grader's protocol "
                        f"without NaN or infinite losses and reached {percent(acc)} test accuracy. This installation "
                        f"has no calibrated pass mark, so only the completed run is checked here; the instructor's "
                        f"run compares the accuracy with the pass mark.")
