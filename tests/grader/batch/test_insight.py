"""Class insight on the class page: per-item score histograms and the most frequent diagnoses, each linking to
the students concerned; student ids and labels escaped."""
from __future__ import annotations

from grader import batch
from grader.batch.insight import class_insight, histogram
from grader.batch.records import ItemScore, StudentRecord
from tests.grader.html_tools import parse, text_of


def record(sid: str, score: float, *codes: str, status: str = "graded") -> StudentRecord:
    items = {"5.1.2": ItemScore(score, 2.0, "passed" if score == 2 else "failed", diagnoses=codes),
             "2.2": ItemScore(None, 10.0, "pending")}
    return StudentRecord(sid, status, items=items, total=score, max_score=2.0, pending_manual=10.0,
                         selected=("2.2", "5.1.2"))


CLASS = [record("s1", 2.0), record("s2", 0.0, "loss.nll_on_logits"), record("s3", 0.0, "loss.nll_on_logits"),
         record("s4", 0.0, "loss.summed"), record("s5", 0.0, "loss.nll_on_logits"), StudentRecord("s6", "worker died")]


def test_histogram_has_a_bar_per_score_value_while_few_and_bins_beyond():
    bars = histogram([0.0, 0.0, 2.0, 1.0], 2.0)
    assert [(b.label, b.count) for b in bars] == [("0", 2), ("1", 1), ("2", 1)]
    many = histogram([i / 10 for i in range(101)], 10.0)  # 0.0, 0.1, ... 10.0: 101 distinct values
    assert len(many) == 10 and sum(b.count for b in many) == 101 and many[0].label == "0-1" and many[-1].count == 11


def test_most_frequent_diagnoses_come_first_with_their_students():
    by_item = {i.number: i for i in class_insight(CLASS, ("2.2", "5.1.2"))}
    loss = by_item["5.1.2"]
    assert [(d.label, d.count, d.students) for d in loss.diagnoses] == [
        ("nll_loss applied to raw logits", 3, ("s2", "s3", "s5")),
        ("loss summed over the batch instead of averaged", 1, ("s4",))]
    assert [(b.label, b.count) for b in loss.bars] == [("0", 4), ("2", 1)] and loss.scored == 5
    assert by_item["2.2"].bars == () and by_item["2.2"].pending == 5  # the worker that died is not counted


def test_class_page_shows_histograms_and_diagnoses_linking_to_reports(tmp_path):
    for sid in ("s2", "s3"):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "report.html").write_text("<html></html>")
    html = batch.render_index(CLASS, tmp_path / "r.csv", tmp_path, ("2.2", "5.1.2"), seed=0, n_students=6)
    panel = text_of(html, "insight-5.1.2")
    assert "nll_loss applied to raw logits: 3 students (s2, s3, s5)" in panel
    assert "loss summed over the batch instead of averaged: 1 student (s4)" in panel
    links = [a["href"] for t, a in parse(html).tags["insight-5.1.2"] if t == "a"]
    assert links == ["s2/report.html#problem-5", "s3/report.html#problem-5"]  # s5 has no report on disk: no link
    bars = [a["style"] for t, a in parse(html).tags["insight-5.1.2"] if t == "div" and a.get("class") == "b"]
    assert bars == ["height: 60px", "height: 15px"]  # 4 students at 0, 1 at full marks
    assert "5 pending a human grader" in text_of(html, "insight-2.2")
    assert "Not checked in this batch." in text_of(html, "similar")
