"""Runs the rubric as pytest tests and scores the items from pytest-json-report's report.

The score comes only from the JSON report that pytest writes in the grading process; the submission's code
runs in sandboxed children and nothing it prints or writes is read as a verdict.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from pytest_jsonreport.plugin import JSONReport

from checks.verdict import Verdict
from grader.evidence.context import GradeContext
from grader.results.model import ItemResult
from grader.rubric.items import Item, Rubric

TEST_MODULE = Path(__file__).with_name("test_items.py")
PUBLIC_ONLY = "[public checks only: the instructor's run scores this item] "


class RubricPlugin:
    """Hands the grading context to the rubric test and parametrizes it with the selected items."""

    def __init__(self, ctx: GradeContext, items: list[Item]) -> None:
        self._ctx, self._items = ctx, items

    @pytest.fixture
    def ctx(self) -> GradeContext:
        return self._ctx

    @pytest.fixture
    def record(self, item, json_metadata):
        def record(v: Verdict) -> None:
            json_metadata.update({"rubric": item.number, "fraction": v.fraction, "feedback": v.feedback,
                                  "notes": list(v.notes), "review": v.review, "error": v.error})
            assert v.fraction == 1.0, v.feedback

        return record

    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "rubric(number): the rubric item a test grades")

    def pytest_generate_tests(self, metafunc) -> None:
        if "item" in metafunc.fixturenames:
            metafunc.parametrize("item", [pytest.param(i, id=i.number, marks=pytest.mark.rubric(i.number))
                                          for i in self._items])


def run_rubric(ctx: GradeContext, items: list[Item]) -> dict:
    """Run the judges of `items` as pytest tests; returns pytest-json-report's report (a dict) with each test's
    rubric number in its metadata."""
    if not items:
        return {"tests": []}
    report_plugin = JSONReport()
    folder = TEST_MODULE.parent
    args = [str(TEST_MODULE), "-q", "--tb=short", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--import-mode=importlib", "--rootdir", str(folder), "-c", os.devnull, "--json-report-file=none"]
    console = io.StringIO()  # pytest's own terminal output: kept for diagnosing the grader, not shown
    with contextlib.redirect_stdout(console):
        code = pytest.main(args, plugins=[RubricPlugin(ctx, items), report_plugin])
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the rubric could not run (pytest exit code {int(code)}):\n{console.getvalue()[-3000:]}")
    report = dict(report_plugin.report or {})
    numbers = {f"{TEST_MODULE.name}::test_item[{i.number}]": i.number for i in items}
    for test in report.get("tests", []):
        nodeid = str(test.get("nodeid", ""))
        test.setdefault("metadata", {}).setdefault("rubric", numbers.get(nodeid.rsplit("/", 1)[-1]))
    return report


def score_items(report: dict, rubric: Rubric, selected: tuple[str, ...], ctx: GradeContext | None) -> list[ItemResult]:
    """Every rubric item's result: automatic ones from the JSON report's metadata, manual ones pending."""
    by_number: dict[str, dict] = {}
    for test in report.get("tests", []):
        meta = test.get("metadata") or {}
        if meta.get("rubric"):
            by_number[meta["rubric"]] = test
    results = []
    for item in rubric:
        base = dict(number=item.number, name=item.name, max_score=item.points, manual=item.manual, bonus=item.bonus)
        if item.number not in selected:
            results.append(ItemResult(**base, score=None, status="skipped", feedback="not selected (--only)"))
            continue
        if item.manual:
            text, problem = ctx.answers.text(item.answer_key) if ctx else ("", "")
            results.append(ItemResult(**base, score=None, status="pending", student_text=text,
                                      feedback="graded by hand" + (f" ({problem})" if problem else "")))
            continue
        results.append(_scored(item, by_number.get(item.number), ctx))
    return results


def _scored(item: Item, test: dict | None, ctx: GradeContext | None) -> ItemResult:
    base = dict(number=item.number, name=item.name, max_score=item.points, manual=False, bonus=item.bonus)
    meta = (test or {}).get("metadata") or {}
    if test is None or "fraction" not in meta:
        why = _crash_text(test) if test else "the rubric test did not run"
        return ItemResult(**base, score=0.0, status="failed", feedback=f"the grader could not check this item: {why}")
    fraction = min(max(float(meta["fraction"]), 0.0), 1.0)
    score = round(item.points * fraction, 2)
    status = "passed" if fraction >= 1.0 else "partial" if fraction > 0 else "failed"
    feedback = str(meta.get("feedback", ""))
    if meta.get("error"):  # not the student's failure: to regrade (issue 10's `error` status counts it as no score)
        feedback = f"[the grader could not check this item, not because of the code: regrade] {feedback}"
        score, status = 0.0, "error"
    elif meta.get("review"):  # nothing is awarded on the strength of what the student's code reported
        feedback = (f"[for the instructor to confirm: as measured it would earn {score:g} of {item.points:g}; "
                    f"0 until confirmed] {feedback}")
        score, status = 0.0, "review"
    if ctx is not None and ctx.edition == "student" and not item.public:
        feedback = PUBLIC_ONLY + feedback
    notes = [str(n) for n in meta.get("notes") or []] + (ctx.code_notes(item.contract_names) if ctx is not None else [])
    if notes:
        feedback += " Notes: " + " ".join(n if n.endswith(".") else n + "." for n in notes)
    return ItemResult(**base, score=score, status=status, feedback=feedback)


def _crash_text(test: dict) -> str:
    for stage in ("setup", "call", "teardown"):
        part = test.get(stage) or {}
        if part.get("outcome") in ("failed", "error") or part.get("crash"):
            crash = part.get("crash") or {}
            return str(crash.get("message") or part.get("longrepr") or "unknown error")[-500:]
    return "unknown error"
