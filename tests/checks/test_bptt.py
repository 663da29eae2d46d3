"""Problem 1 checks (checks/bptt.py): exact/autograd verification and the judging of items 1.1 and 1.2.

The wrong submissions here are written independently of `checks.bptt.variant_gradients` (`student_bptt`), so
a diagnosis is tested against a mistake made the way a student would make it.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import bptt as cb
from checks.rnn_instances import random_instance
from solutions.bptt import PARAM_NAMES

INSTANCES = cb.grading_instances(seed=11)  # includes T = 1
REFERENCE = cb.reference_gradients(INSTANCES)


def student_bptt(params, xs, ys, h0, *, recursion=True, tanh_grad="1-h^2", sign=1.0, W_hh_with="h_prev"):
    """A student's BPTT with one switchable mistake per keyword."""
    T, H = xs.shape[0], h0.shape[0]
    hs, zs, h = [], [], h0
    for t in range(T):
        h = np.tanh(params["W_xh"] @ xs[t] + params["W_hh"] @ h + params["b_h"])
        o = params["W_hz"] @ h + params["b_z"]
        hs.append(h)
        zs.append(np.exp(o) / np.exp(o).sum())
    g = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros(H)
    for t in reversed(range(T)):
        do = sign * (zs[t] - np.eye(len(zs[t]))[ys[t]])
        g["W_hz"] += np.outer(do, hs[t])
        g["b_z"] += do
        dh = params["W_hz"].T @ do + (params["W_hh"].T @ dh_next if recursion else 0)
        da = dh * ((1 - hs[t] ** 2) if tanh_grad == "1-h^2" else (1 - hs[t]))
        prev = h0 if t == 0 else hs[t - 1]
        g["W_hh"] += np.outer(da, prev if W_hh_with == "h_prev" else hs[t])
        g["W_xh"] += np.outer(da, xs[t])
        g["b_h"] += da
        dh_next = da
    return g


def submit(**mistake) -> list[dict]:
    return [student_bptt(*inst, **mistake) for inst in INSTANCES]


# ---------------------------------------------------------------------------------------------
# verification of the reference
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verified():
    return {r.name: r for r in cb.verify_all()}


def test_sympy_derivative_equals_the_equations_exactly_at_every_size(verified) -> None:
    sympy_results = [r for name, r in verified.items() if "sympy" in name]
    assert len(sympy_results) == len(cb.SYMPY_SIZES)
    for r in sympy_results:
        assert r.passed, r.detail
        assert "max relative error" in r.detail and "identically zero" in r.detail


def test_reference_matches_torch_autograd_and_separates_every_variant(verified) -> None:
    assert all(r.passed for r in verified.values()), [r.detail for r in verified.values() if not r.passed]
    assert any("autograd" in name for name in verified)


def test_sympy_check_fails_for_a_formula_without_the_recursion() -> None:
    result = cb.sympy_verify(2, 1, 2, 2, variant="no_recursion")
    assert not result.passed
    assert "W_hh[0]" in result.detail  # names the entries that are not zero


def test_sympy_check_fails_for_one_minus_h_even_at_T1() -> None:
    assert not cb.sympy_verify(1, 1, 2, 1, variant="one_minus_h").passed


def test_autograd_check_reports_seed_sizes_and_error() -> None:
    result = cb.autograd_verify(5, [(2, 3, 4, 3)])
    assert result.passed and "seed 5" in result.detail and "(2, 3, 4, 3)" in result.detail


# ---------------------------------------------------------------------------------------------
# right answers keep the points
# ---------------------------------------------------------------------------------------------


def test_reference_scores_full_marks_on_both_items() -> None:
    assert cb.judge_output_layer(REFERENCE, REFERENCE).fraction == 1.0
    assert cb.judge_recurrent(REFERENCE, REFERENCE, INSTANCES).fraction == 1.0


def test_gradients_from_torch_autograd_as_tensors_keep_full_marks() -> None:
    submitted = []
    for params, xs, ys, h0 in INSTANCES:
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        h, loss = torch.tensor(h0), 0
        for t in range(xs.shape[0]):
            h = torch.tanh(tp["W_xh"] @ torch.tensor(xs[t]) + tp["W_hh"] @ h + tp["b_h"])
            loss = loss - torch.log_softmax(tp["W_hz"] @ h + tp["b_z"], 0)[ys[t]]
        loss.backward()
        submitted.append({k: v.grad for k, v in tp.items()})  # tensors, not arrays
    assert cb.judge_output_layer(submitted, REFERENCE).fraction == 1.0
    assert cb.judge_recurrent(submitted, REFERENCE, INSTANCES).fraction == 1.0


def test_lists_float32_and_column_vectors_keep_full_marks() -> None:
    submitted = [
        {"W_hz": r["W_hz"].tolist(), "b_z": r["b_z"][:, None], "W_hh": r["W_hh"].astype(np.float32),
         "W_xh": r["W_xh"], "b_h": r["b_h"].reshape(1, -1)}
        for r in submit()
    ]
    out, rec = cb.judge_output_layer(submitted, REFERENCE), cb.judge_recurrent(submitted, REFERENCE, INSTANCES)
    assert out.fraction == 1.0 and rec.fraction == 1.0
    assert any("b_h" in note and "reshaped" in note for note in rec.notes)


