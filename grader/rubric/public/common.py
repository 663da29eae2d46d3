"""Judging glue shared by the judges: a child's failure or a missing answer as a verdict, a network's output
shapes, and the verdict on a graded training run."""
from __future__ import annotations

import math

from checks.verdict import Verdict
from grader.evidence.context import GraderFault
from grader.evidence.training import FRESH_LIMIT
from grader.rubric.public.fresh_start import initialiser, start_problem
from grader.sandbox import protocol as P
from grader.sandbox.runner import TaskOutcome

ARCH_BATCH = (8, 10)  # the probe feeds (8, 3, 32, 32) inputs: (8, 10) logits expected
CHANCE = 0.10  # accuracy of a classifier that guesses (10 classes)


def failed(outcome: TaskOutcome, what: str) -> Verdict:
    return Verdict(0.0, f"{what}: {outcome.error}")


def percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def answer_text(ctx, key: str, kinds: tuple[type, ...] = (str,), expected: str = "a string") -> tuple[object, Verdict | None]:
    """(value, None) when answers.toml holds `key` as one of `kinds`, else (None, a failing verdict)."""
    value, problem = ctx.answer(key)
    if problem:
        return None, Verdict(0.0, problem)
    if not isinstance(value, kinds):
        return None, Verdict(0.0, f"{key} must be {expected}, got {type(value).__name__}")
    return value, None


def network_output(ctx, name: str) -> tuple[Verdict | None, dict]:
    """(a failing verdict or None, the probe's data): `name`() builds and maps the probe's (8, 3, 32, 32)
    inputs to finite (8, 10) logits (NetBN in train and eval mode)."""
    o = ctx.probe(P.arch(name))
    if not o.ok:
        return failed(o, f"{name}()"), {}
    modes = ["eval"] + (["train"] if name == "NetBN" else [])
    for mode in modes:
        try:
            y = o.array(P.network_output(name, mode))
        except ValueError as e:
            return Verdict(0.0, f"{name}() in {mode} mode: output not usable ({e})."), o.data
        if tuple(y.shape) != ARCH_BATCH:
            return Verdict(0.0, f"{name}() maps a batch of shape (8, 3, 32, 32) to shape {tuple(y.shape)} in {mode} "
                                f"mode; the handout's network outputs (N, 10) logits, here {ARCH_BATCH}."), o.data
    return None, o.data


def judge_training(ctx, variant: str, what: str) -> Verdict:
    """A graded training run: it completes without NaN, started fresh (a random draw of its initialisation,
    grader.rubric.public.fresh_start, that does not classify yet), and its test accuracy meets the
    calibrated pass mark (numbers that say how well a correct network trains, not how to write one). A run
    trained by the student's own code cannot be told from a forged one: the instructor's edition sends it
    for review. An installation without calibration (a student edition without calibration.json) checks
    the completed run only."""
    obs = ctx.training()[variant]
    if obs.grader_fault:
        raise GraderFault(f"training {what}: {obs.error}")
    if not obs.ok:
        limit = f" (the limit: {obs.limit})" if obs.limit and "CPU time" in obs.error else ""
        return Verdict(0.0, f"training {what} failed: {obs.error}{limit}", diagnoses=("train.failed",))
    problem = start_problem(ctx, variant, obs)
    if problem:
        return Verdict(0.0, f"{what} does not start from a fresh random draw of {initialiser(variant)}, so the run "
                            f"earns nothing: {problem}.", diagnoses=("train.not_fresh",))
    if obs.initial_accuracy is not None and obs.initial_accuracy > FRESH_LIMIT:
        return Verdict(0.0, f"{what} already scores {percent(obs.initial_accuracy)} on the test images before any "
                            f"training: the network must start from a fresh initialisation, not from stored weights",
                       diagnoses=("train.pretrained",))
    if not obs.epoch_accuracy:
        return Verdict(0.0, f"training {what} produced no evaluable network", diagnoses=("train.failed",))
    if not all(math.isfinite(x) for x in obs.losses):
        return Verdict(0.0, f"training {what}: the training loss became NaN or infinite", diagnoses=("train.not_finite",))
    cal = ctx.calibration
    acc, epochs = obs.epoch_accuracy[-1], len(obs.epoch_accuracy)
    if not cal.has(variant):
        if ctx.edition == "instructor":
            return Verdict(0.0, f"the grader has no calibration for the {variant} run: run `hw2-grade calibrate` first")
        return Verdict(1.0, f"{what} trained for {epochs} epoch{'s' if epochs != 1 else ''} of the grader's protocol "
                            f"without NaN or infinite losses and reached {percent(acc)} test accuracy. This installation "
                            f"has no calibrated pass mark, so only the completed run is checked here; the instructor's "
                            f"run compares the accuracy with the pass mark.")
    threshold = cal.threshold(variant)
    mark = (f"pass mark {percent(threshold)}, set so that a correct network passes with probability >= "
            f"{cal.coverage}; the reference reaches {percent(cal.mean(variant))} on average over "
            f"{cal.seed_count(variant)} seeds")
    text = f"{what} reached {percent(acc)} test accuracy after {epochs} epochs of the grader's protocol ({mark})."
    codes: tuple[str, ...] = ()
    if acc >= threshold:
        fraction = 1.0
    elif acc >= (CHANCE + threshold) / 2:
        fraction, text, codes = 0.5, text + " It learns, but stays below the pass mark.", ("train.below_mark",)
    else:
        fraction = 0.0
        learns = acc >= CHANCE + 0.05
        text += " Far below the pass mark." if learns else " It does not learn (chance is 10%)."
        codes = ("train.below_mark",) if learns else ("train.no_learning",)
    if obs.verified:
        return Verdict(fraction, text + " The grader trained it itself: its reference network, started from the "
                                        "submission's initial weights (which compute the same function).",
                       diagnoses=codes)
    if ctx.edition != "instructor":
        return Verdict(fraction, text, diagnoses=codes)  # the student edition runs on the student's own machine
    why = obs.unmapped or "the grader could not train it in its reference network"
    if fraction == 0.0:  # nothing to confirm, but the student learns why the grader did not train it
        return Verdict(0.0, f"{text} The grader did not train this network itself: {why}.", diagnoses=codes)
    return Verdict(fraction, f"{text} The grader did not train this network itself: {why}; the accuracy was "
                             f"measured by the submission's own code in the sandbox.", review=True, diagnoses=codes)
