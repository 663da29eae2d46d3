"""The rubric as pytest tests: one test per selected automatic item (parametrized by grader.rubric.plugin),
each running its edition's judge under the grader's limits and recording the verdict as pytest-json-report
metadata."""
from __future__ import annotations


def test_item(item, judge, record):
    record(judge(item))