def test_independent_correct_student_scores_full_marks() -> None:
    assert cb.judge_recurrent(submit(), REFERENCE, INSTANCES).fraction == 1.0


def test_error_below_tolerance_keeps_points_and_above_loses_them() -> None:
    def scaled(factor):
        return [{k: v * factor for k, v in r.items()} for r in REFERENCE]

    assert cb.judge_output_layer(scaled(1 + 1e-8), REFERENCE).fraction == 1.0
    assert cb.judge_output_layer(scaled(1 + 1e-4), REFERENCE).fraction == 0.0


# ---------------------------------------------------------------------------------------------
# wrong answers lose points, with the reason
# ---------------------------------------------------------------------------------------------


def test_missing_recursion_through_time_is_named_in_feedback() -> None:
    wrong = submit(recursion=False)
    verdict = cb.judge_recurrent(wrong, REFERENCE, INSTANCES)
    assert verdict.fraction == 0.0
    assert "W_hz correct" in verdict.feedback
    assert "recursion through time is missing" in verdict.feedback
    assert cb.judge_output_layer(wrong, REFERENCE).fraction == 1.0  # the output layer does not need it


def test_missing_recursion_is_invisible_at_T1_only() -> None:
    t1 = [i for i, inst in enumerate(INSTANCES) if inst[1].shape[0] == 1]
    assert t1, "the grading instances must include T = 1"
    wrong = submit(recursion=False)
    for i in t1:
        for key in cb.RECURRENT_KEYS:
            np.testing.assert_allclose(wrong[i][key], REFERENCE[i][key], rtol=1e-12)


def test_one_minus_h_instead_of_one_minus_h_squared_is_named() -> None:
    verdict = cb.judge_recurrent(submit(tanh_grad="1-h"), REFERENCE, INSTANCES)
    assert verdict.fraction == 0.0
    assert "(1 - h) used instead of (1 - h^2)" in verdict.feedback


def test_sign_error_loses_output_layer_points_even_without_instances() -> None:
    wrong = submit(sign=-1.0)
    verdict = cb.judge_output_layer(wrong, REFERENCE)
    assert verdict.fraction == 0.0
    assert "sign error (gradient has the opposite sign)" in verdict.feedback
    assert "opposite sign" in cb.judge_recurrent(wrong, REFERENCE, INSTANCES).feedback


def test_transposed_W_hz_is_reported_as_off_by_a_transpose() -> None:
    wrong = [dict(r, W_hz=r["W_hz"].T) for r in REFERENCE]
    verdict = cb.judge_output_layer(wrong, REFERENCE)
    assert verdict.fraction == 0.5  # b_z still right
    assert "W_hz wrong: off by a transpose" in verdict.feedback and "b_z correct" in verdict.feedback


def test_transposed_square_W_hh_is_reported_as_off_by_a_transpose() -> None:
    wrong = [dict(r, W_hh=r["W_hh"].T) for r in REFERENCE]
    verdict = cb.judge_recurrent(wrong, REFERENCE, INSTANCES)
    assert verdict.fraction == pytest.approx(2 / 3)
    assert "W_hh wrong: off by a transpose" in verdict.feedback


def test_h_t_instead_of_h_prev_costs_only_W_hh() -> None:
    verdict = cb.judge_recurrent(submit(W_hh_with="h_t"), REFERENCE, INSTANCES)
    assert verdict.fraction == pytest.approx(2 / 3)
    assert "W_hh wrong: h_t used instead of h_{t-1}" in verdict.feedback


def test_b_h_wrong_alone_costs_one_third_and_names_b_h() -> None:
    wrong = [dict(r, b_h=r["b_h"] + 0.01) for r in REFERENCE]
    verdict = cb.judge_recurrent(wrong, REFERENCE, INSTANCES)
    assert verdict.fraction == pytest.approx(2 / 3)
    assert "b_h wrong" in verdict.feedback and "dL/db_h = sum_t delta_t" in verdict.feedback


def test_W_hh_right_only_for_T1_points_at_the_recursion() -> None:
    rng = np.random.default_rng(0)
    wrong = [
        dict(r, W_hh=r["W_hh"] + (0.05 * rng.standard_normal(r["W_hh"].shape) if inst[1].shape[0] > 1 else 0))
        for r, inst in zip(REFERENCE, INSTANCES)
    ]
    verdict = cb.judge_recurrent(wrong, REFERENCE, INSTANCES)
    assert verdict.fraction == pytest.approx(2 / 3)
    assert "right for T=1 but wrong for longer sequences" in verdict.feedback


@pytest.mark.parametrize("variant", cb.VARIANTS, ids=lambda v: v.name)
def test_every_wrong_variant_is_diagnosed_by_its_message(variant) -> None:
    wrong = [cb.variant_gradients(*inst, variant=variant.name) for inst in INSTANCES]
    rec = cb.judge_recurrent(wrong, REFERENCE, INSTANCES)
    out = cb.judge_output_layer(wrong, REFERENCE, INSTANCES)
    assert rec.fraction + out.fraction < 2.0
    assert variant.message in rec.feedback + out.feedback
    assert f"bptt.{variant.name}" in rec.diagnoses + out.diagnoses  # the class page counts it by this code


