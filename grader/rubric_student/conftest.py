"""Fixtures of the student rubric: the same `record` as the instructor rubric (imported, so that both
editions record verdicts identically); the grading context arrives through `grader.grade`'s plugin."""
from __future__ import annotations

from grader.rubric.conftest import record  # noqa: F401  (a pytest fixture, registered by being named here)
