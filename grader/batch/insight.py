"""Class insight for the class page: per item, how the scores are spread (a histogram of the graded students'
scores) and which known defects were diagnosed most often, with the students concerned: what to go over in
the next lecture. Pure functions over the students' records (grade.json)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from checks.diagnoses import label
from grader.batch.records import DONE_STATUSES, StudentRecord, points_text
from grader.rubric.items import RUBRIC

MAX_BARS = 11  # distinct score values shown as bars of their own; more are grouped into equal-width bins
TOP_DIAGNOSES = 6  # per item


@dataclass(frozen=True)
class Bar:
    label: str  # "0", "1.5", or "2-4" for a bin
    count: int


@dataclass(frozen=True)
class Diagnosis:
    code: str
    label: str
    students: tuple[str, ...]  # in roster order

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass(frozen=True)
class ItemInsight:
    number: str
    name: str
    points: float
    bars: tuple[Bar, ...]  # of the students with a score on this item
    scored: int  # students with a score
    pending: int  # graded students whose score on this item is still pending (manual, review)
    diagnoses: tuple[Diagnosis, ...]  # most frequent first


def histogram(scores: Sequence[float], points: float) -> tuple[Bar, ...]:
    """One bar per distinct score while there are few (every value a student got, 0 and full marks always
    shown), else equal-width bins over [0, points]."""
    values = sorted({round(s, 2) for s in scores} | {0.0, round(points, 2)})
    if len(values) <= MAX_BARS:
        counts = Counter(round(s, 2) for s in scores)
        return tuple(Bar(points_text(v), counts[v]) for v in values)
    edges = [points * k / (MAX_BARS - 1) for k in range(MAX_BARS)]
    counts = Counter(min(int((s / points) * (MAX_BARS - 1)), MAX_BARS - 2) if points else 0 for s in scores)
    return tuple(Bar(f"{points_text(edges[k])}-{points_text(edges[k + 1])}", counts[k]) for k in range(MAX_BARS - 1))


def class_insight(records: Sequence[StudentRecord], selected: tuple[str, ...]) -> list[ItemInsight]:
    graded = [r for r in records if r.status in DONE_STATUSES and r.total is not None]
    out = []
    for number in selected:
        spec = RUBRIC.by_number[number]
        scored = [r.items[number].score for r in graded if number in r.items and r.items[number].score is not None
                  and r.items[number].status != "review"]
        pending = sum(1 for r in graded if number in r.items and (r.items[number].score is None
                                                                   or r.items[number].status == "review"))
        found: dict[str, list[str]] = {}
        for r in graded:
            for code in r.items[number].diagnoses if number in r.items else ():
                found.setdefault(code, []).append(r.student_id)
        top = sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_DIAGNOSES]
        out.append(ItemInsight(number=number, name=spec.name, points=float(spec.points),
                               bars=histogram(scored, float(spec.points)) if scored else (), scored=len(scored),
                               pending=pending,
                               diagnoses=tuple(Diagnosis(code, label(code), tuple(ids)) for code, ids in top)))
    return out
