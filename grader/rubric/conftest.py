"""Fixtures of the rubric tests. The grading context arrives through the plugin object that
`grader.grade` registers; `verdict` records an item's result as pytest-json-report metadata."""
from __future__ import annotations

import pytest

from checks.verdict import Verdict


class _Recorder:
    def __init__(self, metadata: dict, number: str) -> None:
        self.metadata, self.number = metadata, number

    def __call__(self, v: Verdict) -> None:
        self.metadata.update({"rubric": self.number, "fraction": v.fraction, "feedback": v.feedback,
                              "notes": list(v.notes), "review": v.review})
        assert v.fraction == 1.0, v.feedback


@pytest.fixture
def record(request, json_metadata):
    marker = request.node.get_closest_marker("rubric")
    return _Recorder(json_metadata, marker.args[0])
