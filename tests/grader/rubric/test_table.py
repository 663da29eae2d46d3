"""The rubric table itself: every judge it names exists, the student edition has a judge for every automatic
item, public judges hold no reference, and selection says what it cannot select."""
from __future__ import annotations

import ast
import inspect

import pytest

from grader.rubric.items import ANSWER_JUDGES, PUBLIC_JUDGES, RUBRIC, SelectionError, resolve


def test_every_judge_the_table_names_exists():
    for item in RUBRIC:
        for name in (item.judge, item.public_judge):
            if name:
                assert callable(resolve(name)), name
        assert item.manual == (not item.judge), item.number


def test_the_student_edition_runs_a_public_judge_for_every_automatic_item():
    for item in RUBRIC:
        if not item.manual:
            assert item.judge_for("student").startswith(PUBLIC_JUDGES), item.number
            assert item.judge.startswith((PUBLIC_JUDGES, ANSWER_JUDGES)), item.number
            assert item.public == (not item.public_judge), item.number  # a public judge needs no stand-in


def test_public_judges_import_no_reference():
    modules = {resolve(i.judge_for("student")).__module__ for i in RUBRIC if not i.manual}
    for name in sorted(modules):
        tree = ast.parse(inspect.getsource(__import__(name, fromlist=["x"])))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(m.startswith(("solutions", "grader.reference", "grader.rubric.answers")) for m in imported), name


def test_selection_by_prefix_and_its_errors():
    assert RUBRIC.select("5.1,1.2") == ("1.2", "5.1.1", "5.1.2", "5.1.3", "5.1.4")
    assert RUBRIC.select(None) == tuple(i.number for i in RUBRIC)
    with pytest.raises(SelectionError, match="names no rubric item"):
        RUBRIC.select("7")
    with pytest.raises(SelectionError, match="no rubric item given"):
        RUBRIC.select(" , ")


def test_what_a_selection_needs_is_derived_from_the_rows():
    needs = RUBRIC.needs(("5.2.2", "1.1", "5.1.4"))
    assert needs.variants == ("net", "kaiming") and needs.data and not needs.augment_images
    assert [t.key for t in needs.probes] == ["init", "bptt"]  # 5.2.2 compares its start with 5.2.1's draws
    assert not RUBRIC.needs(("2.2",)).probes  # a manual item observes nothing


def test_a_variance_ratio_near_zero_prints_as_a_number_a_student_can_read():
    import numpy as np

    from grader.rubric.public.p5_2_init import judge_layer

    w = np.random.default_rng(0).normal(0.0, 1e-4, size=(8, 6, 3, 5, 5))  # std 1e-4 instead of sqrt(2/75)
    ok, text, _ = judge_layer("conv 1", w, z=3.9)
    assert not ok and "Var[w]*fan_in/2 = 3.7e-07, expected 1 (within 3.4e-08)" in text and "0.000" not in text, text
