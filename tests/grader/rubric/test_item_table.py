"""A rubric item is one row of grader.rubric.items plus one judge: a throwaway item added through the table
alone is scheduled (its probe runs), graded, rendered in results.json and the report, and filtered for the
student edition (which runs the row's public judge and says the instructor's run scores it)."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.verdict import Verdict
from grader.grade import grade
from grader.options import GradeOptions
from grader.results.gradescope import render_gradescope
from grader.results.html import render_html
from grader.rubric.items import RUBRIC, Item, Rubric
from grader.rubric.plugin import PUBLIC_ONLY
from grader.sandbox import protocol as P
from tests.corpus import styles

THROWAWAY = "6.1"


def count_layers(ctx) -> Verdict:
    """The throwaway item's judge: Net's traced forward pass runs five conv/linear layers."""
    o = ctx.probe(P.arch("Net"))
    layers = sum(e.get("op") in ("conv", "linear") for e in o.data.get("events", []))
    return Verdict(1.0 if layers == 5 else 0.0, f"throwaway judge saw {layers} conv/linear layers in Net()")


def rubric_with_throwaway() -> Rubric:
    # probes: what both editions' judges read (the public one also reads the contract's names)
    row = Item(THROWAWAY, "layer count (throwaway)", 2, probes=(P.NAMES, P.arch("Net")),
               judge=f"{__name__}:count_layers", public_judge="grader.rubric.public.p5_1_net:net_outputs_logits")
    return Rubric(RUBRIC.items + (row,))


def test_the_table_derives_what_the_row_needs():
    rubric = rubric_with_throwaway()
    assert rubric.select("6") == (THROWAWAY,)
    assert rubric.needs((THROWAWAY,)).probes == (P.NAMES, P.arch("Net"))
    assert not rubric.needs((THROWAWAY,)).data
    row = rubric.by_number[THROWAWAY]
    assert not row.public and row.judge_for("student") == row.public_judge and row.judge_for("instructor") == row.judge


@pytest.mark.parametrize("edition", ["instructor", "student"])
def test_a_throwaway_item_is_scheduled_graded_and_rendered(edition, tmp_path, calibration, isolation):
    folder = styles.build("base", tmp_path)
    options = GradeOptions(selected=(THROWAWAY,), verify_reference=False, edition=edition)
    result = grade(Path(folder), options, calibration=calibration, isolation=isolation, rubric=rubric_with_throwaway())
    [item] = [i for i in result.items if i.number == THROWAWAY]
    assert item.score == 2 and item.status == "passed", item.feedback
    if edition == "instructor":
        assert item.feedback == "throwaway judge saw 5 conv/linear layers in Net()"
    else:  # the row's public judge, marked as scored by the instructor's run
        assert item.feedback.startswith(PUBLIC_ONLY) and "Net() builds and maps a batch" in item.feedback
    assert all(i.status == "skipped" for i in result.items if i.number != THROWAWAY)
    tests = render_gradescope(result)["tests"]
    assert [t["number"] for t in tests] == [THROWAWAY] and tests[0]["score"] == 2
    html = render_html(result)
    assert "Problem 6" in html and "layer count (throwaway)" in html and "conv/linear layers" in html
