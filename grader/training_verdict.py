"""The verdict on a graded training run: the test accuracy against the calibrated pass mark.

In the instructor's edition a run is trusted only when the grader trained it itself (the submission's
network maps onto the reference network); otherwise the accuracy is what the submission's own code
reported, and the item goes to the instructor for review instead of earning points automatically."""
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
    if obs.initial_accuracy is not None and obs.initial_accuracy > FRESH_LIMIT:
        return Verdict(0.0, f"{what} already scores {_pct(obs.initial_accuracy)} on the test images before any "
                            f"training: the network must start from a fresh initialisation, not from stored weights")
    if not obs.epoch_accuracy:
        return Verdict(0.0, f"training {what} produced no evaluable network")
    acc = obs.epoch_accuracy[-1]
    epochs = len(obs.epoch_accuracy)
    text = f"{what} reached {_pct(acc)} test accuracy after {epochs} epochs of the grader's protocol ({mark})."
    if acc >= threshold:
        fraction = 1.0
    elif acc >= (CHANCE + threshold) / 2:
        fraction, text = 0.5, text + " It learns, but stays below the pass mark."
    else:
        fraction = 0.0
        text += " It does not learn (chance is 10%)." if acc < CHANCE + 0.05 else " Far below the pass mark."
    if obs.verified:
        return Verdict(fraction, text + " The grader trained it itself: its reference network, started from the "
                                        "submission's initial weights (which compute the same function).")
    return _unverified(ctx, variant, fraction, text)


def _unverified(ctx, variant: str, fraction: float, text: str) -> Verdict:
    """A run trained and evaluated by the submission's own code. The student's edition runs on the student's
    own machine and scores it; the instructor's edition cannot tell an honest report from a forged one (the
    code that trains could as well write the results, or recognise the test images), so a human decides."""
    if ctx.config.edition != "instructor" or fraction == 0.0:
        return Verdict(fraction, text)
    why = ctx.unmapped.get(variant, "the grader could not train it in its reference network")
    return Verdict(fraction, f"{text} The grader did not train this network itself: {why}; the accuracy was "
                             f"measured by the submission's own code in the sandbox.", review=True)
