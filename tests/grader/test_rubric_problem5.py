"""Problem 5 rubric on real submissions: each wrong submission (one defect) loses points on exactly the
item of its defect, with feedback that names it; correct submissions in other styles keep every point."""
from __future__ import annotations

import pytest

from grader.rubric.items import RUBRIC
from tests.conftest import item
from tests.corpus import defects, styles

QUICK_ITEMS = "5.1.1,5.1.2,5.2.1,5.3.1,5.4.1,5.4.2,5.4.3"  # everything of Problem 5 but the training runs
QUICK_DEFECTS = [n for n, d in defects.DEFECTS.items() if not d.training]
TRAINING_DEFECTS = [n for n, d in defects.DEFECTS.items() if d.training]


def _assert_only_item_loses(result, defect: defects.Defect) -> None:
    target = item(result, defect.item)
    assert target.score < target.max_score, f"{defect.item} kept its points: {target.feedback}"
    for phrase in defect.feedback:
        assert phrase.lower() in target.feedback.lower(), f"{phrase!r} not in feedback: {target.feedback}"
    for other in result.auto_items:
        if other.number != defect.item:
            assert other.score == other.max_score, f"{other.number} lost points too: {other.feedback}"


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK_DEFECTS)
def test_wrong_submission_loses_points_on_its_item_only(name, tmp_path, grade_folder, cifar10):
    result = grade_folder(defects.build(name, tmp_path), QUICK_ITEMS, dataset=cifar10)
    _assert_only_item_loses(result, defects.DEFECTS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING_DEFECTS)
def test_training_defect_fails_its_training_item(name, tmp_path, grade_folder, cifar10):
    d = defects.DEFECTS[name]
    result = grade_folder(defects.build(name, tmp_path), d.item, dataset=cifar10)
    _assert_only_item_loses(result, d)


@pytest.mark.slow
@pytest.mark.parametrize("style", styles.STYLES)
def test_correct_submission_keeps_every_point(style, tmp_path, grade_folder, cifar10):
    result = grade_folder(styles.build(style, tmp_path), "5", dataset=cifar10)
    lost = [f"{i.number}: {i.feedback}" for i in result.auto_items if i.score != i.max_score]
    assert not lost, "\n".join(lost)
    assert result.score == sum(RUBRIC.by_number[n].points for n in RUBRIC.by_number if n.startswith("5") and not RUBRIC.by_number[n].manual)


def test_every_problem5_item_has_a_wrong_submission():
    automatic = {n for n, i in RUBRIC.by_number.items() if n.startswith("5") and not i.manual}
    assert automatic <= {d.item for d in defects.DEFECTS.values()}
    assert len(defects.DEFECTS) >= 15
