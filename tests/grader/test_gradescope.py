"""Gradescope's results.json and the files written by write_outputs."""
from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest

import grader.results.write as gs
from grader.results.gradescope import render_gradescope
from grader.results.write import write_outputs
from grader.results.html import TRUNCATED
from grader.results.model import GradeResult, ItemResult
from tests.grader.sample_results import sample_grade_result


def test_gradescope_lists_only_automatic_items():
    result = sample_grade_result()
    numbers = [t["number"] for t in render_gradescope(result)["tests"]]
    expected = [i.number for i in result.items if not i.manual and i.status != "skipped"]
    assert numbers == expected
    for excluded in ("2.2", "5.1.4", "5.2.3", "5.4.2", "5.4.3"):  # manual and skipped
        assert excluded not in numbers


def test_gradescope_top_level_schema():
    data = render_gradescope(sample_grade_result())
    assert set(data) == {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert isinstance(data["execution_time"], int) and data["execution_time"] == 432
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    assert "70.0 / 85" in data["output"] and "pending" in data["output"]
    json.dumps(data, allow_nan=False)
    for t in data["tests"]:
        assert set(t) == {"number", "name", "score", "max_score", "status", "output", "visibility"}
        assert t["visibility"] == "visible"


def test_gradescope_score_includes_bonus():
    data = render_gradescope(sample_grade_result())
    assert data["score"] == pytest.approx(74.0)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_gradescope_status_is_passed_only_at_full_marks():
    by_number = {t["number"]: t for t in render_gradescope(sample_grade_result())["tests"]}
    assert by_number["1.1"]["status"] == "passed"
    assert by_number["1.2"]["status"] == "failed" and by_number["1.2"]["score"] == 5
    assert by_number["4.2"]["status"] == "failed"
    assert by_number["5.4.1"]["status"] == "passed"


def test_gradescope_output_is_capped():
    item = ItemResult("5.1.1", "Net architecture", 3, 0, "failed", "e" * 50_000 + "TAIL")
    out = render_gradescope(GradeResult("s", items=[item]))["tests"][0]["output"]
    assert TRUNCATED in out and "TAIL" not in out and len(out) <= 10_100


def test_gradescope_output_is_valid_utf8():
    item = ItemResult("5.1.1", "Net \udcff", 3, 3, "passed", "surrogate \udcff")
    text = json.dumps(render_gradescope(GradeResult("s", items=[item])), ensure_ascii=False)
    text.encode("utf-8")


def test_write_outputs_writes_results_report_and_badge(tmp_path):
    out = tmp_path / "out"
    write_outputs(sample_grade_result(), out)
    assert sorted(p.name for p in out.iterdir()) == ["badge.svg", "report.html", "results.json"]
    assert json.loads((out / "results.json").read_text("utf-8"))["score"] == pytest.approx(74.0)
    assert 'id="total-score"' in (out / "report.html").read_text("utf-8")
    # 74 points, of which 4 bonus: the badge shows the regular points out of the regular maximum, bonus apart
    assert ET.fromstring((out / "badge.svg").read_text("utf-8")).find("{http://www.w3.org/2000/svg}title").text == "hw2 grade: 70/85 +4, 15 pending"


def test_write_outputs_keeps_old_files_when_rendering_fails(tmp_path, monkeypatch):
    write_outputs(sample_grade_result(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(result):
        raise RuntimeError("template bug")

    monkeypatch.setattr("grader.results.write.render_html", broken)
    with pytest.raises(RuntimeError):
        write_outputs(dataclasses.replace(sample_grade_result(), submission="other"), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_write_outputs_replaces_through_a_temp_file_in_the_same_folder(tmp_path, monkeypatch):
    calls = []
    real_replace = gs.os.replace

    def spy(src, dst):
        calls.append((src, dst))
        return real_replace(src, dst)

    monkeypatch.setattr(gs.os, "replace", spy)
    write_outputs(sample_grade_result(), tmp_path)
    assert {tmp_path / "results.json", tmp_path / "report.html", tmp_path / "badge.svg"} == {d for _, d in calls}
    for src, dst in calls:
        assert gs.Path(src).parent == dst.parent and gs.Path(src).name != dst.name


def test_write_outputs_leaves_no_temp_file_when_a_write_fails(tmp_path, monkeypatch):
    def failing(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(gs.os, "replace", failing)
    with pytest.raises(OSError):
        write_outputs(sample_grade_result(), tmp_path)
    assert list(tmp_path.iterdir()) == []
