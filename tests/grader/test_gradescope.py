"""Gradescope's results.json and the files written by write_outputs."""
from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

import grader.results.write as gs
from grader.results.gradescope import GradescopeOptions, render_gradescope
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


# ----- options Gradescope users expect (GradescopeOptions), checked against the documented schema ---------------
SCHEMA = json.loads((Path(__file__).parent / "tools" / "gradescope_results.schema.json").read_text())


def valid(data: dict) -> dict:
    jsonschema.validate(data, SCHEMA)
    return data


def test_summary_stands_alone_with_reasons_and_what_is_pending():
    out = valid(render_gradescope(sample_grade_result()))["output"]
    assert "report.html" not in out  # Gradescope shows no other page
    assert out.startswith("Score: 70.0 / 85 points + 4.0 / 4 bonus (automatic items).")
    assert "- 4.2 SGD multiplications: 0 / 5. Expected O(dn + (L-1)n^2 + nc) multiplications" in out
    assert "- 1.2 BPTT recurrent gradients: 5 / 10. dL/dW_hh is missing the contribution" in out
    assert "Still pending (15 points, not in the score yet):\n- 2.2 two reasons (10 points): graded by hand" in out


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_markdown_and_html_output_escape_student_text(fmt):
    data = valid(render_gradescope(sample_grade_result(), GradescopeOptions(output_format=fmt)))
    assert data["output_format"] == data["test_output_format"] == fmt
    test = next(t for t in data["tests"] if t["number"] == "5.2.2")
    assert test["output_format"] == fmt and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in test["output"]
    assert "<script>" not in json.dumps(data)
    assert ("**Score: 70.0 / 85" if fmt == "md" else "<p><strong>Score: 70.0 / 85") in data["output"]


def test_item_visibility_hides_the_training_items_until_after_the_due_date():
    options = GradescopeOptions(item_visibility=(("5.1.3", "after_due_date"), ("5.3", "hidden")))
    tests = {t["number"]: t["visibility"] for t in valid(render_gradescope(sample_grade_result(), options))["tests"]}
    assert (tests["5.1.3"], tests["5.3.1"], tests["5.3.2"], tests["5.1.2"]) == ("after_due_date", "hidden", "hidden", "visible")
    with pytest.raises(ValueError, match="visibility 'soon'"):
        GradescopeOptions(item_visibility=(("5.1.3", "soon"),))


def test_leaderboard_is_off_unless_asked_for():
    assert "leaderboard" not in render_gradescope(sample_grade_result())
    board = valid(render_gradescope(sample_grade_result(), GradescopeOptions(leaderboard=True)))["leaderboard"]
    assert board == [{"name": "Score", "value": 74.0}, {"name": "baseline Net", "value": 61.2},
                     {"name": "Kaiming (He) init", "value": 54.1}, {"name": "BatchNorm", "value": 64.3}]


def test_items_graded_by_hand_are_listed_with_the_graders_comment():
    items = [dataclasses.replace(i, score=7.0, status="partial", hand_graded=True, comment="only one reason")
             if i.number == "2.2" else i for i in sample_grade_result().items]
    data = valid(render_gradescope(sample_grade_result(items=items)))
    test = next(t for t in data["tests"] if t["number"] == "2.2")
    assert (test["score"], test["max_score"]) == (7.0, 10.0) and test["output"].endswith("Grader's comment: only one reason")
    assert data["score"] == pytest.approx(81.0) and "(74 automatic, 7 graded by hand)" in data["output"]
