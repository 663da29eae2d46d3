"""Verification and judging of Problem 4 (checks/fc_complexity.py)."""
from __future__ import annotations

import os
import time

import pytest
import sympy as sp
import torch

from checks import fc_complexity as fcc
from solutions import fc_complexity as fc
from solutions.fc_complexity import L, c, d, n

# ---------------------------------------------------------------------------------------------
# verification of the reference
# ---------------------------------------------------------------------------------------------


def test_parameter_formula_matches_torch_linear_stacks() -> None:
    result = fcc.check_parameter_counts()
    assert result.passed, result.detail


def test_parameter_check_fails_for_a_wrong_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fc, "parameters", lambda bias=True: d * n + L * n**2 + n * c)
    assert not fcc.check_parameter_counts().passed


def test_sgd_formula_equals_multiplications_counted_on_real_ops() -> None:
    result = fcc.check_sgd_multiplications()
    assert result.passed, result.detail


def test_sgd_count_splits_into_matmuls_relu_derivatives_and_update() -> None:
    # d=3, n=4, L=2, c=2, biases: W = 12 + 16 + 8 = 36 weights, P = 36 + 8 + 2 = 46 parameters.
    step = fcc.count_sgd_step(3, 4, 2, 2, bias=True)
    assert step.by_category == {"matmul": 36 + 36 + (36 - 12), "activation_derivative": 8, "scaled_add": 46}
    assert step.flop_counter_matmul_flops == 2 * step.by_category["matmul"]
    assert step.total == int(fc.sgd_multiplications().subs({d: 3, n: 4, L: 2, c: 2}))


def test_sgd_check_fails_for_a_formula_without_the_update(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fc, "sgd_multiplications",
                        lambda bias=True: fc.forward_multiplications() + fc.backward_multiplications())
    assert not fcc.check_sgd_multiplications(grid=[(2, 3, 2, 2)]).passed


def test_multiplication_counter_refuses_ops_it_cannot_count() -> None:
    x = torch.ones(3)
    with pytest.raises(NotImplementedError, match="sigmoid"):
        with fcc.MultiplicationCounter():
            torch.sigmoid(x)


def test_path_formulas_match_brute_force_enumeration() -> None:
    result = fcc.check_path_enumeration()
    assert result.passed, result.detail


def test_brute_force_enumeration_of_a_tiny_network() -> None:
    # d=1, n=2, L=1, c=1: input node has 2 paths of 3 edges; hidden 1 path of 2; output 1 path of 1.
    found = fcc.enumerate_paths(1, 2, 1, 1)
    assert found.paths_per_layer == (2, 1, 1)
    assert found.lengths_per_layer == (frozenset({3}), frozenset({2}), frozenset({1}))
    assert found.multiplications == 6


def test_path_check_fails_for_a_polynomial_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fc, "path_multiplications", lambda: c * d * L * n**2)
    assert not fcc.check_path_enumeration(grid=[(2, 3, 3, 2)]).passed


def test_verify_all_passes() -> None:
    results = fcc.verify_all()
    assert len(results) == 3
    assert all(r.passed for r in results), [r.detail for r in results if not r.passed]


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------


def test_parse_accepts_caret_implicit_products_and_wrappers() -> None:
    assert fcc.parse_complexity("O(dn + (L-1)n^2 + nc)") == d * n + (L - 1) * n**2 + n * c
    assert fcc.parse_complexity("Theta(2 n L)") == 2 * n * L


def test_parse_error_is_a_value_error_quoting_the_text() -> None:
    with pytest.raises(ValueError, match=r"cannot parse 'd\*n \+ \('"):
        fcc.parse_complexity("d*n + (")


def test_parse_rejects_unknown_names_by_name() -> None:
    with pytest.raises(ValueError, match="unknown name 'm'"):
        fcc.parse_complexity("m*n")


def test_parse_rejects_overlong_answers() -> None:
    with pytest.raises(ValueError, match="at most 500"):
        fcc.parse_complexity("n+" * 300 + "n")


