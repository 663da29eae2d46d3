"""A rubric item is one row of grader.rubric.items plus one judge: a throwaway item added through the table
alone is scheduled (its probe runs), graded, rendered in results.json and the report, and filtered for the
student edition (which runs the row's public judge, says the instructor's run scores it, and counts it in no
total)."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.verdict import Verdict
from grader.grade import grade
from grader.options import GradeOptions
from grader.results.gradescope import render_gradescope
from grader.results.html import render_html
from grader.rubric.items import RUBRIC, Item, Rubric
from grader.rubric.plugin import FORMAT_OK
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
    if edition == "instructor":
        assert item.score == 2 and item.status == "passed", item.feedback
        assert item.feedback == "throwaway judge saw 5 conv/linear layers in Net()"
    else:  # the row's public judge checks the form only: scored by the instructor's run, counted nowhere here
        assert item.score is None and item.status == "format", item.feedback
        assert item.feedback.startswith(FORMAT_OK) and "Net() builds and maps a batch" in item.feedback
        assert result.score == 0 and result.max_score == 0 and result.pending_manual == 2
    assert all(i.status == "skipped" for i in result.items if i.number != THROWAWAY)
    tests = render_gradescope(result)["tests"]
    assert [t["number"] for t in tests] == [THROWAWAY]
    assert tests[0].get("score") == (2 if edition == "instructor" else None)
    html = render_html(result)
    assert "Problem 6" in html and "layer count (throwaway)" in html and "conv/linear layers" in html
