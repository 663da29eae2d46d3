"""Problem 2 checks: safe parsing of a submitted G_3, its judging, and verification of `solutions.unrolled_state`.

Student text is never evaluated. `parse_state_expression` is a small recursive-descent parser for the only
grammar an answer needs,

    expr := FNAME "(" expr "," expr ")" | VAR
    FNAME := F or f, optionally subscripted theta: F_theta, F_\\theta, F_{\\theta}, F_θ, Fθ
    VAR   := h<n> or x<n>, also h_0, x_{1}, \\mathbf{x}_1

with spaces ignored, subscript digits (x₁) read as digits, \\left( / \\right) read as parentheses and an
optional left-hand side ("G_3 = ...").
Anything else is refused with the position of the first offending character. The result is a sympy
expression over `solutions.unrolled_state.F` and the symbols h0, h1, ..., x1, x2, ...

Scoring of item 2.1 (`judge_g3`) is all or nothing: the answer is one expression. A wrong answer gets a
diagnosis: arguments of F swapped, inputs in reverse order, wrong number of compositions, intermediate states
(h1, h2) left in, inputs missing or repeated.
"""
from __future__ import annotations

import math
import random

import sympy as sp

from checks.answer_format import (ANSWER_TIME_S, MAX_DEPTH, MAX_LENGTH, StateParseError,  # noqa: F401
                                  answer_took_too_long, parse_state_expression)
from checks.time_limit import limited
from checks.verdict import ProofResult, Verdict
from solutions.unrolled_state import F, H0, input_symbol, unrolled_state

GRADED_T = 3  # rubric item 2.1 asks for G_3


# ----------------------------------------------------------------------------------------------------------
# Judging
# ----------------------------------------------------------------------------------------------------------


def _swap_arguments(expr: sp.Expr) -> sp.Expr:
    """Every F(a, b) turned into F(b, a), recursively."""
    if isinstance(expr, sp.Symbol):
        return expr
    a, b = expr.args
    return F(_swap_arguments(b), _swap_arguments(a))


def _unordered(expr: sp.Expr) -> object:
    """A form of expr that ignores the order of F's two arguments (to detect partial swaps)."""
    if isinstance(expr, sp.Symbol):
        return str(expr)
    return ("F", frozenset(_unordered(arg) for arg in expr.args))


def _applications(expr: sp.Expr) -> int:
    """How many times F is applied in expr."""
    return 0 if isinstance(expr, sp.Symbol) else 1 + sum(_applications(arg) for arg in expr.args)


def _leaves(expr: sp.Expr) -> list[sp.Symbol]:
    """Symbols in order of appearance, repeats kept."""
    return [expr] if isinstance(expr, sp.Symbol) else [s for arg in expr.args for s in _leaves(arg)]


def _diagnose(expr: sp.Expr, t: int) -> str:
    """Why expr is not G_t (expr != unrolled_state(t))."""
    reference = unrolled_state(t)
    n = _applications(expr)
    if _swap_arguments(expr) == reference:
        return (
            "the arguments of F are swapped: F(x_t, h_{t-1}) was written, but the handout defines "
            "h_t = F_theta(h_{t-1}, x_t), the previous state first and the input second"
        )
    if _unordered(expr) == _unordered(reference):
        return (
            "the arguments of F are swapped in some of the applications: the handout defines "
            "h_t = F_theta(h_{t-1}, x_t), the previous state first and the input second"
        )
    reversed_inputs = {input_symbol(i): input_symbol(t + 1 - i) for i in range(1, t + 1)}
    if expr.xreplace(reversed_inputs) == reference:
        return f"the inputs are in reverse order: x1 enters first (innermost, F(h0, x1)) and x{t} last (outermost)"
    for d in range(0, 2 * t + 2):
        if d != t and expr == unrolled_state(d):
            return (
                f"this is G_{d}, with {d} composition{'s' if d != 1 else ''} of F; G_{t} needs {t}, one per "
                f"input x1..x{t}"
            )
    leaves = _leaves(expr)
    states = sorted({s.name for s in leaves if s.name.startswith("h") and s != H0})
    if states:
        return (
            f"not explicit: it still contains the intermediate state{'s' if len(states) > 1 else ''} "
            f"{', '.join(states)}; unroll the recursion down to the initial state h0 so that only h0 and "
            f"x1..x{t} remain"
        )
    problems = []
    if n != t:
        problems.append(f"F is applied {n} time{'s' if n != 1 else ''}, G_{t} needs {t} compositions")
    if H0 not in leaves:
        problems.append("the initial state h0 does not appear")
    inputs = [s.name for s in leaves if s.name.startswith("x")]
    wanted = [input_symbol(i).name for i in range(1, t + 1)]
    if sorted(inputs) != sorted(wanted):
        used = ", ".join(inputs) or "none"
        problems.append(f"inputs used: {used}; G_{t} uses each of {', '.join(wanted)} exactly once")
    if not problems:
        problems.append(f"h0 and x1..x{t} are all used once, but not nested as h_i = F(h_(i-1), x_i)")
    return "; ".join(problems)


