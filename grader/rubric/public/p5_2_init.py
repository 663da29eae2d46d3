"""Problem 5.2, public checks: `init_weights` gives every conv and linear layer Var[w] = 2 / fan-in (5.2.1, a
statistical check that needs no reference), and the Kaiming-initialised network meets its calibrated pass
mark (5.2.2). The proofs (5.2.3) are graded by hand."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from checks.statistics import mean_bound, two_sided_z, variance_ratio_bound
from checks.verdict import Verdict
from grader.rubric.public.common import failed, judge_training
from grader.sandbox import protocol as P

COVERAGE = 0.999  # a correct initialisation passes every layer's test together with at least this probability
LAYER_NAMES = ("conv 1", "conv 2", "FC 120", "FC 84", "FC 10")


def readable(x: float) -> str:
    """A ratio or bound a student can read: three decimals near 1, significant digits near zero (a variance
    ratio of 0.00002 is "2e-05", not "0.000")."""
    return f"{x:.3f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2g}"


def judge_layer(name: str, w: np.ndarray, z: float) -> tuple[bool, str, str]:
    """(passed, what the feedback says, diagnosis code of the defect or ""); w (draws, out, in[, k, k]): one
    layer's weights from several independent initialisations."""
    shape = w.shape[1:]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    ratio, hw = variance_ratio_bound(w, 2.0 / fan_in, z)
    mean, mean_hw = mean_bound(w, z)
    std = math.sqrt(float(np.mean(w.astype(np.float64) ** 2)))
    if abs(mean) > mean_hw + 1e-12:
        return False, f"{name}: mean weight {mean:.3g}, expected 0 (within {mean_hw:.2g})", "init.nonzero_mean"
    if abs(ratio - 1) <= hw:
        return True, f"{name}: Var[w]*fan_in/2 = {readable(ratio)} (1 within {readable(hw)})", ""
    ratio_out, hw_out = variance_ratio_bound(w, 2.0 / fan_out, z)
    if abs(ratio_out - 1) <= hw_out:
        return True, (f"{name}: Var[w]*fan_out/2 = {readable(ratio_out)}: fan-out scaling (the handout's backward case) "
                      f"is accepted; the forward case uses fan-in = {fan_in}"), ""
    return False, (f"{name}: Var[w]*fan_in/2 = {readable(ratio)}, expected 1 (within {readable(hw)}): off by a factor of "
                   f"{ratio:.3g} (weight std {std:.3g}, He init needs sqrt(2/{fan_in}) = {math.sqrt(2 / fan_in):.3g})"
                   ), "init.wrong_variance"


def init_weights_variance(ctx) -> Verdict:
    o = ctx.probe(P.INIT)
    if not o.ok:
        return failed(o, "init_weights")
    layers, draws = o.data.get("layers") or [], int(o.data.get("draws", 0))
    if len(layers) != len(LAYER_NAMES):
        return Verdict(0.0, f"Net() runs {len(layers)} conv/linear layers, expected {len(LAYER_NAMES)}; "
                            f"init_weights is checked on the handout's network")
    z = two_sided_z(COVERAGE, tests=2 * len(LAYER_NAMES))
    results = []
    for i, name in enumerate(LAYER_NAMES):
        try:
            w = np.stack([o.array(P.init_weight(i, d), dtype="float64") for d in range(draws)])
        except ValueError as e:
            results.append((False, f"{name}: {e}", ""))
            continue
        results.append(judge_layer(name, w, z))
    good = sum(ok for ok, _, _ in results)
    lines = "; ".join(text for _, text, _ in results)
    method = (f"{draws} independent initialisations pooled per layer; bound = {z:.2f} standard errors of the "
              f"sample variance (Bonferroni over {len(LAYER_NAMES)} layers, coverage {COVERAGE})")
    return Verdict(good / len(results), f"{good} of {len(results)} layers initialised per Eq. 6. {lines}. [{method}]",
                   diagnoses=tuple(dict.fromkeys(code for _, _, code in results if code)))


def kaiming_trains(ctx) -> Verdict:
    v = judge_training(ctx, "kaiming", "Net() with init_weights")
    base, kai = ctx.training().get("net"), ctx.training().get("kaiming")
    if base and kai and base.epoch_accuracy and kai.epoch_accuracy:
        v = replace(v, feedback=v.feedback + f" Baseline (default initialisation) under the same protocol: "
                                             f"{100 * base.epoch_accuracy[-1]:.1f}%.")
    return v
