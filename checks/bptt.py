"""Problem 1 checks: verification of the BPTT reference and the judging of rubric items 1.1 and 1.2.

Verification of the reference (`solutions.bptt`):
  * `sympy_verify`: the loss is unrolled in sympy with symbolic parameters and differentiated; the result is
    compared exactly (rational inputs, no floats) with equations (6)-(12) evaluated on the same inputs.
  * `autograd_verify`: float64 comparison of `bptt_gradients` with torch.autograd on random instances.

Judging (what the grader calls):
  * `judge_output_layer` (item 1.1: dL/dW_hz, dL/db_z) and `judge_recurrent` (item 1.2: dL/dW_hh, dL/dW_xh,
    dL/db_h) compare per-instance gradient dicts with the reference at relative error `REL_TOL`.
  * A gradient counts as right only when it is right on every instance. Credit: 1.1 earns 1/2 per right
    gradient of (W_hz, b_z); 1.2 earns 1/3 per right gradient of (W_hh, W_xh, b_h). Diagnoses earn nothing;
    they only explain the loss of points, with one exception:
  * Clipping policy: a gradient that equals dL/dtheta clipped to [-c, c] (every entry within c right, every
    entry beyond it exactly +-c: min-char-rnn's `np.clip(dparam, -5, 5)`) earns CLIP_CREDIT of its share.
    The derivation is right, but the item asks for dL/dtheta, and clipping belongs to the training loop.
    The grader's instances include one whose true gradients exceed every clip value up to 20 in every seed
    (checks.rnn_instances.large_gradient_instance), so the verdict does not depend on --seed.
  * Wrong gradients are diagnosed by matching them against deliberately wrong variants of the algorithm
    (`VARIANTS`, computed by `variant_gradients`), against the transposed reference, and against a constant
    multiple of the reference.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import sympy as sp
import torch

from checks.verdict import ProofResult, Verdict
from checks.rnn_instances import random_instance
from solutions.bptt import PARAM_NAMES, Instance, Params, bptt_gradients, softmax
from solutions.bptt import loss as np_loss

REL_TOL = 1e-6  # relative error (Frobenius norm) under which a submitted gradient counts as right
CLIP_CREDIT = 0.5  # share of a gradient's credit when it is right but clipped (see the module docstring)
CLIPPED = "your gradients are clipped to"  # how a clipped gradient's diagnosis starts
OUTPUT_KEYS = ("W_hz", "b_z")  # rubric item 1.1
RECURRENT_KEYS = ("W_hh", "W_xh", "b_h")  # rubric item 1.2
SYMPY_SIZES = ((1, 1, 2, 1), (2, 1, 2, 2), (2, 2, 3, 3))  # (H, D, K, T), small enough for exact algebra
# (H, D, K, T) for grading: T = 1 (where the recursion does not matter), H, D, K all different (so a transpose
# changes the shape of W_xh and W_hz), and H > 1 (so W_hh and W_hh^T differ).
GRADING_SIZES = ((3, 4, 5, 1), (3, 4, 5, 5), (4, 2, 3, 3), (2, 3, 4, 2))

FORMULAS = {  # the right answer, quoted in feedback for a wrong gradient
    "W_hz": "dL/dW_hz = sum_t (z_t - onehot(y_t)) h_t^T",
    "b_z": "dL/db_z = sum_t (z_t - onehot(y_t))",
    "W_hh": "dL/dW_hh = sum_t delta_t h_{t-1}^T",
    "W_xh": "dL/dW_xh = sum_t delta_t x_t^T",
    "b_h": "dL/db_h = sum_t delta_t",
}
DELTA_FORMULA = "delta_t = (W_hz^T (z_t - onehot(y_t)) + W_hh^T delta_{t+1}) * (1 - h_t^2)"


@dataclass(frozen=True)
class WrongVariant:
    name: str  # argument of `variant_gradients`
    message: str  # completes "<key> wrong: ..."


VARIANTS = (
    WrongVariant(
        "no_recursion",
        "the recursion through time is missing: delta_t lacks the term W_hh^T delta_{t+1} that carries the "
        "gradient of the later losses back to h_t (this is right only for T=1)",
    ),
    WrongVariant("one_minus_h", "(1 - h) used instead of (1 - h^2) as the tanh derivative"),
    WrongVariant("no_tanh_derivative", "the tanh derivative (1 - h_t^2) is missing from delta_t"),
    WrongVariant(
        "derivative_on_local_term_only",
        "(1 - h_t^2) multiplies only W_hz^T (z_t - y_t); it must also multiply W_hh^T delta_{t+1}",
    ),
    WrongVariant(
        "recursion_without_transpose", "W_hh used instead of W_hh^T to pass delta_{t+1} back through time"
    ),
    WrongVariant("h_t_instead_of_h_prev", "h_t used instead of h_{t-1} in dL/dW_hh = sum_t delta_t h_{t-1}^T"),
    WrongVariant(
        "no_target_subtracted", "dL/do_t taken as z_t: the one-hot target must be subtracted, z_t - onehot(y_t)"
    ),
    WrongVariant(
        "opposite_sign",
        "sign error (gradient has the opposite sign): dL/do_t is z_t - onehot(y_t), not onehot(y_t) - z_t",
    ),
    WrongVariant(
        "last_step_only",
        "only the last time step is counted; the weights are shared across time, so the gradient sums over all t",
    ),
    WrongVariant("mean_over_time", "averaged over time steps instead of summed (L is a sum over t)"),
)
_VARIANT_NAMES = tuple(v.name for v in VARIANTS)


class Ops(NamedTuple):
    """Element-wise functions, so the same equations run on float arrays and on arrays of sympy objects."""

    tanh: Callable[[np.ndarray], np.ndarray]
    softmax: Callable[[np.ndarray], np.ndarray]  # of one logit vector (K,)


NUMPY_OPS = Ops(tanh=np.tanh, softmax=softmax)
_sym_tanh = np.vectorize(sp.tanh, otypes=[object])
_sym_exp = np.vectorize(sp.exp, otypes=[object])
SYMPY_OPS = Ops(tanh=_sym_tanh, softmax=lambda o: _sym_exp(o) / _sym_exp(o).sum())


# ----------------------------------------------------------------------------------------------------------
# The equations, with switches for the wrong variants
# ----------------------------------------------------------------------------------------------------------


def variant_gradients(
    params: Params, xs: np.ndarray, ys: np.ndarray, h0: np.ndarray, variant: str | None = None, ops: Ops = NUMPY_OPS
) -> Params:
    """Equations (6)-(12) of `solutions.bptt`, or with the mistake `variant` (a name in `VARIANTS`) made.

    Written for float arrays and for object arrays of sympy numbers alike: integer constants (0, 1) are used
    so an exact sympy computation never picks up a float.
    """
    if variant is not None and variant not in _VARIANT_NAMES:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(_VARIANT_NAMES)}")
    W_xh, W_hh, b_h, W_hz, b_z = (params[k] for k in PARAM_NAMES)
    T = xs.shape[0]

    hs, dos = [], []  # h_t (H,), dL/do_t (K,)
    h = h0
    for t in range(T):
        h = ops.tanh(W_xh @ xs[t] + W_hh @ h + b_h)  # (H,)
        do = ops.softmax(W_hz @ h + b_z)  # (K,) z_t
        if variant != "no_target_subtracted":
            do = do - np.eye(b_z.shape[0], dtype=int)[ys[t]]  # z_t - onehot(y_t)
        if variant == "opposite_sign":
            do = -do
        hs.append(h)
        dos.append(do)

    deltas: list[np.ndarray] = [h0] * T  # placeholders, all overwritten below
    delta_next = 0 * h0  # delta_{T+1} = 0, same dtype as h0
    W_back = W_hh if variant == "recursion_without_transpose" else W_hh.T
    for t in reversed(range(T)):
        local = W_hz.T @ dos[t]  # (H,) from L_t
        carried = 0 * h0 if variant == "no_recursion" else W_back @ delta_next  # (H,) from L_{t+1..T}
        if variant == "one_minus_h":
            dtanh = 1 - hs[t]
        elif variant == "no_tanh_derivative":
            dtanh = 1 + 0 * hs[t]
        else:
            dtanh = 1 - hs[t] ** 2
        if variant == "derivative_on_local_term_only":
            deltas[t] = local * dtanh + carried
        else:
            deltas[t] = (local + carried) * dtanh
        delta_next = deltas[t]

    h_prev = [h0] + hs[:-1]
    h_used = hs if variant == "h_t_instead_of_h_prev" else h_prev
    steps = [T - 1] if variant == "last_step_only" else list(range(T))
    grads = {
        "W_xh": sum(np.outer(deltas[t], xs[t]) for t in steps),  # (H, D)
        "W_hh": sum(np.outer(deltas[t], h_used[t]) for t in steps),  # (H, H)
        "b_h": sum(deltas[t] for t in steps),  # (H,)
        "W_hz": sum(np.outer(dos[t], hs[t]) for t in steps),  # (K, H)
        "b_z": sum(dos[t] for t in steps),  # (K,)
    }
    if variant == "mean_over_time":
        grads = {k: v / T for k, v in grads.items()}
    return grads


def grading_instances(seed: int = 0, sizes: Sequence[tuple[int, int, int, int]] = GRADING_SIZES) -> list[Instance]:
    """Random instances, one per (H, D, K, T) in `sizes`, from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [random_instance(rng, *size) for size in sizes]


