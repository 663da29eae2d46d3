"""How late a student is: roster late_days first, then a roster submission time, then the graded commit's date
(with the caveat that the student sets it); and the penalty as a share of the earned points."""
from __future__ import annotations

import pytest

from grader.batch.late import COMMIT_DATE_CAVEAT, LatePolicyError, lateness, make_policy, penalty
from grader.batch.records import StudentRecord
from grader.batch.roster import RosterEntry

POLICY = make_policy("2026-03-14T15:30+08:00", 10)


def entry(**columns: str) -> RosterEntry:
    return RosterEntry("s", "p", "", tuple(columns.items()))


@pytest.mark.parametrize("submitted, days", [
    ("2026-03-14T15:30:00+08:00", 0),  # exactly at the deadline
    ("2026-03-14T15:30:01+08:00", 1),  # a started day counts
    ("2026-03-15T15:30:00+08:00", 1),
    ("2026-03-15T15:30:01+08:00", 2),
    ("2026-03-14T08:00:00Z", 1),  # 16:00 in +08:00: 30 minutes late
    ("2026-03-14T07:00:00Z", 0),
    ("2026-03-14 15:00", 0),  # no zone: the deadline's
])
def test_days_late_from_a_roster_submission_time(submitted, days):
    late = lateness(POLICY, entry(submitted_at=submitted), StudentRecord("s", "graded"))
    assert late.days == days and late.source == "roster submitted_at"


def test_roster_late_days_come_before_a_submission_time_and_the_commit_date():
    late = lateness(POLICY, entry(late_days="3", submitted_at="2026-03-14T00:00Z"),
                    StudentRecord("s", "graded", commit_time="2026-04-01T00:00:00+00:00"))
    assert (late.days, late.source) == (3, "roster late_days")


def test_the_commit_date_is_the_last_resort_and_the_note_says_the_student_sets_it():
    late = lateness(POLICY, entry(), StudentRecord("s", "graded", resolved_commit="f" * 40,
                                                   commit_time="2026-03-16T09:00:00+08:00"))
    assert (late.days, late.source) == (2, "commit date") and COMMIT_DATE_CAVEAT in late.note
    assert lateness(POLICY, entry(), StudentRecord("s", "graded")).days == 0


def test_penalty_is_a_share_of_the_earned_points_and_never_more_than_all():
    late = lateness(POLICY, entry(late_days="2"), StudentRecord("s", "graded"))
    assert penalty(POLICY, late, 80.0) == pytest.approx(16.0)
    very = lateness(POLICY, entry(late_days="15"), StudentRecord("s", "graded"))
    assert penalty(POLICY, very, 80.0) == pytest.approx(80.0)


@pytest.mark.parametrize("deadline, pct, words", [("tomorrow", 10, "not an ISO 8601 time"),
                                                  ("2026-03-14T15:30", 10, "has no time zone"),
                                                  ("2026-03-14T15:30Z", 120, "between 0 and 100")])
def test_bad_policies_are_refused(deadline, pct, words):
    with pytest.raises(LatePolicyError, match=words):
        make_policy(deadline, pct)