@limited(ANSWER_TIME_S, answer_took_too_long)
def judge_g3(text: str) -> Verdict:
    """Rubric item 2.1: the explicit expression of G_3. 1.0 if it is F(F(F(h0, x1), x2), x3) in any accepted
    spelling, else 0.0 with the reason."""
    shown = text if not isinstance(text, str) or len(text) <= 120 else text[:117] + "..."
    try:
        expr = parse_state_expression(text)
    except StateParseError as err:
        return Verdict(
            0.0,
            f"Could not read {shown!r} as an expression in F, h0 and x1..x{GRADED_T}: {err}.",
        )
    if expr == unrolled_state(GRADED_T):
        return Verdict(1.0, f"Correct: G_{GRADED_T} = {expr}, the {GRADED_T}-fold composition of F_theta.")
    return Verdict(0.0, f"G_{GRADED_T} read as {expr}: {_diagnose(expr, GRADED_T)}.")


# ----------------------------------------------------------------------------------------------------------
# Verification of the reference
# ----------------------------------------------------------------------------------------------------------


def _concrete_check(max_t: int = 6, seed: int = 0) -> ProofResult:
    """G_t with a concrete F(h, x) = tanh(h/2 + x) equals iterating h_t = F(h_{t-1}, x_t) numerically."""
    rnd = random.Random(seed)
    h, x = sp.symbols("h x")
    concrete = sp.Lambda((h, x), sp.tanh(h / 2 + x))
    worst = 0.0
    for t in range(max_t + 1):
        h0 = rnd.uniform(-1, 1)
        xs = [rnd.uniform(-2, 2) for _ in range(t)]
        state = h0
        for x_t in xs:  # the recurrence, step by step
            state = math.tanh(state / 2 + x_t)
        values = {H0: sp.Float(h0, 30), **{input_symbol(i + 1): sp.Float(v, 30) for i, v in enumerate(xs)}}
        # numbers first, then F: each application evaluates to a number instead of a growing tanh tree
        unrolled = float(unrolled_state(t).xreplace(values).replace(F, concrete))
        worst = max(worst, abs(unrolled - state) / max(abs(state), 1e-300))
    return ProofResult(
        "Problem 2 G_t equals iterating the recurrence",
        worst <= 1e-12,
        f"F(h, x) = tanh(h/2 + x) substituted into unrolled_state(t) for t = 0..{max_t}, random h0 and x "
        f"(seed {seed}), compared with a loop over h_t = F(h_(t-1), x_t): max relative error {worst:.1e} (tol 1e-12).",
    )


def _parser_check() -> ProofResult:
    """The parser reads the reference in several spellings and refuses code."""
    spellings = [
        str(unrolled_state(GRADED_T)),
        "F_theta(F_theta(F_theta(h_0, x_1), x_2), x_3)",
        r"G_3 = F_{\theta}\left(F_\theta(F_\theta(\mathbf{h}_0, \mathbf{x}_1), \mathbf{x}_{2}), \mathbf{x}_3\right)",
    ]
    read = [judge_g3(s).fraction == 1.0 for s in spellings]
    round_trip = all(parse_state_expression(str(unrolled_state(t))) == unrolled_state(t) for t in range(7))
    hostile = ["__import__('os').system('true')", "F(h0, x1).__class__", "exec('1')", "F(h0, x1); 1", "lambda: 0"]
    refused = []
    for text in hostile:
        try:
            parse_state_expression(text)
        except StateParseError:
            refused.append(text)
    passed = all(read) and round_trip and len(refused) == len(hostile)
    return ProofResult(
        "Problem 2 G_3 parser",
        passed,
        f"{sum(read)}/{len(spellings)} spellings of G_3 judged right; str(unrolled_state(t)) parses back for "
        f"t = 0..6: {round_trip}; {len(refused)}/{len(hostile)} code-like strings refused without evaluation.",
    )


def verify_all() -> list[ProofResult]:
    """Every verification of the Problem 2 reference and its parser."""
    swapped = judge_g3("F(x3, F(x2, F(x1, h0)))")
    judged = ProofResult(
        "Problem 2 judge separates right and swapped G_3",
        judge_g3(str(unrolled_state(GRADED_T))).fraction == 1.0 and swapped.fraction == 0.0,
        f"reference scores 1.0; swapped-argument answer scores {swapped.fraction} with: {swapped.feedback}",
    )
    return [_concrete_check(), _parser_check(), judged]
