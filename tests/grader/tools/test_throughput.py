"""The class benchmark: its synthetic class is a class (every style, the fair cases, the course notebook,
the defects and two that fail to load, one folder and roster row each), and its comparison grades a class
through `hw2-grade batch` with and without the training cache, with identical verdicts."""
from __future__ import annotations

import csv

import pytest

from grader.tools.throughput import ClassRun, _differences, build_class, compare_class, render_class, splits

NET_RUN = ("5.1.3",)  # one graded training run per student: the cheapest selection the cache applies to


def test_the_synthetic_class_has_thirty_students_of_every_kind(tmp_path):
    roster = build_class(tmp_path, 34)
    with open(roster, newline="") as f:
        rows = list(csv.DictReader(f))
    ids = [r["student_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 34
    kinds = {i.split("-")[0] for i in ids}
    assert {"style", "fair", "course", "defect", "syntax", "empty"} <= kinds
    assert sum(i.startswith("defect-") for i in ids) >= 15
    for r in rows:
        folder = tmp_path / r["path"]
        assert folder.is_dir(), r
        found = [p.name for p in folder.iterdir()]
        assert r["student_id"] == "empty-repository" or found in (["submission.py"], ["hw2.ipynb"]), (r, found)


def test_more_students_than_the_corpora_repeat_the_common_styles(tmp_path):
    with open(build_class(tmp_path, 45), newline="") as f:
        ids = [r["student_id"] for r in csv.DictReader(f)]
    assert len(set(ids)) == 45 and "style-base-2" in ids


def test_the_splits_compared_give_every_core_to_one_student_or_one_core_to_each():
    assert splits(2) == [(1, 2), (2, 1)] and splits(1) == [(1, 1)]


@pytest.mark.slow
def test_the_cache_and_the_splits_keep_every_verdict_and_the_report_says_so(tmp_path, cifar10):
    """Three students, two of whose networks start from the same bytes (the sequential and the functional
    styles build the handout's layers in its order with torch's default initialisation), one failing to load:
    each cached grading reuses one run, and every verdict equals the baseline's."""
    roster = tmp_path / "roster.csv"
    full = build_class(tmp_path / "full", 40)
    with open(full, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["student_id"] in ("style-base", "style-functional", "syntax-error")]
    with open(roster, "w", newline="") as f:
        csv.writer(f).writerows([("student_id", "path"), *((r["student_id"], str(tmp_path / "full" / r["path"]))
                                                            for r in rows)])
    result = compare_class(3, tmp_path / "work", cifar10.source, cores=2, selected=NET_RUN, roster=roster)
    base = result["baseline"]
    assert base.reused == 0 and base.hit_rate is None and base.students == 3
    for run in result["runs"]:
        assert (run.reused, run.trained) == (1, 1), run.label
        assert result["identical"][run.label] == []
    assert base.verdicts["syntax-error"][""][1] == "failed to load"
    text = "\n".join(render_class(result))
    assert "1/2 (50%)" in text and "identical to the baseline's" in text and "--no-cache" in text


def test_a_verdict_that_differs_is_named():
    def run(label, verdicts):
        return ClassRun(label, 1, 2, True, 10.0, len(verdicts), 0, 0, verdicts)
    base = run("base", {"ann": {"5.1.3": (3.0, "passed")}, "bob": {"5.1.3": (0.0, "failed")}})
    other = run("other", {"ann": {"5.1.3": (0.0, "failed")}, "bob": {"5.1.3": (0.0, "failed")}})
    assert _differences(base, base) == [] and _differences(base, other) == ["ann"]
    result = {"size": 2, "cores": 2, "baseline": base, "runs": [other], "best": other, "speedup": 1.0,
              "identical": {"other": _differences(base, other)}}
    assert "verdicts of other: DIFFER for ann" in "\n".join(render_class(result))