@pytest.mark.parametrize(
    "attack",
    [
        "__import__('os').system('echo hi')",
        "eval('1')",
        "exec('import os')",
        "open('/etc/passwd')",
        "lambda: 1",
        "n.__class__",
        "[n for n in ()]",
        "Symbol('x')",
        "Integer.__subclasses__()",
    ],
)
def test_injection_attempts_are_rejected_without_running_code(attack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("student text reached os.system")

    monkeypatch.setattr(os, "system", forbidden)
    with pytest.raises(ValueError):
        fcc.parse_complexity(attack)
    verdict = fcc.judge_parameters(attack)
    assert verdict.fraction == 0.0
    assert "Could not read the answer" in verdict.feedback


def test_huge_numeric_powers_are_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match="too large"):
        fcc.parse_complexity("9**9**9**9")
    with pytest.raises(ValueError, match="too large"):
        fcc.parse_complexity("((10**30)**100)**100")
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------------------------------------
# 4.1 parameters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "d*n + (L-1)*n**2 + n*c + L*n + c",  # reference, with biases
        "d*n + (L-1)*n**2 + n*c",  # without biases
        "n*(d + (L-1)*n + c) + L*n + c",  # factored
        "dn + Ln^2 - n^2 + nc",  # expanded, caret and implicit products
    ],
)
def test_parameter_answers_equal_to_either_count_keep_points(answer: str) -> None:
    verdict = fcc.judge_parameters(answer)
    assert verdict.fraction == 1.0, verdict.feedback


def test_parameter_answer_without_output_layer_loses_points_naming_n_c() -> None:
    verdict = fcc.judge_parameters("d*n + (L-1)*n**2 + L*n + c")
    assert verdict.fraction == 0.0
    assert "misses the output layer's n*c weights" in verdict.feedback


def test_parameter_answer_with_L_hidden_matrices_loses_points_naming_L_minus_1() -> None:
    verdict = fcc.judge_parameters("d*n + L*n^2 + n*c")
    assert verdict.fraction == 0.0
    assert "L-1" in verdict.feedback


def test_parameter_answer_with_hidden_biases_only_is_flagged() -> None:
    verdict = fcc.judge_parameters("d*n + (L-1)*n**2 + n*c + L*n")
    assert verdict.fraction == 0.0
    assert "not the output layer's c biases" in verdict.feedback


def test_parameter_answer_counting_nodes_is_flagged() -> None:
    verdict = fcc.judge_parameters("d + L*n + c")
    assert verdict.fraction == 0.0
    assert "counts the nodes" in verdict.feedback


def test_parameter_answer_written_asymptotically_with_right_class_keeps_points() -> None:
    verdict = fcc.judge_parameters("O(dn + Ln^2 + nc)")
    assert verdict.fraction == 1.0, verdict.feedback
    assert "asymptotic" in verdict.feedback


def test_parameter_answer_written_asymptotically_with_wrong_class_names_the_variables() -> None:
    verdict = fcc.judge_parameters("O(L n^2)")
    assert verdict.fraction == 0.0
    assert "too slowly in d and c" in verdict.feedback


def test_parameter_numeric_fallback_decides_when_simplify_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make symbolic simplification useless: the seeded random-point evaluation must still decide.
    monkeypatch.setattr(fcc.sp, "simplify", lambda expr: expr)
    # sqrt((n+1)**2) - 1 = n, which expand() alone cannot see
    right = "sqrt(n**2 + 2*n + 1)*(d + (L-1)*n + c) - (d + (L-1)*n + c)"
    equal, method = fcc._equivalent(fcc.parse_complexity(right), fc.parameters(False))
    assert equal and f"seed {fcc.NUMERIC_SEED}" in method
    wrong = "sqrt(n**2 + 2*n + 2)*(d + (L-1)*n + c) - (d + (L-1)*n + c)"
    equal, _ = fcc._equivalent(fcc.parse_complexity(wrong), fc.parameters(False))
    assert not equal


def test_unparseable_parameter_answer_gets_zero_with_text_and_error() -> None:
    verdict = fcc.judge_parameters("d*n + (L-1)*n**2 +")
    assert verdict.fraction == 0.0
    assert "'d*n + (L-1)*n**2 +'" in verdict.feedback
    assert "SyntaxError" in verdict.feedback


# ---------------------------------------------------------------------------------------------
# 4.2 SGD multiplications
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "3*d*n + 4*(L-1)*n**2 + 4*n*c + 2*L*n + c",  # the exact reference count
        "O(L*n^2 + d*n + n*c)",
        "Theta(n*(d + L*n + c))",
        "2*(d*n + (L-1)*n**2 + n*c)",  # another convention, same class
    ],
)
def test_sgd_answers_in_the_reference_class_keep_points(answer: str) -> None:
    verdict = fcc.judge_sgd_multiplications(answer)
    assert verdict.fraction == 1.0, verdict.feedback


def test_sgd_answer_L_n_squared_is_wrong_in_d_and_c() -> None:
    verdict = fcc.judge_sgd_multiplications("L*n**2")
    assert verdict.fraction == 0.0
    assert "misses the d*n and n*c terms" in verdict.feedback
    assert "grows too slowly in d and c" in verdict.feedback


