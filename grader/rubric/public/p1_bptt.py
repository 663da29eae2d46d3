"""Problem 1, public checks: `bptt_gradients` runs on the probe's seeded random RNNs (T = 1 included) and
returns, for each gradient of the item, an array of the parameter's shape holding finite values: the
output-layer gradients (1.1) and the recurrent gradients (1.2). Whether the values are right is judged only
by the instructor's run (grader.rubric.answers.p1_bptt).

Policy on automatic differentiation: the handout asks for the derivation of the BPTT gradients, so a
`bptt_gradients` that calls autograd (`.backward()`, torch.autograd, torch.func) or another differentiation
library (jax, autograd, tensorflow) earns no points automatically: it is found statically (in the function and
the module's functions it calls) and at run time (DifferentiationWatch), and the instructor's run sends 1.1 and
1.2 for review with 0 until the instructor confirms; the report says what was found."""
from __future__ import annotations

from dataclasses import replace

from checks.library_use import function_library_uses
from checks.verdict import Verdict
from grader.evidence.probes import BPTT_SIZES
from grader.rubric.public.common import failed
from grader.sandbox import protocol as P

ITEM_KEYS = {"1.1": ("W_hz", "b_z"), "1.2": ("W_hh", "W_xh", "b_h")}


def gradient_format(ctx, number: str) -> Verdict:
    o = ctx.probe(P.BPTT)
    if not o.ok:
        return failed(o, "bptt_gradients")
    keys = ITEM_KEYS[number]
    returned = o.data.get("returned") or []
    good, problems = 0, []
    for key in keys:
        issues = []
        for i, (h, d, k, t) in enumerate(BPTT_SIZES):
            where = f"on the RNN with H={h}, D={d}, K={k}, T={t}"
            expected = ctx.inputs().bptt_instance(i)[0][key].shape
            if i >= len(returned) or key not in returned[i]:
                issues.append(f"the returned dict has no key {key!r} {where}")
                continue
            try:
                grad = o.array(P.bptt_gradient(i, key))
            except ValueError as e:
                issues.append(f"{where}: {'NaN or infinite values' if 'NaN' in str(e) else e}")
                continue
            if tuple(grad.shape) != tuple(expected):
                issues.append(f"shape {tuple(grad.shape)} {where}, expected {tuple(expected)} (the shape of {key})")
        if issues:
            problems.append(f"dL/d{key}: {issues[0]}" + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""))
        else:
            good += 1
    names = ", ".join(f"dL/d{k}" for k in keys)
    sizes = ", ".join(f"T={t}" for *_, t in BPTT_SIZES)
    if not problems:
        return Verdict(1.0, f"bptt_gradients returns {names} with the parameters' shapes and finite values on "
                            f"{len(BPTT_SIZES)} random RNNs ({sizes}).")
    return Verdict(good / len(keys), f"{good} of {len(keys)} gradients ({names}) have the parameter's shape and "
                                     f"finite values on every random RNN: " + "; ".join(problems) + ".")


def autodiff_uses(ctx) -> list[str]:
    """How bptt_gradients differentiates automatically: the probe's run-time observations, then the static
    ones; [] when it does not."""
    runtime = [f"called {c}" for c in ctx.probe(P.BPTT).data.get("autodiff_calls") or []]
    static = function_library_uses(ctx.submission_source(), "bptt_gradients", "differentiation")
    return (runtime + static)[:6]


def flag_autodiff(ctx, verdict: Verdict) -> Verdict:
    """`verdict`, sent for review (0 until confirmed) when bptt_gradients uses automatic differentiation."""
    uses = autodiff_uses(ctx)
    if not uses:
        return verdict
    return replace(verdict, review=True, feedback=(
        f"bptt_gradients uses automatic differentiation ({', '.join(uses)}); the handout asks for the derivation, "
        f"so the instructor decides what it earns. {verdict.feedback}"))


def output_layer_format(ctx) -> Verdict:
    return flag_autodiff(ctx, gradient_format(ctx, "1.1"))


def recurrent_format(ctx) -> Verdict:
    return flag_autodiff(ctx, gradient_format(ctx, "1.2"))