def test_right_gradients_carry_no_diagnosis_and_a_transpose_has_its_code() -> None:
    assert cb.judge_recurrent(REFERENCE, REFERENCE, INSTANCES).diagnoses == ()
    wrong = [dict(r, W_hz=r["W_hz"].T) for r in REFERENCE]
    assert cb.judge_output_layer(wrong, REFERENCE).diagnoses == ("bptt.transposed",)


def test_missing_keys_nan_and_wrong_shapes_are_reported_without_raising() -> None:
    wrong = [{"W_hh": r["W_hh"] * np.nan, "b_h": r["b_h"][:1], "W_hz": r["W_hz"]} for r in REFERENCE]
    verdict = cb.judge_recurrent(wrong, REFERENCE, INSTANCES)
    assert verdict.fraction == 0.0
    assert "contains NaN or inf" in verdict.feedback
    assert "W_xh wrong: unusable: missing" in verdict.feedback
    assert "shape (1,)" in verdict.feedback
    assert cb.judge_output_layer(wrong, REFERENCE).fraction == 0.5  # W_hz right, b_z missing


@pytest.mark.parametrize("submission", [None, "gradients", {"W_hz": 1}, [None, 3, "x"], [{"W_hz": "abc"}]])
def test_malformed_submissions_score_zero_without_raising(submission) -> None:
    out = cb.judge_output_layer(submission, REFERENCE)
    rec = cb.judge_recurrent(submission, REFERENCE, INSTANCES)
    assert out.fraction == 0.0 and rec.fraction == 0.0
    assert "unusable" in rec.feedback


def test_too_few_instances_are_noted_and_count_as_missing() -> None:
    verdict = cb.judge_output_layer(REFERENCE[:2], REFERENCE)
    assert verdict.fraction == 0.0
    assert any("2 gradient dicts submitted for 4 instances" in n for n in verdict.notes)


def test_variant_gradients_without_a_variant_is_the_reference() -> None:
    for inst, ref in zip(INSTANCES, REFERENCE):
        ours = cb.variant_gradients(*inst)
        for key in PARAM_NAMES:
            np.testing.assert_allclose(ours[key], ref[key], rtol=1e-12)


def test_unknown_variant_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        cb.variant_gradients(*random_instance(np.random.default_rng(0), 1, 1, 2, 1), variant="typo")


def _clipped(grads: dict, c: float) -> dict:
    return {k: np.clip(v, -c, c) for k, v in grads.items()}


@pytest.mark.parametrize("clip", [1.0, 5.0, 10.0, 20.0])
def test_clipped_gradients_are_named_with_the_same_verdict_in_every_seed(clip):
    """min-char-rnn clips every gradient to [-5, 5]; the probe's instances include one whose true gradients
    exceed every clip value up to 20 in every seed (seeds 0-49), so the verdict cannot depend on --seed."""
    from grader.evidence.probes import BPTT_SIZES, make_probe_inputs

    verdicts = set()
    for seed in range(50):
        inputs = make_probe_inputs(np.random.default_rng(seed), None)
        instances = [inputs.bptt_instance(i) for i in range(len(BPTT_SIZES))]
        reference = [cb.bptt_gradients(*inst) for inst in instances]
        student = [_clipped(r, clip) for r in reference]
        one, two = cb.judge_output_layer(student, reference, instances), cb.judge_recurrent(student, reference, instances)
        verdicts.add((one.fraction, two.fraction, one.feedback, two.feedback))
    [(f1, f2, text1, text2)] = verdicts
    assert f1 == f2 == cb.CLIP_CREDIT
    assert f"your gradients are clipped to [-{clip:g}, {clip:g}]" in text1 and "dL/dtheta" in text2


def test_large_gradient_instances_exceed_common_clip_values_in_every_seed():
    """500 seeds: every gradient of the large instance has an entry above 20 (its smallest maximum was 24)."""
    from checks.rnn_instances import large_gradient_instance

    smallest = min(np.abs(g).max() for seed in range(500)
                   for g in cb.bptt_gradients(*large_gradient_instance(np.random.default_rng(seed), 4, 3, 3, 40)).values())
    assert smallest > 20


def test_a_wrong_gradient_that_is_also_clipped_is_not_called_clipped():
    instances = cb.grading_instances(0)
    reference = cb.reference_gradients(instances)
    wrong = [_clipped(cb.variant_gradients(*inst, variant="no_recursion"), 0.5) for inst in instances]
    verdict = cb.judge_recurrent(wrong, reference, instances)
    assert verdict.fraction == 0.0  # clipping explains W_hz (right but clipped), not the recursion's error
    assert "W_hz wrong: your gradients are clipped to [-0.5, 0.5]" in verdict.feedback
    assert "W_hh wrong: right for T=1 but wrong for longer sequences" in verdict.feedback
