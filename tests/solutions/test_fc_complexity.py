"""Reference formulas of Problem 4 (solutions/fc_complexity.py)."""
from __future__ import annotations

import pytest
import sympy as sp

from solutions import fc_complexity as fc
from solutions.fc_complexity import L, c, d, n


def _at(expr: sp.Expr, d_: int, n_: int, L_: int, c_: int) -> int:
    return int(expr.xreplace({d: d_, n: n_, L: L_, c: c_}))


def test_parameters_with_bias_are_weights_plus_one_bias_per_non_input_node() -> None:
    assert sp.expand(fc.parameters() - (d * n + (L - 1) * n**2 + n * c + L * n + c)) == 0


def test_parameters_without_bias_are_the_weights_only() -> None:
    assert sp.expand(fc.parameters(bias=False) - (d * n + (L - 1) * n**2 + n * c)) == 0


def test_single_hidden_layer_has_no_hidden_to_hidden_weights() -> None:
    # d=2, n=3, L=1, c=4: 2*3 + 3*4 weights, 3 + 4 biases
    assert _at(fc.parameters(), 2, 3, 1, 4) == 6 + 12 + 7


def test_sgd_multiplications_are_forward_plus_backward_plus_update() -> None:
    expected = 3 * d * n + 4 * (L - 1) * n**2 + 4 * n * c + 2 * L * n + c
    assert sp.expand(fc.sgd_multiplications() - expected) == 0
    assert sp.expand(fc.sgd_multiplications() - (fc.forward_multiplications() + fc.backward_multiplications()
                                                 + fc.update_multiplications())) == 0


def test_sgd_without_bias_saves_only_the_bias_updates() -> None:
    assert sp.expand(fc.sgd_multiplications(True) - fc.sgd_multiplications(False) - (L * n + c)) == 0


def test_sgd_multiplications_are_linear_in_the_parameter_count() -> None:
    ratio = fc.sgd_multiplications() / fc.parameters()
    others = {d: 7, n: 5, L: 4, c: 3}
    for symbol in (d, n, L, c):
        limit = sp.limit(ratio.subs({s: v for s, v in others.items() if s != symbol}), symbol, sp.oo)
        assert limit.is_positive and limit.is_finite, (symbol, limit)


def test_path_count_from_hidden_layer_is_c_times_n_to_the_remaining_layers() -> None:
    assert fc.path_count(1) == c * n ** (L - 1)
    assert fc.path_count(0) == c * n**L
    assert fc.path_count(L) == c


def test_path_count_from_output_node_is_one_of_length_one() -> None:
    assert fc.path_count(L + 1) == 1
    assert fc.path_length(L + 1) == 1


def test_path_multiplications_match_a_hand_count() -> None:
    # d=1, n=2, L=1, c=1: 2 weights into the hidden layer, 1 path of 2 edges each -> 4;
    # 2 weights into the output, 1 path of 1 edge each -> 2.
    assert _at(fc.path_multiplications(), 1, 2, 1, 1) == 6


def test_path_multiplications_for_width_one_use_the_arithmetic_sum() -> None:
    # n = 1: c*(d*(L+1) + L*(L+1)/2)
    assert _at(fc.path_multiplications(), 3, 1, 4, 2) == 2 * (3 * 5 + 10)


def test_path_multiplications_grow_like_L_c_d_n_to_the_L() -> None:
    ratio = fc.path_multiplications() / fc.asymptotic_representative("path_multiplications")
    at_n5 = ratio.subs({n: 5, d: 7, c: 3})
    limit = sp.limit(at_n5, L, sp.oo)
    assert limit.is_positive and limit.is_finite


def test_asymptotic_class_strings() -> None:
    assert fc.asymptotic_class("parameters") == "Theta(d*n + L*n**2 + n*c)"
    assert fc.asymptotic_class("sgd_multiplications") == "Theta(d*n + L*n**2 + n*c)"
    assert fc.asymptotic_class("path_multiplications") == "Theta(L*c*d*n**L)"


def test_asymptotic_class_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown quantity"):
        fc.asymptotic_class("flops")
