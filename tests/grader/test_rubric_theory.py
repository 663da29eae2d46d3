"""Problems 1-4 graded through the real pipeline: wrong answers lose points on the right item with a
message that says why; right answers written in other forms keep the points."""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.grade import bundled_reference
from tests.conftest import item

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
REFERENCE_ANSWERS = (bundled_reference() / "answers.toml").read_text()
BPTT = (CORPUS / "bptt_student.py").read_text()


def _submission(tmp_path: Path, answers: str = REFERENCE_ANSWERS, source: str = BPTT) -> Path:
    (tmp_path / "answers.toml").write_text(answers)
    (tmp_path / "submission.py").write_text(source)
    return tmp_path


def _replace_answer(key: str, value: str) -> str:
    lines = [f"{key} = {value}" if ln.startswith(f"{key} = ") else ln for ln in REFERENCE_ANSWERS.splitlines()]
    assert any(ln.startswith(f"{key} = {value}") for ln in lines)
    return "\n".join(lines) + "\n"


BPTT_DEFECTS = {  # name -> (edit, item losing points, words of the feedback)
    "recursion_missing": (("dh_next = Whh.T @ draw", "dh_next = 0 * draw"), "1.2", "recursion through time"),
    "one_minus_h": (("draw = (1 - hs[t] ** 2) * dh", "draw = (1 - hs[t]) * dh"), "1.2", "(1 - h)"),
    "sign_error": (("do[ys[t]] -= 1", "do[ys[t]] -= 1\n        do = -do"), "1.1", "sign"),
}


@pytest.mark.parametrize("name", BPTT_DEFECTS)
def test_wrong_bptt_loses_points_with_a_diagnosis(name, tmp_path, grade_folder):
    (old, new), number, words = BPTT_DEFECTS[name]
    assert BPTT.count(old) == 1
    result = grade_folder(_submission(tmp_path, source=BPTT.replace(old, new)), "1")
    target = item(result, number)
    assert target.score < target.max_score
    assert words.lower() in target.feedback.lower(), target.feedback


def test_recursion_missing_keeps_the_output_layer_points(tmp_path, grade_folder):
    old, new = BPTT_DEFECTS["recursion_missing"][0]
    result = grade_folder(_submission(tmp_path, source=BPTT.replace(old, new)), "1")
    assert item(result, "1.1").score == item(result, "1.1").max_score


def test_student_style_bptt_keeps_every_point(tmp_path, grade_folder):
    result = grade_folder(_submission(tmp_path), "1,2,3,4")
    lost = [f"{i.number}: {i.feedback}" for i in result.auto_items if i.score != i.max_score]
    assert not lost, lost


WRONG_ANSWERS = {  # (key, TOML value) -> (item, words of the feedback)
    ("G_3", '"F(F(F(x1, h0), x2), x3)"'): ("2.1", "swapped"),
    ("sync_stages", '["fc6", "fc7", "fc8"]'): ("3.1", "conv3"),
    ("sync_stages", '["conv2", "conv3", "fc6", "fc7", "fc8"]'): ("3.1", "conv2"),
    ("parameters", '"d*n + (L - 1)*n**2"'): ("4.1", "output"),
    ("sgd_multiplications", '"L*n**2"'): ("4.2", "grows too slowly in d"),
    ("path_multiplications", '"d*n**3 + L*n**2 + n*c"'): ("4.3", "too slowly"),
}


@pytest.mark.parametrize("key,value", list(WRONG_ANSWERS))
def test_wrong_answer_loses_points_on_its_item(key, value, tmp_path, grade_folder):
    number, words = WRONG_ANSWERS[(key, value)]
    result = grade_folder(_submission(tmp_path, _replace_answer(key, value)), "2.1,3.1,4")
    target = item(result, number)
    assert target.score < target.max_score
    assert words.lower() in target.feedback.lower(), target.feedback
    others = [i for i in result.auto_items if i.number != number]
    assert all(i.score == i.max_score for i in others), [(i.number, i.feedback) for i in others]


RIGHT_FORMS = {
    ("G_3", '"F_theta(F_theta(F_theta(h_0, x_1), x_2), x_3)"'): "2.1",
    ("sync_stages", '["FC8", "fc7", " conv3", "fc6"]'): "3.1",
    ("parameters", '"(d + 1)*n + (L - 1)*(n + 1)*n + (n + 1)*c"'): "4.1",
    ("parameters", '"d*n + (L-1)*n^2 + n*c"'): "4.1",
    ("sgd_multiplications", '"O(d*n + L*n^2 + n*c)"'): "4.2",
    ("path_multiplications", '"O(L*c*d*n^L)"'): "4.3",
}


@pytest.mark.parametrize("key,value", list(RIGHT_FORMS))
def test_equivalent_right_answer_keeps_the_points(key, value, tmp_path, grade_folder):
    number = RIGHT_FORMS[(key, value)]
    result = grade_folder(_submission(tmp_path, _replace_answer(key, value)), number)
    assert item(result, number).score == item(result, number).max_score, item(result, number).feedback


def test_invalid_toml_scores_zero_with_the_parse_error_and_spares_the_code_items(tmp_path, grade_folder):
    result = grade_folder(_submission(tmp_path, answers="[problem4\nparameters = 'd'"), "1,4.1")
    assert item(result, "4.1").score == 0
    assert "not valid TOML" in item(result, "4.1").feedback
    assert item(result, "1.1").score == item(result, "1.1").max_score


def test_unparseable_answer_quotes_the_text(tmp_path, grade_folder):
    result = grade_folder(_submission(tmp_path, _replace_answer("parameters", '"d*n +* L"')), "4.1")
    assert item(result, "4.1").score == 0
    assert "d*n +* L" in item(result, "4.1").feedback


def test_free_text_answers_reach_the_manual_items(tmp_path, grade_folder):
    result = grade_folder(_submission(tmp_path), "2.2,5.1.4,5.2.3")
    assert "Parameter sharing across time" in item(result, "2.2").student_text
    assert item(result, "5.2.3").status == "pending" and item(result, "5.2.3").score is None
