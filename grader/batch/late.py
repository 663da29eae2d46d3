"""The late policy of `hw2-grade finalize`: a deadline and a penalty per day late, with lateness taken from the
roster (a `late_days` column, or a `submitted_at` time) or, failing that, from the graded commit's date, which
the student sets (git lets anyone write any date): the note says so."""
from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from grader.batch.records import StudentRecord
from grader.batch.roster import RosterEntry

DAY_S = 86_400.0  # seconds in a late day
COMMIT_DATE_CAVEAT = "commit dates are set by the student, so this is not proof of when the work was submitted"


class LatePolicyError(ValueError):
    """A deadline, penalty or roster value that cannot be used; the message names it."""


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime.datetime  # time-zone aware
    percent_per_day: float  # % of the earned points taken off per late day; a started day counts as a day
    late_days_column: str = "late_days"  # roster column holding whole late days (takes precedence)
    submitted_column: str = "submitted_at"  # roster column holding the submission time (ISO 8601)


@dataclass(frozen=True)
class Lateness:
    days: int  # late days (0: on time or unknown)
    source: str  # "roster late_days", "roster submitted_at", "commit date", or "" when unknown
    note: str  # for the report and the gradebook


def parse_time(text: str, what: str, default_tz: datetime.tzinfo | None = None) -> datetime.datetime:
    """An ISO 8601 time; without a time zone it takes `default_tz`, or is refused when there is none."""
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LatePolicyError(f"{what} {text!r} is not an ISO 8601 time such as 2026-03-14T15:30+08:00") from None
    if value.tzinfo is None:
        if default_tz is None:
            raise LatePolicyError(f"{what} {text!r} has no time zone: write it as 2026-03-14T15:30+08:00 (or Z for UTC)")
        value = value.replace(tzinfo=default_tz)
    return value


def make_policy(deadline: str, percent_per_day: float) -> LatePolicy:
    if not 0.0 <= percent_per_day <= 100.0 or math.isnan(percent_per_day):
        raise LatePolicyError(f"--late-penalty must be a percentage between 0 and 100, got {percent_per_day:g}")
    return LatePolicy(deadline=parse_time(deadline, "--deadline"), percent_per_day=percent_per_day)


def _days_after(deadline: datetime.datetime, when: datetime.datetime) -> int:
    return max(0, math.ceil((when - deadline).total_seconds() / DAY_S))


def lateness(policy: LatePolicy, entry: RosterEntry, record: StudentRecord) -> Lateness:
    """How late the student is, by the best evidence there is. Raises LatePolicyError for an unreadable roster value."""
    days_text = entry.column(policy.late_days_column).strip()
    if days_text:
        try:
            days = int(days_text)
        except ValueError:
            days = -1
        if days < 0:
            raise LatePolicyError(f"roster column {policy.late_days_column!r} of {entry.student_id!r} must be a whole "
                                  f"number of days >= 0, got {days_text!r}")
        return Lateness(days, f"roster {policy.late_days_column}", f"{days} day{'s' if days != 1 else ''} late "
                                                                   f"(roster column {policy.late_days_column})")
    submitted = entry.column(policy.submitted_column).strip()
    if submitted:
        when = parse_time(submitted, f"roster column {policy.submitted_column!r} of {entry.student_id!r}",
                          policy.deadline.tzinfo)
        days = _days_after(policy.deadline, when)
        return Lateness(days, f"roster {policy.submitted_column}",
                        f"submitted {when.isoformat()} (roster column {policy.submitted_column}): {_late_text(days)}")
    if record.commit_time:
        when = parse_time(record.commit_time, "commit date", policy.deadline.tzinfo)
        days = _days_after(policy.deadline, when)
        return Lateness(days, "commit date", f"graded commit {record.graded_commit[:12]} dated {when.isoformat()}: "
                                             f"{_late_text(days)} ({COMMIT_DATE_CAVEAT})")
    return Lateness(0, "", "no submission time known (no roster column, no git commit): no late penalty")


def _late_text(days: int) -> str:
    return "on time" if days == 0 else f"{days} day{'s' if days != 1 else ''} late"


def penalty(policy: LatePolicy, late: Lateness, earned: float) -> float:
    """Points taken off `earned` (bonus included) for `late.days` late days, at most all of them."""
    return round(min(1.0, late.days * policy.percent_per_day / 100.0) * max(earned, 0.0), 4)


def describe(policy: LatePolicy, late: Lateness, points: float) -> str:
    """The note shown in the report and the gradebook."""
    rule = f"deadline {policy.deadline.isoformat()}, {policy.percent_per_day:g}% of the earned points per day late"
    taken = f"{points:g} points taken off" if points else "no points taken off"
    return f"{late.note}; {taken} ({rule})."