def reference_gradients(instances: Sequence[Instance]) -> list[Params]:
    """The reference answer for each instance."""
    return [bptt_gradients(*inst) for inst in instances]


# ----------------------------------------------------------------------------------------------------------
# Verification of the reference
# ----------------------------------------------------------------------------------------------------------


def _symbolic_loss(params: dict[str, np.ndarray], xs: np.ndarray, ys: np.ndarray, h0: np.ndarray) -> sp.Expr:
    """Equation (5) unrolled over time. -log z_{t,y} is written log(sum_k exp(o_k)) - o_y, the same number by
    the definition of softmax; this form keeps exp(o) and exp(-o) from both appearing, which would hide
    cancellations from `_is_identically_zero`."""
    W_xh, W_hh, b_h, W_hz, b_z = (params[k] for k in PARAM_NAMES)
    h, total = h0, sp.Integer(0)
    for t in range(xs.shape[0]):
        h = _sym_tanh(W_xh @ xs[t] + W_hh @ h + b_h)  # (H,)
        o = W_hz @ h + b_z  # (K,)
        total += sp.log(sum(sp.exp(o_k) for o_k in o)) - o[ys[t]]
    return total


def _is_identically_zero(expr: sp.Expr) -> bool:
    """True if `expr` expands to the zero polynomial once each tanh/exp/log value and each denominator is named
    by its own fresh symbol. That is a proof that expr = 0 (the converse need not hold, so False means
    'not shown'). It replaces sp.simplify, which takes minutes on these nested expressions."""
    expr = expr.xreplace({a: sp.Dummy() for a in expr.atoms(sp.tanh, sp.exp, sp.log)})
    names: dict[sp.Expr, sp.Dummy] = {}
    replacements = {}
    for power in expr.atoms(sp.Pow):
        if power.base.is_Add and power.exp.is_Integer and power.exp < 0:
            # 1/(6a + 6b) and 1/(a + b) must get the same name: split off the numeric content and the sign
            content, primitive = power.base.as_content_primitive()
            if primitive.could_extract_minus_sign():
                content, primitive = -content, -primitive
            name = names.setdefault(primitive, sp.Dummy())
            replacements[power] = sp.Pow(content, power.exp) * sp.Pow(name, power.exp)
    return sp.expand(expr.xreplace(replacements)) == 0


