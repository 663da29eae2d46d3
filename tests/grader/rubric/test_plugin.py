"""grader.rubric.plugin runs the judges as pytest tests: only the rubric's own plugins (no conftest.py from a
folder above the rubric, no entry-point plugins), every judge under the grader's own limits, and what the
grader could not check is its error, not the student's 0."""
from __future__ import annotations

import os
import time

from checks.verdict import Verdict
from grader.batch.worker import status_of
from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric import plugin
from grader.rubric.items import RUBRIC, Item, Rubric
from tests.conftest import item
from tests.corpus import attacks

HERE = __name__


def autoload_state(ctx) -> Verdict:
    """A judge that reports whether pytest may load plugins from entry points while it runs."""
    return Verdict(1.0, f"PYTEST_DISABLE_PLUGIN_AUTOLOAD={os.environ.get('PYTEST_DISABLE_PLUGIN_AUTOLOAD')}")


def spin(ctx) -> Verdict:
    """A judge that never ends (pure Python, like sympy on an answer nobody bounded)."""
    while True:
        pass


def rubric_with(*rows: Item) -> Rubric:
    return Rubric(RUBRIC.items + rows)


def test_no_conftest_above_the_rubric_and_no_entry_point_plugins_run(tmp_path, monkeypatch, calibration, isolation):
    """A conftest.py in any folder above the installed rubric (writable /tmp, say) would run in the grading
    process, with every score in reach: confcutdir stops the search at the rubric's folder."""
    sentinel = tmp_path / "conftest-ran"
    rubric_dir = tmp_path / "outer" / "site" / "rubric"
    rubric_dir.mkdir(parents=True)
    (rubric_dir / "test_items.py").write_text(plugin.TEST_MODULE.read_text())
    for folder in (tmp_path, tmp_path / "outer", tmp_path / "outer" / "site"):
        (folder / "conftest.py").write_text(f"open({str(sentinel)!r}, 'a').write({str(folder)!r} + '\\n')\n")
    monkeypatch.setattr(plugin, "TEST_MODULE", rubric_dir / "test_items.py")
    before = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    rubric = rubric_with(Item("6.1", "plugins (throwaway)", 1, judge=f"{HERE}:autoload_state"))
    result = grade(tmp_path, GradeOptions(selected=("6.1",), verify_reference=False), calibration=calibration,
                   isolation=isolation, rubric=rubric)
    assert not sentinel.exists(), f"conftest.py above the rubric ran: {sentinel.read_text()}"
    assert item(result, "6.1").feedback == "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1"
    assert os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") == before  # only while the rubric runs
    assert not list(rubric_dir.glob("__pycache__/*")), "bytecode was written next to the rubric"


def test_a_judge_past_the_item_limit_is_the_graders_error(tmp_path, calibration, isolation):
    rubric = rubric_with(Item("6.1", "endless (throwaway)", 2, judge=f"{HERE}:spin"))
    start = time.monotonic()
    result = grade(tmp_path, GradeOptions(selected=("6.1", "4.1"), verify_reference=False, item_limit_s=1.0),
                   calibration=calibration, isolation=isolation, rubric=rubric)
    assert time.monotonic() - start < 30
    stuck = item(result, "6.1")
    assert stuck.status == "error" and stuck.score is None
    assert "ran past the grader's limit of 1 s" in stuck.feedback
    assert result.incomplete and [i.number for i in result.errors] == ["6.1"]
    assert result.max_score == 5 and result.score == 0  # 4.1 counts (0: no answers.toml); 6.1 counts nowhere
    status, message = status_of(result)
    assert status == "error" and "6.1" in message and "rerun" in message


def test_past_the_submission_limit_the_rest_is_not_checked_and_the_student_timed_out(tmp_path, calibration,
                                                                                       isolation):
    """The grader's own limit for one submission: a child still running there is stopped, the items it owed
    are the grader's errors (not the student's 0), and a batch records the student as timed out."""
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "submission.py").write_text(attacks.BASE.read_text().replace(
        attacks.NET_FORWARD, "        import time\n        time.sleep(600)\n\n\nclass NetBN"))
    start = time.monotonic()
    result = grade(folder, GradeOptions(selected=("5.1.1", "5.1.2"), verify_reference=False, submission_limit_s=12),
                   calibration=calibration, isolation=isolation)
    assert time.monotonic() - start < 40
    for number in ("5.1.1", "5.1.2"):
        it = item(result, number)
        assert it.status == "error" and "time limit for one submission" in it.feedback, it.feedback
    assert result.deadline_hit and result.score == 0 and result.max_score == 0
    assert status_of(result)[0] == "timed out"


def test_the_student_edition_scores_only_what_it_verifies(tmp_path, calibration, isolation):
    """A format check (2.1's public judge) is not a score: "format OK, scored by the instructor", in no total
    and not in the badge's points, but among its pending ones."""
    from grader.results.badge import render_badge
    from grader.results.write import badge_state

    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "submission.py").write_text(attacks.BASE.read_text())
    (folder / "answers.toml").write_text('[problem2]\nG_3 = "F(F(F(h0, x2), x1), x3)"\n')  # parses; wrong
    result = grade(folder, GradeOptions(selected=("2.1", "5.1.2"), verify_reference=False, edition="student"),
                   calibration=calibration, isolation=isolation)
    g3 = item(result, "2.1")
    assert g3.status == "format" and g3.score is None and g3.feedback.startswith(plugin.FORMAT_OK)
    assert item(result, "5.1.2").score == 2
    assert (result.score, result.max_score, result.pending_manual) == (2, 2, 10)
    assert badge_state(result) == ""
    assert "hw2 grade: 2/2, 10 pending" in render_badge(result.regular_score, result.max_score,
                                                         pending=result.pending_manual)


def test_a_submission_that_does_not_import_is_failed_to_load_everywhere(tmp_path, calibration, isolation):
    """Report banner, badge and batch status say "failed to load", never a green graded 0; the answers.toml
    items are still scored."""
    from grader.results.html import render_html
    from grader.results.write import badge_state

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "submission.py").write_text("import not_a_module\n" + attacks.BASE.read_text())
    (folder / "answers.toml").write_text('[problem4]\nparameters = "d*n + (L-1)*n**2 + n*c"\n')
    result = grade(folder, GradeOptions(selected=("4.1", "5.1.2"), verify_reference=False), calibration=calibration,
                   isolation=isolation)
    assert "not_a_module" in result.load_problem and item(result, "4.1").score == 5
    assert "Failed to load" in render_html(result) and "not_a_module" in render_html(result)
    assert badge_state(result) == "failed to load"
    status, message = status_of(result)
    assert status == "failed to load" and "not_a_module" in message

