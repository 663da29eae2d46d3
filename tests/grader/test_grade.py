"""How `grader.rubric.plugin.score_items` turns the rubric tests' JSON metadata into item results."""
from __future__ import annotations

from grader.rubric.plugin import score_items
from grader.results.model import GradeResult
from grader.rubric.items import RUBRIC


def _report(number: str, fraction: float, review: bool) -> dict:
    return {"tests": [{"outcome": "passed", "metadata": {"rubric": number, "fraction": fraction,
                                                         "feedback": "Net() reached 31.0% test accuracy", "review": review}}]}


def test_an_unverified_measurement_earns_nothing_until_reviewed():
    [it] = [i for i in score_items(_report("5.1.3", 1.0, review=True), RUBRIC, ("5.1.3",), None) if i.number == "5.1.3"]
    assert it.status == "review" and it.score == 0.0
    assert "would earn 3 of 3" in it.feedback and "31.0%" in it.feedback


def test_a_verified_measurement_is_scored():
    [it] = [i for i in score_items(_report("5.1.3", 1.0, review=False), RUBRIC, ("5.1.3",), None) if i.number == "5.1.3"]
    assert it.status == "passed" and it.score == 3.0


def test_review_points_count_as_pending_for_a_human():
    items = score_items(_report("5.1.3", 0.5, review=True), RUBRIC, ("5.1.3",), None)
    result = GradeResult(submission="s", items=items)
    assert result.pending_manual == 3.0 and result.score == 0.0
    assert {i.number for i in RUBRIC if i.manual} and all(i.status == "skipped" for i in items if i.manual)