def _rational_instance(rnd: random.Random, H: int, D: int, K: int, T: int) -> tuple[dict, np.ndarray, list, np.ndarray]:
    """Exact random inputs: object arrays of small sympy Rationals."""
    def rat(*shape: int) -> np.ndarray:
        # nonzero numerators: a zero input would hide the entries it multiplies from the check
        count = int(np.prod(shape))
        values = [sp.Rational(rnd.choice([-1, 1]) * rnd.randint(1, 9), rnd.randint(1, 9)) for _ in range(count)]
        return np.array(values, dtype=object).reshape(shape)

    params = {"W_xh": rat(H, D), "W_hh": rat(H, H), "b_h": rat(H), "W_hz": rat(K, H), "b_z": rat(K)}
    return params, rat(T, D), [rnd.randrange(K) for _ in range(T)], rat(H)


def sympy_verify(H: int, D: int, K: int, T: int, seed: int = 0, variant: str | None = None) -> ProofResult:
    """Exact check of equations (6)-(12) (or of a wrong `variant`, to show the check can fail) at one size.

    Every parameter entry is a sympy symbol; the unrolled loss is differentiated with respect to each and the
    derivative evaluated at rational values. The formulas are evaluated at the same values with exact
    arithmetic, and each difference must be identically zero. The float reference `bptt_gradients` is also
    compared with the formula run in float64 at those values (relative error <= 1e-12).
    """
    rnd = random.Random(f"{seed}-{H}-{D}-{K}-{T}")
    values, xs, ys, h0 = _rational_instance(rnd, H, D, K, T)
    symbols = {
        key: np.array([sp.Symbol(f"{key}[{i}]") for i in range(arr.size)], dtype=object).reshape(arr.shape)
        for key, arr in values.items()
    }
    at_values = {s: v for key in PARAM_NAMES for s, v in zip(symbols[key].flat, values[key].flat)}
    loss_expr = _symbolic_loss(symbols, xs, ys, h0)
    formula = variant_gradients(values, xs, np.array(ys), h0, variant=variant, ops=SYMPY_OPS)

    nonzero: list[str] = []
    for key in PARAM_NAMES:
        for index, (s, f) in enumerate(zip(symbols[key].flat, np.asarray(formula[key]).flat)):
            if not _is_identically_zero(loss_expr.diff(s).xreplace(at_values) - f):
                nonzero.append(f"{key}[{index}]")

    # The proven formula, now run in floats, against the float reference at the same inputs: this ties
    # solutions.bptt to the exact result (evaluating the exact expressions in floats would take minutes).
    as_float = lambda arr: np.vectorize(float, otypes=[np.float64])(arr)
    float_inputs = ({k: as_float(v) for k, v in values.items()}, as_float(xs), np.array(ys), as_float(h0))
    ours, proven = bptt_gradients(*float_inputs), variant_gradients(*float_inputs, variant=variant)
    float_err = max(_rel_error(ours[k], proven[k]) for k in PARAM_NAMES)

    what = "equations (6)-(12)" if variant is None else f"wrong variant {variant!r}"
    passed = not nonzero and float_err <= 1e-12
    detail = (
        f"sympy: loss unrolled over T={T} with symbolic W_xh, W_hh, b_h, W_hz, b_z (H={H}, D={D}, K={K}), "
        f"differentiated, evaluated at random rationals (seed {seed}); {what} evaluated exactly at the same "
        f"values. Differences identically zero: {sum(v.size for v in values.values()) - len(nonzero)}"
        f"/{sum(v.size for v in values.values())}"
        + (f" (not zero: {', '.join(nonzero[:6])}{'...' if len(nonzero) > 6 else ''})" if nonzero else "")
        + f". solutions.bptt.bptt_gradients vs that formula in float64 at the same inputs: max relative error "
        f"{float_err:.1e} (tol 1e-12)."
    )
    return ProofResult(f"Problem 1 BPTT equals the sympy derivative (H={H}, D={D}, K={K}, T={T})", passed, detail)


