"""Problem 2 reference (solutions/unrolled_state.py): G_t as the t-fold composition of F, and the two reasons."""
from __future__ import annotations

import math
import random

import pytest
import sympy as sp

from solutions import unrolled_state as us

h0, x1, x2, x3 = sp.symbols("h0 x1 x2 x3")


def test_g3_is_the_threefold_composition_with_the_state_first() -> None:
    F = sp.Function("F")
    assert us.unrolled_state(3) == F(F(F(h0, x1), x2), x3)
    assert str(us.unrolled_state(3)) == "F(F(F(h0, x1), x2), x3)"


def test_g0_is_the_initial_state_and_negative_t_is_refused() -> None:
    assert us.unrolled_state(0) == h0
    with pytest.raises(ValueError):
        us.unrolled_state(-1)


@pytest.mark.parametrize("t", [1, 2, 5, 8])
def test_g_t_with_a_concrete_F_equals_iterating_the_recurrence(t) -> None:
    rnd = random.Random(t)
    start, inputs = rnd.uniform(-1, 1), [rnd.uniform(-2, 2) for _ in range(t)]
    h, x = sp.symbols("h x")
    concrete = sp.Lambda((h, x), sp.tanh(h / 2 + x) + x / 10)  # not symmetric in (h, x): order matters
    state = start
    for x_t in inputs:
        state = math.tanh(state / 2 + x_t) + x_t / 10
    values = {us.H0: sp.Float(start, 30), **{us.input_symbol(i + 1): sp.Float(v, 30) for i, v in enumerate(inputs)}}
    # numbers first, then F: each application then evaluates to a number instead of a growing tanh tree
    assert float(us.unrolled_state(t).xreplace(values).replace(us.F, concrete)) == pytest.approx(state, rel=1e-12)


def test_g_t_consumes_each_input_once_x1_innermost() -> None:
    expr = us.unrolled_state(4)
    order = []
    while isinstance(expr, sp.Function):
        order.append(expr.args[1])
        expr = expr.args[0]
    assert expr == h0
    assert order == list(sp.symbols("x4 x3 x2 x1"))


def test_reasons_name_parameter_sharing_and_a_fixed_size_state() -> None:
    text = us.REASONS.lower()
    assert "parameter sharing" in text and "same" in text
    assert "fixed" in text and "do not grow" in text
    assert "(1)" in us.REASONS and "(2)" in us.REASONS


def test_docstring_gives_the_explicit_expression_and_both_reasons() -> None:
    assert "G_3 = F(F(F(h0, x1), x2), x3)" in us.__doc__
    assert "Parameter sharing across time" in us.__doc__ and "fixed-size recurrent state" in us.__doc__
