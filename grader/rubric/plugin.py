"""Runs the rubric as pytest tests and scores the items from pytest-json-report's report.

The score comes only from the JSON report that pytest writes in the grading process; the submission's code
runs in sandboxed children and nothing it prints or writes is read as a verdict. Pytest runs only this
plugin and pytest-json-report: no plugin is loaded from entry points (PYTEST_DISABLE_PLUGIN_AUTOLOAD), no
conftest.py above the rubric's folder is collected (confcutdir), no bytecode is written.

A judge that raises, or runs past the grader's own limits (`GradeOptions.item_limit_s` of its own computation,
the per-submission deadline), is the grader's failure: the item's status is `error`, it counts in no total, and
the grade is incomplete. In the student edition, an item whose judge there checks the form only
(`Item.public` False) has status `format` and counts in no total either: the instructor's run scores it.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from pytest_jsonreport.plugin import JSONReport

from checks.time_limit import TimeLimitExceeded, time_limit
from checks.verdict import Verdict
from grader.evidence.context import GradeContext
from grader.progress import ITEM, GradeEvent, Listener, ignore
from grader.results.model import ItemResult, review_note
from grader.rubric.items import Item, Rubric, resolve
from grader.sandbox.runner import DEADLINE_TEXT

TEST_MODULE = Path(__file__).with_name("test_items.py")
FORMAT_OK = "format OK, scored by the instructor: "
FORMAT_PROBLEM = "format problem (the instructor's run scores this item): "
_FAULT_PREFIX = re.compile(r"^(?:[\w.]*\.)?(?:GraderFault|GraderLimit): ")


class GraderLimit(Exception):
    """A judge ran past the grader's own time limits: the grader's failure, not the student's."""


def judge_item(ctx: GradeContext, item: Item) -> Verdict:
    """The edition's judge of `item`, under the grader's limits: at most `item_limit_s` of its own computation
    (the time its evidence takes in sandboxed children does not count: they have limits of their own) and
    nothing past the submission's deadline."""
    if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
        raise GraderLimit(DEADLINE_TEXT)
    judge = resolve(item.judge_for(ctx.edition))
    own = None
    try:
        with time_limit(ctx.options.item_limit_s, until=ctx.deadline) as own:
            return judge(ctx)
    except TimeLimitExceeded as e:
        if own is None or e.limit is not own:
            raise
        if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
            raise GraderLimit(DEADLINE_TEXT) from None
        raise GraderLimit(f"its judge ran past the grader's limit of {ctx.options.item_limit_s:g} s") from None


class RubricPlugin:
    """Hands the grading context to the rubric test and parametrizes it with the selected items."""

    def __init__(self, ctx: GradeContext, items: list[Item], listener: Listener = ignore) -> None:
        self._ctx, self._items, self._listener = ctx, items, listener
        self._by_id = {f"test_item[{i.number}]": i for i in items}

    @pytest.fixture
    def ctx(self) -> GradeContext:
        return self._ctx

    @pytest.fixture
    def judge(self):
        return lambda item: judge_item(self._ctx, item)

    @pytest.fixture
    def record(self, item, json_metadata):
        def record(v: Verdict) -> None:
            json_metadata.update({"rubric": item.number, "fraction": v.fraction, "feedback": v.feedback,
                                  "notes": list(v.notes), "review": v.review, "diagnoses": list(v.diagnoses)})
            assert v.fraction == 1.0, v.feedback

        return record

    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "rubric(number): the rubric item a test grades")

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        item = self._by_id.get(nodeid.rsplit("::", 1)[-1])
        if item is not None:
            self._listener(GradeEvent(ITEM, f"{item.number} {item.name}"))

    def pytest_generate_tests(self, metafunc) -> None:
        if "item" in metafunc.fixturenames:
            metafunc.parametrize("item", [pytest.param(i, id=i.number, marks=pytest.mark.rubric(i.number))
                                          for i in self._items])


def run_rubric(ctx: GradeContext, items: list[Item], listener: Listener = ignore) -> dict:
    """Run the judges of `items` as pytest tests; returns pytest-json-report's report (a dict) with each test's
    rubric number in its metadata."""
    if not items:
        return {"tests": []}
    report_plugin = JSONReport()
    folder = TEST_MODULE.parent
    args = [str(TEST_MODULE), "-q", "--tb=short", "-p", "no:cacheprovider", "-p", "pytest_jsonreport.plugin",
            "--import-mode=importlib", "--rootdir", str(folder), "-c", os.devnull, "--confcutdir", str(folder),
            "--json-report-file=none"]
    console = io.StringIO()  # pytest's own terminal output: kept for diagnosing the grader, not shown
    with contextlib.redirect_stdout(console), _only_our_plugins():
        code = pytest.main(args, plugins=[RubricPlugin(ctx, items, listener), report_plugin])
    if code == pytest.ExitCode.INTERRUPTED:  # Ctrl-C (SIGINT) reached a judge: no grade, not a partial one
        raise KeyboardInterrupt
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        raise RuntimeError(f"the rubric could not run (pytest exit code {int(code)}):\n{console.getvalue()[-3000:]}")
    report = dict(report_plugin.report or {})
    numbers = {f"{TEST_MODULE.name}::test_item[{i.number}]": i.number for i in items}
    for test in report.get("tests", []):
        nodeid = str(test.get("nodeid", ""))
        test.setdefault("metadata", {}).setdefault("rubric", numbers.get(nodeid.rsplit("/", 1)[-1]))
    return report


@contextmanager
def _only_our_plugins():
    """No plugin from entry points (an installed package's pytest11 entry), no bytecode next to the rubric."""
    saved_env = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    saved_flag = sys.dont_write_bytecode
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = saved_flag
        if saved_env is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved_env


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
        why = _FAULT_PREFIX.sub("", _crash_text(test)) if test else "the rubric test did not run"
        return ItemResult(**base, score=None, status="error", feedback=f"the grader could not check this item: {why}")
    fraction = min(max(float(meta["fraction"]), 0.0), 1.0)
    score = round(item.points * fraction, 2)
    status = "passed" if fraction >= 1.0 else "partial" if fraction > 0 else "failed"
    feedback = str(meta.get("feedback", ""))
    proposed = None
    if meta.get("review"):  # nothing is awarded on the strength of what the student's code reported
        feedback = f"{review_note(score, item.points)} {feedback}"
        proposed, score, status = score, 0.0, "review"
    notes = [str(n) for n in meta.get("notes") or []] + (ctx.code_notes(item.contract_names) if ctx is not None else [])
    if notes:
        feedback += " Notes: " + " ".join(n if n.endswith(".") else n + "." for n in notes)
    diagnoses = tuple(str(c) for c in meta.get("diagnoses") or ())
    if ctx is not None and ctx.edition == "student" and not item.public:  # only the form was checked here
        return ItemResult(**base, score=None, status="format", diagnoses=diagnoses,
                          feedback=(FORMAT_OK if fraction >= 1.0 else FORMAT_PROBLEM) + feedback)
    return ItemResult(**base, score=score, status=status, feedback=feedback, diagnoses=diagnoses, proposed_score=proposed)


def _crash_text(test: dict) -> str:
    for stage in ("setup", "call", "teardown"):
        part = test.get(stage) or {}
        if part.get("outcome") in ("failed", "error") or part.get("crash"):
            crash = part.get("crash") or {}
            return str(crash.get("message") or part.get("longrepr") or "unknown error")[-500:]
    return "unknown error"
