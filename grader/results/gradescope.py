"""Gradescope's autograder results.json, rendered from a GradeResult.

Schema (https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level score, execution_time,
output, visibility, stdout_visibility, and one test per automatic item that was run.
"""
from __future__ import annotations

from grader.results.html import clean, fmt_points
from grader.results.model import UNCOUNTED, GradeResult

TEST_OUTPUT_CHARS = 10_000
NAME_CHARS = 300


def _passed(score: float, max_score: float) -> bool:
    return abs(score - max_score) <= 1e-9 * max(1.0, abs(max_score))


def summary(result: GradeResult) -> str:
    text = f"{result.regular_score:.1f} / {fmt_points(result.max_score)} automatic points"
    if result.bonus_max:
        text += f" + {result.bonus_score:.1f} bonus"
    if result.pending_manual:
        text += f"; {fmt_points(result.pending_manual)} points pending manual grading"
    failed = [i.number for i in result.scored_items if not _passed(i.score or 0.0, i.max_score)]
    if failed:
        text += f". Not full marks: {', '.join(clean(n, 40) for n in failed)}"
    if result.incomplete:
        text += (f". INCOMPLETE: the grader could not check {', '.join(clean(i.number, 40) for i in result.errors)}"
                 f" (no score; grade again)")
    return text + ". The full report (report.html) shows the feedback, training curves and filters."


def render_gradescope(result: GradeResult) -> dict:
    """The Gradescope results.json content (a JSON-ready dict)."""
    tests = []
    for item in result.auto_items:
        test = {"number": clean(item.number, 40), "name": clean(item.name, NAME_CHARS)}
        if item.status in UNCOUNTED:  # not scored here (the grader's error, a format check): no score, no status
            test.update(max_score=0.0, output=clean(f"[{item.status}] {item.feedback}", TEST_OUTPUT_CHARS))
        else:
            score = float(item.score or 0.0)
            test.update(score=round(score, 4), max_score=float(item.max_score),
                        status="passed" if _passed(score, item.max_score) else "failed",
                        output=clean(item.feedback, TEST_OUTPUT_CHARS))
        tests.append({**test, "visibility": "visible"})
    return {
        "score": round(float(result.score), 4),
        "execution_time": int(round(result.execution_time)),
        "output": summary(result),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
