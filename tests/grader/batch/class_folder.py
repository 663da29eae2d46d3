"""A batch's output folder written by the real writers (class.json, each student's report-data.json, results,
report, badge and grade.json), without grading: for tests of what happens after a batch (finalize, the
manual-grading page, the class page). Students' results are variations of sample_grade_result()."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from grader.batch.manifest import write_manifest
from grader.batch.records import StudentRecord, scores_of
from grader.batch.roster import RosterEntry
from grader.results.model import GradeResult, review_note
from grader.results.store import RESULT_FILE, result_to_json
from grader.results.write import write_atomic, write_outputs
from grader.rubric.items import RUBRIC
from tests.grader.sample_results import sample_grade_result

SELECTED = tuple(RUBRIC.by_number)
EXTRA = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section", "email", "late_days")


def under_review(result: GradeResult, number: str, would_earn: float) -> GradeResult:
    """The result with `number` sent for review, as rubric.plugin does for a network it could not train itself."""
    items = [dataclasses.replace(i, score=0.0, status="review", proposed_score=would_earn,
                                 feedback=f"{review_note(would_earn, i.max_score)} Net() reached 58.2% test accuracy "
                                          f"(measured by the submission's own code).")
             if i.number == number else i for i in result.items]
    return dataclasses.replace(result, items=items)


def write_class(out: Path, students: dict[str, GradeResult | str], extra: dict[str, tuple[str, ...]] | None = None,
                commit_time: dict[str, str] | None = None) -> list[RosterEntry]:
    """DIR as a batch leaves it: students map to their result, or to a status string (no grade)."""
    out.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    entries = [RosterEntry(sid, f"subs/{sid}", "", tuple(zip(EXTRA, extra.get(sid, ("",) * len(EXTRA)))))
               for sid in students]
    write_manifest(out, out / "roster.csv", entries, SELECTED, 0)
    for sid, result in students.items():
        folder = out / sid
        folder.mkdir(exist_ok=True)
        if isinstance(result, str):
            record = StudentRecord(sid, result, message=f"{sid} could not be graded", selected=SELECTED)
        else:
            result = dataclasses.replace(result, submission=sid)
            write_outputs(result, folder)
            write_atomic(folder / RESULT_FILE, result_to_json(result))
            record = StudentRecord(sid, "graded", selected=SELECTED, resolved_commit="ab" * 20,
                                   commit_time=(commit_time or {}).get(sid, ""), **scores_of(result))
        write_atomic(folder / "grade.json", record.to_json())
    return entries


def sample_class(out: Path) -> list[RosterEntry]:
    """Three graded students (one with 5.1.3 under review) and one who failed to load, with Canvas columns."""
    base = sample_grade_result()
    return write_class(out, {"alice": base, "bob": under_review(base, "5.1.3", 3.0), "carl": base,
                             "dora": "failed to load"},
                       extra={"alice": ("Lee, Alice", "101", "s101", "alee", "A", "alice@uni.edu", ""),
                              "bob": ("Ng, Bob", "102", "s102", "bng", "A", "bob@uni.edu", "2"),
                              "carl": ("Wu, Carl", "103", "s103", "cwu", "B", "carl@uni.edu", "0"),
                              "dora": ("Ho, Dora", "104", "s104", "dho", "B", "dora@uni.edu", "")})
