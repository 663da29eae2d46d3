"""`gradebook.csv`: one row per student, the roster's own extra columns (name, email, SIS id, ...), the score of
every graded item, the automatic, hand-graded and final totals, the late penalty, status, graded commit and a
message saying why a student failed to load, timed out or errored. The first row after the header is Canvas's
"Points Possible" convention: what each numeric column is out of (bonus items count on top of the total)."""
from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

from grader.batch.records import StudentRecord, points_text
from grader.batch.roster import RosterEntry
from grader.rubric.items import RUBRIC

GRADEBOOK_FILE = "gradebook.csv"
POINTS_POSSIBLE = "Points Possible"  # not a valid student id (it has a space), so it never names a student
TOTALS = ("automatic", "by_hand", "pending_manual", "late_days", "late_penalty", "total")
TRAILER = ("status", "graded_commit", "message", "late_note", "seconds", "reused_runs", "grader_version")


def extra_names(entries: Sequence[RosterEntry]) -> list[str]:
    """The roster's extra columns as gradebook headers; one that clashes with a gradebook column is prefixed."""
    ours = {"student_id", *(n.lower() for n in RUBRIC.by_number), *TOTALS, *TRAILER}
    names = [k for k, _ in entries[0].extra] if entries else []
    return [f"roster {k}" if k.strip().lower() in ours else k for k in names]


def gradebook_columns(selected: tuple[str, ...], entries: Sequence[RosterEntry] = ()) -> list[str]:
    return ["student_id", *extra_names(entries), *selected, *TOTALS, *TRAILER]


def possible_points(selected: tuple[str, ...]) -> dict[str, float]:
    """Points possible per item and per total column (bonus items are out of their own points)."""
    items = [RUBRIC.by_number[n] for n in selected]
    regular = [i for i in items if not i.bonus]
    return {**{i.number: float(i.points) for i in items},
            "automatic": float(sum(i.points for i in regular if not i.manual)),
            "by_hand": float(sum(i.points for i in regular if i.manual)),
            "total": float(sum(i.points for i in regular))}


def automatic_points(record: StudentRecord) -> float | None:
    """Points the grader gave (bonus included), not counting what a human grader decided."""
    if record.total is None:
        return None
    return sum(s.score or 0.0 for s in record.items.values() if not s.hand_graded)


def render_gradebook(records: Iterable[StudentRecord], selected: tuple[str, ...],
                     entries: Sequence[RosterEntry] = ()) -> str:
    """gradebook.csv for these records, in their order; `entries` (the roster) supply the extra columns."""
    extras = {e.student_id: [v for _, v in e.extra] for e in entries}
    n_extra = len(extra_names(entries))
    possible = possible_points(selected)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(gradebook_columns(selected, entries))
    writer.writerow([POINTS_POSSIBLE, *[""] * n_extra, *(points_text(possible[n]) for n in selected),
                     *(points_text(possible.get(c)) for c in TOTALS), *[""] * len(TRAILER)])
    for r in records:
        graded = r.total is not None
        scores = [points_text(r.items[n].score) if n in r.items else "" for n in selected]
        late = bool(r.late_note)  # a late policy was applied
        totals = [points_text(automatic_points(r)), points_text(r.hand_total),
                  points_text(r.pending_manual) if graded else "", str(r.late_days) if late else "",
                  points_text(r.late_penalty) if late else "", points_text(r.total)]
        row_extra = (extras.get(r.student_id) or [])[:n_extra]
        writer.writerow([r.student_id, *row_extra, *[""] * (n_extra - len(row_extra)), *scores, *totals,
                         r.status, r.graded_commit, r.message, r.late_note, f"{r.seconds:.1f}", str(r.reused_runs), r.grader_version])
    return buf.getvalue()