def _torch_loss(params: dict[str, torch.Tensor], xs: torch.Tensor, ys: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Equation (5) in torch, written independently of the numpy reference (log_softmax, no hand softmax)."""
    h, total = h0, xs.new_zeros(())
    for t in range(xs.shape[0]):
        h = torch.tanh(params["W_xh"] @ xs[t] + params["W_hh"] @ h + params["b_h"])  # (H,)
        logits = params["W_hz"] @ h + params["b_z"]  # (K,)
        total = total - torch.log_softmax(logits, dim=0)[ys[t]]
    return total


def autograd_verify(seed: int, sizes: Sequence[tuple[int, int, int, int]]) -> ProofResult:
    """`bptt_gradients` and `loss` against torch.autograd in float64, one random instance per (H, D, K, T)."""
    tol = 1e-10
    worst, worst_at = 0.0, ""
    for size, (params, xs, ys, h0) in zip(sizes, grading_instances(seed, sizes)):
        tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
        tloss = _torch_loss(tparams, torch.tensor(xs), torch.tensor(ys), torch.tensor(h0))
        tloss.backward()
        ours = bptt_gradients(params, xs, ys, h0)
        errors = {k: _rel_error(ours[k], tparams[k].grad.numpy()) for k in PARAM_NAMES}
        errors["loss"] = abs(np_loss(params, xs, ys, h0) - tloss.item()) / max(abs(tloss.item()), 1e-300)
        key = max(errors, key=errors.get)
        if errors[key] >= worst:
            worst, worst_at = errors[key], f"{key} at (H, D, K, T)={size}"
    detail = (
        f"torch.autograd float64 on {len(sizes)} random instances (seed {seed}, (H, D, K, T) in {list(sizes)}): "
        f"max relative error of the five gradients and the loss {worst:.1e} ({worst_at}), tol {tol:.0e}."
    )
    return ProofResult("Problem 1 BPTT equals torch.autograd", worst <= tol, detail)


def _variants_distinguishable(seed: int = 0) -> ProofResult:
    """Each wrong variant changes some gradient on the grading instances, and the reference scores full marks:
    otherwise a diagnosis could never fire, or right answers could lose points."""
    instances = grading_instances(seed)
    reference = reference_gradients(instances)
    silent = []
    for v in VARIANTS:
        wrong = [variant_gradients(*inst, variant=v.name) for inst in instances]
        if all(_rel_error(w[k], r[k]) <= REL_TOL for w, r in zip(wrong, reference) for k in PARAM_NAMES):
            silent.append(v.name)
    full = judge_output_layer(reference, reference).fraction == 1.0
    full = full and judge_recurrent(reference, reference, instances).fraction == 1.0
    detail = (
        f"{len(VARIANTS)} wrong variants on the {len(instances)} grading instances (seed {seed}, sizes "
        f"{list(GRADING_SIZES)}): {len(VARIANTS) - len(silent)} change at least one gradient by more than "
        f"{REL_TOL:.0e}" + (f"; not distinguishable: {', '.join(silent)}" if silent else "")
        + f"; the reference itself scores {'full' if full else 'less than full'} marks on 1.1 and 1.2."
    )
    return ProofResult("Problem 1 grading instances separate the wrong variants", not silent and full, detail)


def verify_all() -> list[ProofResult]:
    """Every verification of the Problem 1 reference and of its judging."""
    results = [sympy_verify(*size) for size in SYMPY_SIZES]
    results.append(autograd_verify(0, GRADING_SIZES + ((1, 1, 2, 1), (5, 3, 4, 8))))
    results.append(_variants_distinguishable())
    return results


# ----------------------------------------------------------------------------------------------------------
# Judging
# ----------------------------------------------------------------------------------------------------------


def _rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """||got - want|| / ||want|| (Frobenius); the absolute error when want is (nearly) zero."""
    return float(np.linalg.norm(np.asarray(got) - np.asarray(want)) / max(np.linalg.norm(want), 1e-12))


@dataclass(frozen=True)
class _Entry:
    """One submitted gradient on one instance, after conversion."""

    value: np.ndarray | None  # None when unusable; else in the reference's shape, or its transpose's
    problem: str = ""  # why value is None, or "" when usable
    transposed: bool = False  # value has the transposed shape of a non-square reference
    reshaped: bool = False  # same numbers given in another shape with the same squeezed shape, e.g. (H, 1)


def _to_array(value: Any) -> np.ndarray | str:
    """A float64 array from an array, torch tensor, nested list or number; an error message otherwise."""
    if hasattr(value, "detach"):  # torch tensor, possibly requiring grad
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        return f"not a numeric array ({type(value).__name__}: {err})"
    return array


def _entry(submission: Any, key: str, want: np.ndarray) -> _Entry:
    """Look up `key` in one submitted dict and bring it to the reference's shape where that is unambiguous."""
    if not isinstance(submission, dict):
        return _Entry(None, f"no gradient dict (got {type(submission).__name__})")
    if key not in submission:
        return _Entry(None, "missing")
    array = _to_array(submission[key])
    if isinstance(array, str):
        return _Entry(None, array)
    if not np.all(np.isfinite(array)):
        return _Entry(None, "contains NaN or inf")
    if array.shape == want.shape:
        return _Entry(array)
    if want.ndim == 2 and array.shape == want.T.shape:  # only reachable for a non-square reference
        return _Entry(array, transposed=True)
    if np.squeeze(array).shape == np.squeeze(want).shape:
        return _Entry(array.reshape(want.shape), reshaped=True)  # e.g. b_h as an (H, 1) column
    return _Entry(None, f"shape {array.shape}, expected {want.shape}")


def _instances_named(indices: list[int], total: int) -> str:
    if len(indices) == total:
        return f"all {total} instances"
    return ("instance " if len(indices) == 1 else "instances ") + ", ".join(str(i + 1) for i in indices)


def _describe_instance(index: int, instances: Sequence[Instance] | None) -> str:
    if instances is None:
        return f"instance {index + 1}"
    params, xs, _, h0 = instances[index]
    H, D, K, T = h0.shape[0], xs.shape[1], params["b_z"].shape[0], xs.shape[0]
    return f"instance {index + 1} (H={H}, D={D}, K={K}, T={T})"


def _diagnose_key(
    key: str,
    entries: list[_Entry],
    reference: list[Params],
    variants: dict[str, list[Params]],
    instances: Sequence[Instance] | None,
) -> tuple[str, tuple[str, ...]]:
    """('', ()) if the gradient is right on every instance, else the reason it is wrong and the diagnosis codes
    (checks.diagnoses) of the known mistakes it matches."""
    wants = [r[key] for r in reference]
    problems: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        if e.value is None:
            problems.setdefault(e.problem, []).append(i)
    if problems:
        return "unusable: " + "; ".join(f"{p} on {_instances_named(ii, len(entries))}" for p, ii in problems.items()), ()
    if any(e.transposed for e in entries):
        if all(e.transposed and _rel_error(e.value.T, w) <= REL_TOL for e, w in zip(entries, wants)):
            return (
                f"off by a transpose: submitted shape {entries[0].value.shape} holds (dL/d{key})^T, "
                f"the contract is shape {wants[0].shape}"
            ), ("bptt.transposed",)
        return f"shape {entries[0].value.shape} is the transpose of the contract's {wants[0].shape}, and wrong values", ()
    errors = [_rel_error(e.value, w) for e, w in zip(entries, wants)]
    if max(errors) <= REL_TOL:
        return "", ()

    clip = _clip_value(entries, wants)
    if clip is not None:
        c = f"{clip:g}"
        return (f"{CLIPPED} [-{c}, {c}] (as min-char-rnn does before its update); the item asks for "
                f"dL/dtheta itself, so return the gradients unclipped and clip in the training loop (policy: a "
                f"clipped but otherwise right gradient earns {CLIP_CREDIT:g} of its share)", ("bptt.clipped",))
    matches = [
        (v.message, f"bptt.{v.name}")
        for v in VARIANTS
        if v.name in variants
        and any(_rel_error(var[key], w) > REL_TOL for var, w in zip(variants[v.name], wants))
        and all(_rel_error(e.value, var[key]) <= REL_TOL for e, var in zip(entries, variants[v.name]))
    ]
    if wants[0].ndim == 2 and wants[0].shape[0] == wants[0].shape[1]:
        square_t = all(_rel_error(e.value, w.T) <= REL_TOL for e, w in zip(entries, wants))
        if square_t and any(_rel_error(w.T, w) > REL_TOL for w in wants):
            matches.append((f"off by a transpose: holds (dL/d{key})^T", "bptt.transposed"))
    if matches:
        return "; or ".join(dict.fromkeys(m for m, _ in matches)), tuple(dict.fromkeys(c for _, c in matches))

    factors = [float(np.vdot(e.value, w) / np.vdot(w, w)) if np.vdot(w, w) > 0 else 0.0 for e, w in zip(entries, wants)]
    if all(_rel_error(e.value, c * w) <= REL_TOL for e, w, c in zip(entries, wants, factors)):
        if all(abs(c) <= 1e-12 for c in factors):
            return "all zeros", ("bptt.zeros",)
        if all(abs(c + 1) <= 1e-6 for c in factors):
            return "sign error (gradient has the opposite sign)", ("bptt.opposite_sign",)
        shown = ", ".join(f"{c:.4g}" for c in factors[:4])
        return f"right direction but scaled by a constant factor ({shown} on the instances)", ("bptt.scaled",)

    worst = int(np.argmax(errors))
    where = _describe_instance(worst, instances)
    if instances is not None:
        lengths = [inst[1].shape[0] for inst in instances]
        right_t1 = [errors[i] <= REL_TOL for i, T in enumerate(lengths) if T == 1]
        if right_t1 and all(right_t1):
            return (
                f"right for T=1 but wrong for longer sequences (relative error {errors[worst]:.2g} on {where}): "
                f"the gradient carried back through time, W_hh^T delta_{{t+1}}, is missing or wrong; "
                f"{DELTA_FORMULA}"
            ), ("bptt.no_recursion",)
    return (
        f"relative error {errors[worst]:.2g} on {where} (tolerance {REL_TOL:.0e}), matching none of the "
        f"common mistakes checked; expected {FORMULAS[key]}"
    ), ()


def _clip_value(entries: list[_Entry], wants: list[np.ndarray]) -> float | None:
    """c when every submitted value equals the reference clipped to [-c, c] and clipping changed some entry;
    else None."""
    c = max(float(np.abs(e.value).max()) for e in entries)
    if not c > 0 or not any(float(np.abs(w).max()) > c * (1 + 1e-9) for w in wants):
        return None
    if all(_rel_error(e.value, np.clip(w, -c, c)) <= REL_TOL for e, w in zip(entries, wants)):
        return c
    return None


def _judge(
    keys: tuple[str, ...],
    student: Any,
    reference: list[Params],
    instances: Sequence[Instance] | None,
    context_keys: tuple[str, ...] = (),
) -> Verdict:
    """Score = share of `keys` right on every instance; feedback groups wrong keys by diagnosis.
    `context_keys` are reported (right / wrong) but not scored."""
    reference = [{k: np.asarray(v, dtype=np.float64) for k, v in r.items()} for r in reference]
    notes: list[str] = []
    if not isinstance(student, (list, tuple)):
        notes.append(f"expected a list of per-instance gradient dicts, got {type(student).__name__}")
        student = []
    elif len(student) != len(reference):
        notes.append(f"{len(student)} gradient dicts submitted for {len(reference)} instances")
    submissions = [student[i] if i < len(student) else None for i in range(len(reference))]
    variants = {}
    if instances is not None:
        if len(instances) != len(reference):
            raise ValueError(f"{len(instances)} instances for {len(reference)} reference gradients")
        variants = {v.name: [variant_gradients(*inst, variant=v.name) for inst in instances] for v in VARIANTS}

    missing = [k for k in keys if not all(k in r for r in reference)]
    if missing:
        raise ValueError(f"reference gradients lack {missing}")
    diagnoses: dict[str, str] = {}
    codes: dict[str, tuple[str, ...]] = {}
    for key in keys + context_keys:
        if all(key in r for r in reference):
            entries = [_entry(s, key, r[key]) for s, r in zip(submissions, reference)]
            if any(e.reshaped for e in entries):
                notes.append(f"{key}: reshaped to the contract's shape {reference[0][key].shape} (same numbers)")
            diagnoses[key], codes[key] = _diagnose_key(key, entries, reference, variants, instances)

    right = [k for k in keys if diagnoses[k] == ""]
    clipped = [k for k in keys if diagnoses[k].startswith(CLIPPED)]
    fraction = (len(right) + CLIP_CREDIT * len(clipped)) / len(keys)
    groups: dict[str, list[str]] = {}
    for key in context_keys + keys:
        if key in diagnoses and diagnoses[key]:
            groups.setdefault(diagnoses[key], []).append(key)
    parts = []
    right_shown = [k for k in context_keys + keys if diagnoses.get(k) == ""]
    if right_shown:
        parts.append(f"{', '.join(right_shown)} correct")
    parts += [f"{', '.join(ks)} wrong: {reason}" for reason, ks in groups.items()]
    if any("delta" not in reason and not reason.startswith(CLIPPED) for reason, ks in groups.items()
           if set(ks) & set(RECURRENT_KEYS)):
        parts.append(f"expected {DELTA_FORMULA}")  # every recurrent gradient is built from delta_t
    summary = f"{len(right)}/{len(keys)} of {', '.join(keys)} right on all {len(reference)} instances"
    found = tuple(dict.fromkeys(c for k in keys for c in codes[k]))  # scored keys only: context is not this item's
    return Verdict(fraction, f"{summary}. " + "; ".join(parts) + ".", tuple(notes), diagnoses=found)


def judge_output_layer(
    student: list[dict], reference: list[dict], instances: Sequence[Instance] | None = None
) -> Verdict:
    """Rubric item 1.1: dL/dW_hz and dL/db_z, 1/2 of the points each.

    `instances` (params, xs, ys, h0) are optional: without them the diagnosis is limited to transposes, sign
    errors and constant factors; with them the wrong variants of the algorithm are matched as well."""
    return _judge(OUTPUT_KEYS, student, reference, instances)


def judge_recurrent(student: list[dict], reference: list[dict], instances: Sequence[Instance]) -> Verdict:
    """Rubric item 1.2: dL/dW_hh, dL/dW_xh and dL/db_h, 1/3 of the points each. W_hz is reported, unscored,
    when the reference has it: a right W_hz with a wrong W_hh locates the error in the recursion."""
    context = ("W_hz",) if all("W_hz" in r for r in reference) else ()
    return _judge(RECURRENT_KEYS, student, reference, instances, context_keys=context)
