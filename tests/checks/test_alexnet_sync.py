"""Problem 3 checks (checks/alexnet_sync.py): judging the synchronisation stages, and the reference's checks."""
from __future__ import annotations

import pytest

from checks import alexnet_sync as ca

RIGHT = ["conv3", "fc6", "fc7", "fc8"]


def test_right_answer_scores_full_marks() -> None:
    verdict = ca.judge_sync_stages(RIGHT)
    assert verdict.fraction == 1.0 and verdict.feedback.startswith("Correct")


@pytest.mark.parametrize(
    "answer",
    [
        ["FC6", " conv3 ", "fc7", "FC8"],
        ["Conv 3", "fc-6", "fc_7", "fc8"],
        ("fc8", "fc7", "fc6", "conv3"),
        {"conv3", "fc6", "fc7", "fc8"},
    ],
    ids=["case-and-spaces", "separators", "tuple-reversed", "set"],
)
def test_other_spellings_and_orders_keep_full_marks(answer) -> None:
    assert ca.judge_sync_stages(answer).fraction == 1.0


def test_comma_separated_string_is_read_with_a_note() -> None:
    verdict = ca.judge_sync_stages("conv3, fc6; fc7, fc8")
    assert verdict.fraction == 1.0 and any("one string" in n for n in verdict.notes)


def test_missing_stage_loses_a_quarter_and_is_named_with_the_reason() -> None:
    verdict = ca.judge_sync_stages(["conv3", "fc6", "fc7"])
    assert verdict.fraction == pytest.approx(0.75)
    assert "Missing: fc8 (its neurons connect to all neurons of the previous layer, on both GPUs)" in verdict.feedback


def test_extra_stage_loses_a_quarter_and_is_named_with_the_reason() -> None:
    verdict = ca.judge_sync_stages(RIGHT + ["conv4"])
    assert verdict.fraction == pytest.approx(0.75)
    reason = "conv4 (its kernels connect only to the kernel maps on their own GPU)"
    assert f"Extra, no synchronisation needed: {reason}" in verdict.feedback


def test_conv1_as_extra_explains_the_image_copies() -> None:
    verdict = ca.judge_sync_stages(["conv1"] + RIGHT)
    assert verdict.fraction == pytest.approx(0.75) and "each GPU holds its own copy" in verdict.feedback


def test_listing_every_stage_earns_nothing() -> None:
    assert ca.judge_sync_stages([f"conv{i}" for i in range(1, 6)] + ["fc6", "fc7", "fc8"]).fraction == 0.0


def test_invalid_entries_are_named_and_cost_like_extras() -> None:
    verdict = ca.judge_sync_stages(RIGHT + ["pool5", 7, None])
    assert verdict.fraction == pytest.approx(0.25)
    assert "'pool5', 7, None" in verdict.feedback and "Not stage names" in verdict.feedback


def test_repeated_entries_count_once() -> None:
    verdict = ca.judge_sync_stages(["fc6", "FC6", "fc7"])
    assert verdict.fraction == pytest.approx(0.5)
    assert any("more than once" in n for n in verdict.notes)
    assert "Missing: conv3" in verdict.feedback


@pytest.mark.parametrize("answer", [None, 42, {"conv3": True}.items()])
def test_non_list_answer_scores_zero_without_raising(answer) -> None:
    verdict = ca.judge_sync_stages(answer)
    assert verdict.fraction == 0.0 and "Expected a list of stage names" in verdict.feedback


def test_empty_answer_names_all_four_missing_stages() -> None:
    verdict = ca.judge_sync_stages([])
    assert verdict.fraction == 0.0
    assert all(stage in verdict.feedback for stage in RIGHT)


def test_explicit_expected_set_is_used_and_checked() -> None:
    assert ca.judge_sync_stages(["conv3"], expected=["conv3"]).fraction == 1.0
    with pytest.raises(ValueError):
        ca.judge_sync_stages(["conv3"], expected=["pool5"])


def test_verify_all_passes() -> None:
    results = ca.verify_all()
    assert len(results) == 4 and all(r.passed for r in results), [r.detail for r in results if not r.passed]
