"""A GradeResult kept on disk (report-data.json) comes back equal, images included; anything else is refused."""
from __future__ import annotations

import dataclasses

import pytest

from grader.results.store import StoreError, result_from_json, result_to_json
from tests.grader.sample_results import sample_grade_result


def test_a_grade_comes_back_equal_with_its_images_and_hand_graded_items():
    items = [dataclasses.replace(i, score=7.0, status="partial", hand_graded=True, comment="one reason missing")
             if i.number == "2.2" else dataclasses.replace(i, diagnoses=("loss.summed",)) if i.number == "5.1.2" else i
             for i in sample_grade_result().items]
    result = sample_grade_result(items=items, late_penalty=3.5, late_note="1 day late", regrade_notes=["2.2: 8 -> 7"])
    back = result_from_json(result_to_json(result))
    assert back == result and back.filters_png == result.filters_png and back.filters_png[:4] == b"\x89PNG"
    assert back.items[[i.number for i in back.items].index("5.1.2")].diagnoses == ("loss.summed",)


@pytest.mark.parametrize("text", ["", "[]", '{"format": 99}', '{"format": 1, "submission": "x", "nonsense": 1}',
                                  "[" * 100_000])
def test_anything_but_a_stored_grade_is_refused(text):
    with pytest.raises(StoreError):
        result_from_json(text)
