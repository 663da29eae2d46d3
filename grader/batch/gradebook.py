"""`gradebook.csv`: one row per student, the scores of the automatic items, totals, status and seconds."""
from __future__ import annotations

import csv
import io
from typing import Iterable

from grader.batch.records import StudentRecord, points_text
from grader.rubric.items import RUBRIC

GRADEBOOK_FILE = "gradebook.csv"


def gradebook_columns(selected: tuple[str, ...]) -> list[str]:
    items = [n for n in selected if not RUBRIC.by_number[n].manual]
    return ["student_id", *items, "total", "pending_manual", "status", "seconds", "grader_version"]


def render_gradebook(records: Iterable[StudentRecord], selected: tuple[str, ...]) -> str:
    """gradebook.csv: one row per student; scores of the automatic items, the automatic total (bonus
    included), the manual points still to grade, the status, seconds and grader version."""
    columns = gradebook_columns(selected)
    items = columns[1:-5]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in records:
        scores = [points_text(r.items[n].score) if n in r.items else "" for n in items]
        writer.writerow([r.student_id, *scores, points_text(r.total),
                         points_text(r.pending_manual) if r.total is not None else "",
                         r.status, f"{r.seconds:.1f}", r.grader_version])
    return buf.getvalue()
