"""Judging glue shared by the rubric modules: turns a child's failure into a verdict."""
from __future__ import annotations

from checks.verdict import Verdict
from grader.runner import TaskOutcome


def failed(outcome: TaskOutcome, what: str) -> Verdict:
    return Verdict(0.0, f"{what}: {outcome.error}")


def percent(x: float) -> str:
    return f"{100 * x:.1f}%"