def test_sgd_answer_exponential_in_L_is_wrong() -> None:
    verdict = fcc.judge_sgd_multiplications("O(n^L)")
    assert verdict.fraction == 0.0
    assert "exponential in L where the reference is polynomial in L" in verdict.feedback


def test_sgd_answer_with_extra_log_factor_grows_too_fast_in_n() -> None:
    verdict = fcc.judge_sgd_multiplications("L*n**2*log(n) + d*n + n*c")
    assert verdict.fraction == 0.0
    assert "grows too fast in n" in verdict.feedback


def test_sgd_answer_wrong_only_when_all_variables_grow_together_is_caught() -> None:
    # Each variable alone keeps the ratio bounded; d*L*c*n outgrows everything jointly.
    verdict = fcc.judge_sgd_multiplications("d*n + L*n**2 + n*c + d*L*c*n")
    assert verdict.fraction == 0.0
    assert "grow together" in verdict.feedback


# ---------------------------------------------------------------------------------------------
# 4.3 path enumeration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    ["L*c*d*n**L", "O(c d L n^L)", "c*(d*(L+1)*n**L + L*n**L)", "Theta(L*c*d*n**(L-1)*n)"],
)
def test_path_answers_in_the_reference_class_keep_points(answer: str) -> None:
    verdict = fcc.judge_path_multiplications(answer)
    assert verdict.fraction == 1.0, verdict.feedback


def test_path_answer_polynomial_in_n_is_wrong_because_reference_is_exponential_in_L() -> None:
    verdict = fcc.judge_path_multiplications("d*n + L*n^2 + n*c")
    assert verdict.fraction == 0.0
    assert "polynomial in L where the reference is exponential in L" in verdict.feedback


def test_path_answer_n_to_the_L_misses_the_d_L_c_factors() -> None:
    verdict = fcc.judge_path_multiplications("O(n^L)")
    assert verdict.fraction == 0.0
    assert "grows too slowly in d, L and c" in verdict.feedback


def test_path_answer_with_wrong_base_is_too_slow_in_n() -> None:
    verdict = fcc.judge_path_multiplications("c*d*L*2^L")
    assert verdict.fraction == 0.0
    assert "too slowly in n and L" in verdict.feedback


def test_doubly_exponential_answers_are_judged_without_overflow() -> None:
    start = time.perf_counter()
    verdict = fcc.judge_path_multiplications("n**(n**n) + exp(exp(L))")
    assert verdict.fraction == 0.0
    assert "too fast" in verdict.feedback
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("answer", ["", "   ", "1/0", "log(0)", "-n", "n - n", "0", "sqrt(-n)", "O()", "n**-L"])
def test_degenerate_answers_get_zero_without_raising(answer: str) -> None:
    for judge in (fcc.judge_parameters, fcc.judge_sgd_multiplications, fcc.judge_path_multiplications):
        verdict = judge(answer)
        assert verdict.fraction == 0.0, (judge.__name__, answer, verdict.feedback)
        assert verdict.feedback


def test_judge_notes_state_how_growth_was_compared() -> None:
    verdict = fcc.judge_sgd_multiplications("L*n**2")
    assert any("2**20" in note and "tolerance" in note for note in verdict.notes)


def test_reference_class_representatives_judge_right() -> None:
    for name, judge in (("sgd_multiplications", fcc.judge_sgd_multiplications),
                        ("path_multiplications", fcc.judge_path_multiplications)):
        assert judge(fc.asymptotic_class(name)).fraction == 1.0
    assert sp.simplify(fcc.parse_complexity(fc.asymptotic_class("parameters"))
                       - fc.asymptotic_representative("parameters")) == 0


def test_expansion_size_bounds_an_answer_before_anything_is_expanded():
    """The degree and term count of sp.expand(answer) are bounded from the tree: exact for small answers,
    a bound for a product of sums raised to the 100th power, which is then compared numerically in
    milliseconds instead of expanded for hours."""
    import time

    import sympy as sp

    from checks.answer_format import _parse, expands_cheaply, expansion_size
    from checks.fc_complexity import judge_parameters

    for text in ("d*n + (L-1)*n**2 + n*c + L*n + c", "(d+n+1)^3", "(d+n)^2*(c+L)"):
        expr, _ = _parse(text)
        degree, terms = expansion_size(expr)
        expanded = sp.expand(expr)
        assert terms >= len(sp.Add.make_args(expanded)) and degree >= sp.Poly(expanded).total_degree()
    blowup = "(d+n+L+c+1)^100*(d+n+L+c+2)^100"
    assert not expands_cheaply(_parse(blowup)[0])
    start = time.monotonic()
    verdict = judge_parameters(blowup)
    assert verdict.fraction == 0 and "not the number of parameters" in verdict.feedback
    assert time.monotonic() - start < 5
