"""Problem 2 checks (checks/unrolled_state.py): safe parsing of G_3 and the judging of item 2.1."""
from __future__ import annotations

import builtins

import pytest
import sympy as sp

from checks import unrolled_state as cu
from solutions.unrolled_state import unrolled_state


@pytest.mark.parametrize(
    "text",
    [
        "F(F(F(h0,x1),x2),x3)",
        "F_theta(F_theta(F_theta(h_0, x_1), x_2), x_3)",
        "F(F(F(h_0, x_1), x_2), x_3)",
        "  F ( F ( F ( h0 , x1 ) , x2 ) , x3 )  ",
        "G_3 = F(F(F(h0, x1), x2), x3)",
        r"F_{\theta}\left(F_\theta(F_\theta(\mathbf{h}_0, \mathbf{x}_1), \mathbf{x}_{2}), \mathbf{x}_3\right)",
        "Fθ(Fθ(Fθ(h₀, x₁), x₂), x₃)",
        "f(f(f(h0, x1), x2), x3)",
    ],
)
def test_equivalent_spellings_of_g3_keep_the_points(text) -> None:
    verdict = cu.judge_g3(text)
    assert verdict.fraction == 1.0, verdict.feedback
    assert verdict.feedback.startswith("Correct")


def test_swapped_arguments_lose_the_points_and_say_so() -> None:
    verdict = cu.judge_g3("F(x3, F(x2, F(x1, h0)))")
    assert verdict.fraction == 0.0
    assert "arguments of F are swapped: F(x_t, h_{t-1}) was written" in verdict.feedback
    assert "h_t = F_theta(h_{t-1}, x_t)" in verdict.feedback


def test_arguments_swapped_in_one_application_are_named() -> None:
    verdict = cu.judge_g3("F(F(F(x1, h0), x2), x3)")
    assert verdict.fraction == 0.0 and "swapped in some of the applications" in verdict.feedback


@pytest.mark.parametrize("text, depth", [("F(F(h0, x1), x2)", 2), ("F(F(F(F(h0, x1), x2), x3), x4)", 4)])
def test_wrong_number_of_compositions_is_counted_in_feedback(text, depth) -> None:
    verdict = cu.judge_g3(text)
    assert verdict.fraction == 0.0
    assert f"this is G_{depth}, with {depth} compositions of F; G_3 needs 3" in verdict.feedback


def test_inputs_in_reverse_order_are_named() -> None:
    verdict = cu.judge_g3("F(F(F(h0, x3), x2), x1)")
    assert verdict.fraction == 0.0 and "reverse order" in verdict.feedback


def test_an_intermediate_state_is_not_an_explicit_expression() -> None:
    verdict = cu.judge_g3("F(h2, x3)")
    assert verdict.fraction == 0.0 and "intermediate state h2" in verdict.feedback


def test_repeated_input_is_reported_with_the_inputs_used() -> None:
    verdict = cu.judge_g3("F(F(F(h0, x1), x1), x3)")
    assert verdict.fraction == 0.0 and "inputs used: x1, x1, x3" in verdict.feedback


@pytest.mark.parametrize(
    "text, error",
    [
        ("F(F(F(h0,x1),x2),x3", "expected ')' at the end of the text"),
        ("F(F(F(h0,x1),x2),y3)", "unexpected 'y' at position 18"),
        ("F(h0,x1)+1", "unexpected '+'"),
        ("", "empty expression"),
    ],
)
def test_unparseable_text_scores_zero_quoting_text_and_error(text, error) -> None:
    verdict = cu.judge_g3(text)
    assert verdict.fraction == 0.0
    assert repr(text) in verdict.feedback and error in verdict.feedback


def test_non_text_answer_scores_zero_without_raising() -> None:
    verdict = cu.judge_g3(None)  # type: ignore[arg-type]
    assert verdict.fraction == 0.0 and "expected text" in verdict.feedback


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/hw2_should_not_exist')",
        "F(h0, x1).__class__",
        "exec('print(1)')",
        "lambda: 0",
        "F(h0, x1); import os",
        "F(" * 300 + "h0" + ", x1)" * 300,  # longer than 500 characters
    ],
)
def test_code_like_text_is_refused(text) -> None:
    with pytest.raises(cu.StateParseError):
        cu.parse_state_expression(text)


def test_parser_never_evaluates_or_sympifies(monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("student text must not be evaluated")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(sp, "sympify", forbidden)
    monkeypatch.setattr(sp.parsing.sympy_parser, "parse_expr", forbidden)
    assert cu.parse_state_expression("F(F(F(h_0, x_1), x_2), x_3)") == unrolled_state(3)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    text = "F(" * (cu.MAX_DEPTH + 2) + "h0" + ",x1)" * (cu.MAX_DEPTH + 2)
    assert len(text) <= cu.MAX_LENGTH
    with pytest.raises(cu.StateParseError, match="nested deeper"):
        cu.parse_state_expression(text)


def test_parser_round_trips_the_reference_for_every_length() -> None:
    for t in range(8):
        assert cu.parse_state_expression(str(unrolled_state(t))) == unrolled_state(t)


def test_verify_all_passes() -> None:
    results = cu.verify_all()
    assert len(results) == 3 and all(r.passed for r in results), [r.detail for r in results]
