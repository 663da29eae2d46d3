"""The verdict on a graded training run: the student's test accuracy against the calibrated pass mark."""
from __future__ import annotations

from checks.verdict import Verdict

CHANCE = 0.10  # accuracy of a classifier that guesses (10 classes)
FRESH_LIMIT = 0.20  # an untrained network above this accuracy was not freshly initialised


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def judge_training(ctx, variant: str, what: str) -> Verdict:
    obs = ctx.training()[variant]
    cal = ctx.calibration
    if not cal.has(variant):
        return Verdict(0.0, f"the grader has no calibration for the {variant} run: run `hw2-grade calibrate` first")
    threshold, mean, n = cal.threshold(variant), cal.mean(variant), cal.seed_count(variant)
    mark = f"pass mark {_pct(threshold)}, set so that a correct network passes with probability >= {cal.coverage}; " \
           f"the reference reaches {_pct(mean)} on average over {n} seeds"
    if not obs.ok:
        return Verdict(0.0, f"training {what} failed: {obs.error}")
    if not obs.epoch_accuracy:
        return Verdict(0.0, f"training {what} produced no evaluable network")
    if obs.initial_accuracy is not None and obs.initial_accuracy > FRESH_LIMIT:
        return Verdict(0.0, f"{what} already scores {_pct(obs.initial_accuracy)} on the test images before any "
                            f"training: the network must start from a fresh initialisation, not from stored weights")
    acc = obs.epoch_accuracy[-1]
    epochs = len(obs.epoch_accuracy)
    text = f"{what} reached {_pct(acc)} test accuracy after {epochs} epochs of the grader's protocol ({mark})."
    if acc >= threshold:
        return Verdict(1.0, text)
    if acc >= (CHANCE + threshold) / 2:
        return Verdict(0.5, text + " It learns, but stays below the pass mark.")
    return Verdict(0.0, text + (" It does not learn (chance is 10%)." if acc < CHANCE + 0.05 else " Far below the pass mark."))
