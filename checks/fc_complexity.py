"""Verification and judging of Problem 4 (complexity of a fully connected network).

Verification of the reference (``solutions/fc_complexity.py``):
  (a) parameter counts against real ``torch.nn.Linear`` stacks, with and without biases;
  (b) multiplications of one SGD step (batch size 1) against a ``TorchDispatchMode`` that counts
      the multiplications of every aten op of a real forward, backward and ``torch.optim.SGD``
      step, cross-checked with ``torch.utils.flop_counter.FlopCounterMode`` for the matmuls;
  (c) path counts and the path-enumeration cost against brute-force DFS over the layered graph.

Judging of student answers (rubric items 4.1, 4.2, 4.3).  Answers are strings in sympy syntax in
d, n, L, c, possibly wrapped in O(...) / Theta(...).  They are parsed without evaluating student
text as Python: the text is tokenized and whitelisted first (names d, n, L, c, exp, log, ln, sqrt,
Max, Min, O, Theta; runs of the letters d, n, L, c such as ``dn`` are read as products), and only
then handed to ``parse_expr`` with empty builtins and a namespace holding nothing else.
Numbers and numeric exponents are bounded so that no answer can make sympy compute a huge integer.
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import mpmath
import sympy as sp
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from checks.answer_format import (MAX_ANSWER_LENGTH, ANSWER_TIME_S, _parse, answer_took_too_long,  # noqa: F401
                                  expands_cheaply, parse_complexity)
from checks.time_limit import TimeLimitExceeded, limited, time_limit
from checks.verdict import ProofResult, Verdict
from solutions import fc_complexity as ref
from solutions.fc_complexity import L, c, d, n

SYMBOLS: tuple[sp.Symbol, ...] = (d, n, L, c)

# Safe parsing: checks/answer_format.py (public: the student edition reads answers with it too).

# ---------------------------------------------------------------------------------------------
# Numeric evaluation at huge points (mpmath, no exact big integers)
# ---------------------------------------------------------------------------------------------

_PRECISION_BITS = 200
_LOG_OVERFLOW = mpmath.mpf(10) ** 30  # |log value| beyond this is treated as infinity / zero


class _Undefined(ArithmeticError):
    """The expression is not a positive finite real at the point (log of a negative, inf - inf, ...)."""


def _evaluate(expr: sp.Basic, point: dict[sp.Symbol, mpmath.mpf]) -> mpmath.mpf:
    """Value of ``expr`` at ``point`` in mpmath floating point; +inf on overflow."""
    if isinstance(expr, sp.Symbol):
        return point[expr]
    if isinstance(expr, sp.Rational):
        return mpmath.mpf(expr.p) / expr.q
    if isinstance(expr, sp.Float):
        return mpmath.mpf(expr._mpf_)
    if isinstance(expr, sp.NumberSymbol):
        return mpmath.mpf(str(expr.evalf(60)))
    if isinstance(expr, sp.Add):
        return _checked(mpmath.fsum(_evaluate(a, point) for a in expr.args))
    if isinstance(expr, sp.Mul):
        return _checked(mpmath.fprod(_evaluate(a, point) for a in expr.args))
    if isinstance(expr, sp.Pow):
        return _power(_evaluate(expr.base, point), _evaluate(expr.exp, point))
    if isinstance(expr, sp.exp):
        return _power(mpmath.e, _evaluate(expr.args[0], point))
    if isinstance(expr, sp.log):
        value = _evaluate(expr.args[0], point)
        if value <= 0:
            raise _Undefined("log of a non-positive number")
        return mpmath.log(value)
    if isinstance(expr, (sp.Max, sp.Min)):
        values = [_evaluate(a, point) for a in expr.args]
        return max(values) if isinstance(expr, sp.Max) else min(values)
    if isinstance(expr, sp.Piecewise):
        for piece, condition in expr.args:
            if _condition_holds(condition, point):
                return _evaluate(piece, point)
        raise _Undefined("no Piecewise branch applies")
    raise _Undefined(f"cannot evaluate {type(expr).__name__}")


def _checked(value: mpmath.mpf) -> mpmath.mpf:
    if mpmath.isnan(value):
        raise _Undefined("indeterminate (inf - inf or 0 * inf)")
    return value


def _power(base: mpmath.mpf, exponent: mpmath.mpf) -> mpmath.mpf:
    if mpmath.isinf(exponent) or mpmath.isinf(base):
        raise _Undefined("power of an infinite quantity")
    if base == 0:
        if exponent <= 0:
            raise _Undefined("0 to a non-positive power")
        return mpmath.mpf(0)
    if base < 0 and exponent != mpmath.floor(exponent):
        raise _Undefined("fractional power of a negative number")
    log_magnitude = exponent * mpmath.log(abs(base))
    if log_magnitude > _LOG_OVERFLOW:
        sign = -1 if base < 0 and int(mpmath.floor(exponent)) % 2 else 1
        return sign * mpmath.inf
    if log_magnitude < -_LOG_OVERFLOW:
        return mpmath.mpf(0)
    return mpmath.power(base, exponent)


def _condition_holds(condition: sp.Basic, point: dict[sp.Symbol, mpmath.mpf]) -> bool:
    if condition is sp.true:
        return True
    if condition is sp.false:
        return False
    if isinstance(condition, sp.And):
        return all(_condition_holds(a, point) for a in condition.args)
    if isinstance(condition, sp.Or):
        return any(_condition_holds(a, point) for a in condition.args)
    comparisons: dict[type, Callable[[mpmath.mpf, mpmath.mpf], bool]] = {
        sp.Eq: lambda a, b: a == b,
        sp.Ne: lambda a, b: a != b,
        sp.Lt: lambda a, b: a < b,
        sp.Le: lambda a, b: a <= b,
        sp.Gt: lambda a, b: a > b,
        sp.Ge: lambda a, b: a >= b,
    }
    for kind, compare in comparisons.items():
        if isinstance(condition, kind):
            return compare(_evaluate(condition.lhs, point), _evaluate(condition.rhs, point))
    raise _Undefined(f"cannot evaluate condition {condition}")


def _value_at(expr: sp.Basic, values: dict[sp.Symbol, int | float]) -> mpmath.mpf:
    with mpmath.workprec(_PRECISION_BITS):
        return _evaluate(expr, {s: mpmath.mpf(v) for s, v in values.items()})


# ---------------------------------------------------------------------------------------------
# Exact equivalence (4.1)
# ---------------------------------------------------------------------------------------------

NUMERIC_SEED = 4101
NUMERIC_POINTS = 20


def _random_points(seed: int = NUMERIC_SEED, count: int = NUMERIC_POINTS) -> list[dict[sp.Symbol, int]]:
    """Random positive integer points (d, n, c in 1..40, L in 1..8), WeBWorK-style."""
    rng = random.Random(seed)
    return [{d: rng.randint(1, 40), n: rng.randint(1, 40), L: rng.randint(1, 8), c: rng.randint(1, 40)} for _ in range(count)]


def _numerically_equal(a: sp.Expr, b: sp.Expr, points: Sequence[dict[sp.Symbol, int]]) -> bool:
    """a == b at every point up to a relative 1e-40 (200-bit arithmetic)."""
    with mpmath.workprec(_PRECISION_BITS):
        for point in points:
            try:
                va, vb = _value_at(a, point), _value_at(b, point)
            except _Undefined:
                return False
            if not (mpmath.isfinite(va) and mpmath.isfinite(vb)):
                return False
            if abs(va - vb) > mpmath.mpf(10) ** -40 * max(1, abs(vb)):
                return False
    return True


SIMPLIFY_TIME_S = 5.0  # sp.simplify gets this long before the numeric comparison decides


def _equivalent(answer: sp.Expr, reference: sp.Expr) -> tuple[bool, str]:
    """Exact equivalence: symbolic when the expansion is small (its degree and term count are bounded
    before anything is expanded, checks.answer_format.expansion_size), else, or when symbolic is
    inconclusive, seeded random-point evaluation."""
    numeric = f"numerically at {NUMERIC_POINTS} random integer points (seed {NUMERIC_SEED})"
    if not expands_cheaply(answer, reference):
        return _numerically_equal(answer, reference, _random_points()), numeric + " (too large to expand)"
    difference = sp.expand(answer - reference)
    if difference == 0:
        return True, "symbolically"
    if difference.is_polynomial(*SYMBOLS):
        return False, "symbolically"  # a nonzero polynomial cannot vanish on all positive integers
    try:
        with time_limit(SIMPLIFY_TIME_S) as own:
            if sp.simplify(difference) == 0:
                return True, "symbolically"
    except TimeLimitExceeded as e:
        if e.limit is not own:
            raise
    return _numerically_equal(answer, reference, _random_points()), numeric


@dataclass(frozen=True)
class _Variant:
    expr: sp.Expr
    description: str


def _parameter_variants() -> list[_Variant]:
    """Common wrong counts for 4.1, as combinations of a weight mistake and a bias mistake."""
    weight_variants = [
        (ref.weights(), ""),
        (d * n + (L - 1) * n**2, "misses the output layer's n*c weights"),
        ((L - 1) * n**2 + n * c, "misses the input layer's d*n weights"),
        ((L - 1) * n**2, "misses both the input layer's d*n and the output layer's n*c weights"),
        (d * n + L * n**2 + n * c, "counts L hidden-to-hidden weight matrices (L*n**2); there are L-1"),
        (d * n + (L + 1) * n**2 + n * c, "counts L+1 hidden-to-hidden weight matrices; there are L-1"),
        (d + L * n + c, "counts the nodes (d + L*n + c), not the connections between them"),
    ]
    bias_variants = [
        (sp.Integer(0), ""),
        (L * n + c, ""),
        (L * n, "counts the L*n hidden biases but not the output layer's c biases"),
        (c, "counts the output layer's c biases but not the L*n hidden biases"),
        (L + 1, "counts one bias per layer instead of one per node"),
    ]
    variants = []
    for (w_expr, w_text), (b_expr, b_text) in itertools.product(weight_variants, bias_variants):
        description = "; ".join(t for t in (w_text, b_text) if t)
        if description:
            variants.append(_Variant(w_expr + b_expr, description))
    return variants


@limited(ANSWER_TIME_S, answer_took_too_long)
def judge_parameters(text: str) -> Verdict:
    """Rubric 4.1: the answer must equal the parameter count with or without biases.

    An answer explicitly written as O(...)/Theta(...) is accepted when its class is right in every
    variable (the question says 'space complexity'); a bare formula must be exact.
    """
    try:
        answer, wrapped = _parse(text)
    except ValueError as error:
        return Verdict(0.0, f"Could not read the answer: {error}")
    exact_with, exact_without = ref.parameters(True), ref.parameters(False)
    for reference, label in (
        (exact_with, "with biases, d*n + (L-1)*n**2 + n*c + L*n + c"),
        (exact_without, "without biases, d*n + (L-1)*n**2 + n*c"),
    ):
        equal, method = _equivalent(answer, reference)
        if equal:
            return Verdict(1.0, f"Right: {text.strip()} equals the parameter count {label} (checked {method}).")
    if wrapped:
        growth = _compare_growth(answer, exact_with, "parameters", text.strip())
        if growth.right:
            return Verdict(
                1.0,
                f"Right as an asymptotic answer: {text.strip()} is {ref.asymptotic_class('parameters')}; "
                f"the exact count is d*n + (L-1)*n**2 + n*c weights plus L*n + c biases.",
                notes=(growth.method,),
            )
    points = _random_points()
    for variant in _parameter_variants():
        if _numerically_equal(answer, variant.expr, points):
            return Verdict(
                0.0,
                f"Wrong: {text.strip()} {variant.description}. The count is d*n + (L-1)*n**2 + n*c weights "
                f"plus L*n + c biases.",
            )
    growth = _compare_growth(answer, exact_with, "parameters", text.strip())
    if wrapped:
        return Verdict(0.0, f"Wrong: {growth.feedback}", notes=(growth.method,))
    hint = f" Its growth: {growth.feedback}" if not growth.right else ""
    return Verdict(
        0.0,
        f"Wrong: {text.strip()} is not the number of parameters, d*n + (L-1)*n**2 + n*c weights plus "
        f"L*n + c biases.{hint}",
    )


# ---------------------------------------------------------------------------------------------
# Asymptotic class (4.2, 4.3)
# ---------------------------------------------------------------------------------------------

BASE_POINT: dict[sp.Symbol, int] = {d: 7, n: 5, L: 4, c: 3}  # where the other variables sit
NEAR_K, FAR_K = 20, 40  # the growing variable(s) take the values 2**NEAR_K and 2**FAR_K
DRIFT_TOLERANCE = 0.2  # allowed change of log(answer/reference) between the two; log 2 ~ 0.69
_JOINT = "all"


@dataclass(frozen=True)
class GrowthComparison:
    right: bool
    feedback: str
    method: str


def _direction_point(direction: sp.Symbol | str, k: int) -> dict[sp.Symbol, int]:
    if direction == _JOINT:
        return {s: 2**k for s in SYMBOLS}
    return {**BASE_POINT, direction: 2**k}


def _log_value(expr: sp.Expr, point: dict[sp.Symbol, int]) -> mpmath.mpf:
    """log(expr) at point; +inf on overflow; raises _Undefined when expr is not positive."""
    value = _value_at(expr, point)
    if not value > 0:
        raise _Undefined(f"not positive ({mpmath.nstr(value, 5)})")
    with mpmath.workprec(_PRECISION_BITS):
        return mpmath.inf if mpmath.isinf(value) else mpmath.log(value)


def _growth_kind(expr: sp.Expr, direction: sp.Symbol) -> str:
    """'exponential', 'polynomial' or 'constant' growth of expr along one variable."""
    try:
        g_prev = _log_value(expr, _direction_point(direction, FAR_K - 1))
        g_last = _log_value(expr, _direction_point(direction, FAR_K))
    except _Undefined:
        return "undefined"
    if mpmath.isinf(g_last) or (g_prev > 0 and g_last / g_prev > 1.5):
        return "exponential"  # log f doubles when the variable doubles
    degree = (g_last - g_prev) / math.log(2)
    return "constant" if abs(degree) < 0.1 else "polynomial"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _compare_growth(answer: sp.Expr, reference: sp.Expr, name: str, shown: str) -> GrowthComparison:
    """Is answer/reference bounded away from 0 and infinity as each variable, and all, grow?

    ``shown`` is how the answer is named in the feedback (the student's own text).
    """
    method = (
        f"ratio answer/reference at {', '.join(f'{s}={v}' for s, v in BASE_POINT.items())} with one variable "
        f"(then all) set to 2**{NEAR_K} and 2**{FAR_K}; log-ratio drift tolerance {DRIFT_TOLERANCE}"
    )
    class_text = ref.asymptotic_class(name)
    try:
        _log_value(answer, BASE_POINT)
    except _Undefined as error:
        return GrowthComparison(False, f"{shown} is not a positive count at {BASE_POINT}: {error}.", method)
    drifts: dict[sp.Symbol | str, mpmath.mpf] = {}
    for direction in (*SYMBOLS, _JOINT):
        try:
            near = _log_value(answer, _direction_point(direction, NEAR_K)) - _log_value(
                reference, _direction_point(direction, NEAR_K)
            )
            far = _log_value(answer, _direction_point(direction, FAR_K)) - _log_value(
                reference, _direction_point(direction, FAR_K)
            )
        except _Undefined as error:
            where = "all variables" if direction == _JOINT else str(direction)
            return GrowthComparison(False, f"{shown} is not a positive count as {where} grows: {error}.", method)
        drifts[direction] = mpmath.inf if mpmath.isinf(far) and far > 0 else far - near
    too_slow = [str(s) for s in SYMBOLS if drifts[s] < -DRIFT_TOLERANCE]
    too_fast = [str(s) for s in SYMBOLS if drifts[s] > DRIFT_TOLERANCE]
    parts: list[str] = []
    if too_slow:
        parts.append(_missing_terms(name, too_slow) + f"grows too slowly in {_join(too_slow)}")
    if too_fast:
        parts.append(f"grows too fast in {_join(too_fast)}")
    for s in SYMBOLS:
        answer_kind, reference_kind = _growth_kind(answer, s), _growth_kind(reference, s)
        if reference_kind == "exponential" and answer_kind != "exponential":
            parts.append(f"it is {answer_kind} in {s} where the reference is exponential in {s}")
        elif answer_kind == "exponential" and reference_kind != "exponential":
            parts.append(f"it is exponential in {s} where the reference is {reference_kind} in {s}")
    if not parts and abs(drifts[_JOINT]) > DRIFT_TOLERANCE:
        speed = "fast" if drifts[_JOINT] > 0 else "slowly"
        parts.append(f"grows too {speed} when {_join([str(s) for s in SYMBOLS])} grow together")
    if parts:
        return GrowthComparison(False, f"{shown} is not {class_text}: " + "; ".join(parts) + ".", method)
    return GrowthComparison(True, f"{shown} is {class_text}.", method)


def _missing_terms(name: str, too_slow: Sequence[str]) -> str:
    """'misses the d*n and n*c terms: ' when the class is a sum and only some of its terms are missed."""
    inner = ref.asymptotic_class(name)[len("Theta("):-1]
    terms = [(text, parse_complexity(text)) for text in inner.split(" + ")]  # our own text, kept as written
    if len(terms) < 2:
        return ""
    missed = [text for text, term in terms if any(str(s) in map(str, term.free_symbols) for s in too_slow)]
    if not missed or len(missed) == len(terms):
        return ""
    return f"misses the {_join(missed)} term{'s' if len(missed) > 1 else ''}: "


# How the exact reference counts are shown to students (the Piecewise of the closed form is unreadable).
_REFERENCE_TEXT = {
    "sgd_multiplications": "3*d*n + 4*(L-1)*n**2 + 4*n*c + 2*L*n + c with biases",
    "path_multiplications": "c*(d*(L+1)*n**L + sum over k=1..L of k*n**k)",
}


@limited(ANSWER_TIME_S, answer_took_too_long)
def _judge_class(text: str, reference: sp.Expr, name: str) -> Verdict:
    try:
        answer = parse_complexity(text)
    except ValueError as error:
        return Verdict(0.0, f"Could not read the answer: {error}")
    growth = _compare_growth(answer, reference, name, text.strip())
    if growth.right:
        return Verdict(
            1.0,
            f"Right: {growth.feedback} The exact count under the reference convention is {_REFERENCE_TEXT[name]}.",
            notes=(growth.method,),
        )
    return Verdict(0.0, f"Wrong: {growth.feedback}", notes=(growth.method,))


def judge_sgd_multiplications(text: str) -> Verdict:
    """Rubric 4.2: right when the answer is Theta(d*n + L*n**2 + n*c) in every variable."""
    return _judge_class(text, ref.sgd_multiplications(), "sgd_multiplications")


def judge_path_multiplications(text: str) -> Verdict:
    """Rubric 4.3: right when the answer is Theta(L*c*d*n**L) in every variable."""
    return _judge_class(text, ref.path_multiplications(), "path_multiplications")


# ---------------------------------------------------------------------------------------------
# (a) parameter counts on real torch modules
# ---------------------------------------------------------------------------------------------

Shape = tuple[int, int, int, int]  # (d, n, L, c)
DEFAULT_GRID: tuple[Shape, ...] = tuple(itertools.product((1, 3), (2, 5), (1, 2, 4), (1, 3)))


def build_network(d_: int, n_: int, L_: int, c_: int, bias: bool = True) -> nn.Sequential:
    """d -> [Linear n, ReLU] * L -> Linear c (linear outputs feed the cost)."""
    widths = [d_] + [n_] * L_
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out, bias=bias), nn.ReLU()]
    layers.append(nn.Linear(n_, c_, bias=bias))
    return nn.Sequential(*layers)


def _subs(expr: sp.Expr, shape: Shape) -> int:
    return int(expr.xreplace({s: sp.Integer(v) for s, v in zip(SYMBOLS, shape)}))


def check_parameter_counts(grid: Iterable[Shape] = DEFAULT_GRID) -> ProofResult:
    mismatches = []
    cases = 0
    for shape, bias in itertools.product(grid, (True, False)):
        counted = sum(p.numel() for p in build_network(*shape, bias=bias).parameters())
        cases += 1
        if counted != _subs(ref.parameters(bias), shape):
            mismatches.append((shape, bias, counted))
    return ProofResult(
        "4.1 parameter count equals torch.nn.Linear stacks",
        not mismatches,
        f"sum of parameter numel() over {cases} networks (d, n, L, c) in {{1,3}}x{{2,5}}x{{1,2,4}}x{{1,3}}, "
        f"with and without bias, against d*n + (L-1)*n**2 + n*c (+ L*n + c); mismatches: {mismatches or 'none'}",
    )


# ---------------------------------------------------------------------------------------------
# (b) multiplications of one SGD step, counted on real aten ops
# ---------------------------------------------------------------------------------------------

_aten = torch.ops.aten
# Ops that perform no multiplication (views, copies, ReLU itself, the bias-gradient sum).
_FREE_OPS = {
    _aten.t, _aten.view, _aten._unsafe_view, _aten.detach, _aten.relu, _aten.sum, _aten.expand,
    _aten.zero_, _aten.fill_, _aten.copy_, _aten.clone, _aten.ones_like, _aten.zeros_like,
    _aten.empty_like, _aten.alias, _aten.transpose, _aten.reshape, _aten._to_copy,
}


class MultiplicationCounter(TorchDispatchMode):
    """Counts scalar multiplications of aten ops, by category; raises on ops it does not know.

    mm/addmm (m x k)(k x p): m*k*p ('matmul'); threshold_backward (ReLU'): one per element
    ('activation_derivative', the product f'(net) * dJ/du); add_/add with alpha != 1 and its
    foreach form: one per element ('scaled_add', the SGD update lr * grad); mul: one per element.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def _add(self, category: str, amount: int) -> None:
        self.counts[category] = self.counts.get(category, 0) + amount

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        if func.namespace == "profiler":
            pass  # optimizer.step's record_function markers
        elif packet in (_aten.mm, _aten.addmm):
            left, right = args[-2], args[-1]  # addmm(bias, mat1, mat2) / mm(mat1, mat2)
            self._add("matmul", left.shape[0] * left.shape[1] * right.shape[1])
        elif packet is _aten.threshold_backward:
            self._add("activation_derivative", out.numel())
        elif packet in (_aten.add_, _aten.add, _aten.sub_, _aten.sub):
            if kwargs.get("alpha", 1) != 1:  # p.add_(grad, alpha=-lr): one product lr * grad per element
                self._add("scaled_add", out.numel())
        elif packet in (_aten._foreach_add_, _aten._foreach_add):
            if kwargs.get("alpha", 1) != 1:
                self._add("scaled_add", sum(t.numel() for t in args[1]))
        elif packet in (_aten.mul, _aten.mul_):
            self._add("mul", out.numel())
        elif packet not in _FREE_OPS:
            raise NotImplementedError(f"MultiplicationCounter does not know how to count {func}")
        return out


@dataclass(frozen=True)
class StepCount:
    by_category: dict[str, int]
    total: int
    flop_counter_matmul_flops: int  # FlopCounterMode total: 2 * m*k*p per matmul


def count_sgd_step(d_: int, n_: int, L_: int, c_: int, bias: bool = True, seed: int = 0) -> StepCount:
    """Run one real SGD step (batch 1) and count its multiplications.

    The cost's gradient dJ/dy (shape [1, c]) is given, as in the reference convention, so the
    count starts at the output layer: out.backward(dJ/dy), then torch.optim.SGD.step().
    """
    torch.manual_seed(seed)
    network = build_network(d_, n_, L_, c_, bias)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    x = torch.randn(1, d_)  # [1, d]
    grad_out = torch.randn(1, c_)  # [1, c] = dJ/dy for some cost J
    counter = MultiplicationCounter()
    flop_counter = FlopCounterMode(display=False)
    with flop_counter, counter:
        out = network(x)  # [1, c]
        out.backward(grad_out)
        optimizer.step()
    return StepCount(dict(counter.counts), counter.total, flop_counter.get_total_flops())


def check_sgd_multiplications(grid: Iterable[Shape] = DEFAULT_GRID) -> ProofResult:
    mismatches = []
    cases = 0
    for shape, bias in itertools.product(grid, (True, False)):
        step = count_sgd_step(*shape, bias=bias)
        cases += 1
        formula = _subs(ref.sgd_multiplications(bias), shape)
        matmul_agrees = step.flop_counter_matmul_flops == 2 * step.by_category.get("matmul", 0)
        if step.total != formula or not matmul_agrees:
            mismatches.append((shape, bias, step.total, formula, step.flop_counter_matmul_flops))
    return ProofResult(
        "4.2 SGD multiplications equal a count of real torch ops",
        not mismatches,
        f"{cases} networks (same grid as 4.1, with and without bias), batch size 1, one forward, "
        f"out.backward(dJ/dy) and torch.optim.SGD step under a TorchDispatchMode counting mm/addmm as "
        f"m*k*p, ReLU threshold_backward and lr*grad as one per element; matmul part cross-checked as "
        f"FlopCounterMode FLOPs / 2; exact equality required; mismatches: {mismatches or 'none'}",
    )


# ---------------------------------------------------------------------------------------------
# (c) path counts by brute force
# ---------------------------------------------------------------------------------------------

PATH_GRID: tuple[Shape, ...] = tuple(itertools.product((1, 2, 3), (1, 2, 3), (1, 2, 3, 4), (1, 2)))


@dataclass(frozen=True)
class PathEnumeration:
    paths_per_layer: tuple[int, ...]  # paths from one node of layer l (0..L+1) to the cost node
    lengths_per_layer: tuple[frozenset[int], ...]  # path lengths (edges) seen from that layer
    multiplications: int  # sum over weights of the lengths of all paths from the weight's head


def enumerate_paths(d_: int, n_: int, L_: int, c_: int) -> PathEnumeration:
    """DFS over the layered graph input(d) -> L hidden(n) -> output(c) -> cost node, path by path."""
    widths = [d_] + [n_] * L_ + [c_]
    cost_layer = len(widths)

    def paths_from(layer: int) -> tuple[int, int, set[int]]:
        """(number of paths, sum of their lengths, set of lengths) from one node of ``layer``."""
        count = length_sum = 0
        lengths: set[int] = set()
        stack = [(layer, 0)]  # (layer of the current node, edges walked so far)
        while stack:
            current, walked = stack.pop()
            if current == cost_layer:
                count += 1
                length_sum += walked
                lengths.add(walked)
                continue
            successors = 1 if current == cost_layer - 1 else widths[current + 1]
            stack.extend((current + 1, walked + 1) for _ in range(successors))
        return count, length_sum, lengths

    counts, length_sets, multiplications = [], [], 0
    for layer in range(len(widths)):
        count, length_sum, lengths = paths_from(layer)
        counts.append(count)
        length_sets.append(frozenset(lengths))
        if layer > 0:
            multiplications += widths[layer - 1] * widths[layer] * length_sum  # weights into this layer
    return PathEnumeration(tuple(counts), tuple(length_sets), multiplications)


def check_path_enumeration(grid: Iterable[Shape] = PATH_GRID) -> ProofResult:
    mismatches = []
    cases = 0
    total_formula = ref.path_multiplications()
    for shape in grid:
        cases += 1
        found = enumerate_paths(*shape)
        L_ = shape[2]
        for layer in range(L_ + 2):
            symbolic_layer = L + 1 if layer == L_ + 1 else layer  # the reference names the output layer L+1
            expected_count = _subs(ref.path_count(symbolic_layer), shape)
            expected_length = _subs(ref.path_length(symbolic_layer), shape)
            if found.paths_per_layer[layer] != expected_count or found.lengths_per_layer[layer] != {expected_length}:
                mismatches.append((shape, layer))
        if found.multiplications != _subs(total_formula, shape):
            mismatches.append((shape, "multiplications", found.multiplications))
    return ProofResult(
        "4.3 path counts and path-enumeration cost equal brute-force DFS",
        not mismatches,
        f"{cases} networks (d, n, L, c) in {{1,2,3}}x{{1,2,3}}x{{1..4}}x{{1,2}} (n = 1 included for the "
        f"Piecewise branch): every path from every layer enumerated, counts, lengths and "
        f"sum over weights of path lengths compared exactly; mismatches: {mismatches or 'none'}",
    )


def verify_all() -> list[ProofResult]:
    return [check_parameter_counts(), check_sgd_multiplications(), check_path_enumeration()]
