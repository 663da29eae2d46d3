"""`hw2-grade finalize DIR --manual manual.csv`: merge the human grader's scores (manual items, and automatic
items under review) into every graded student's results.json, report and badge, apply the late policy, and
write the final gradebook, the LMS exports and the class pages again.

Everything is validated and rendered before the first file is written: a bad CSV row or roster value stops
the run with one line per problem and leaves DIR as it was. The grader's own result of each student
(report-data.json) is never changed, so running finalize again with an edited CSV is a regrade from the same
starting point; the report lists the items whose hand-given score or comment changed since the last run."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from grader.batch.exports import EXPORTS_DIR, Export, all_exports
from grader.batch.gradebook import GRADEBOOK_FILE, possible_points, render_gradebook
from grader.batch.late import LatePolicy, LatePolicyError, describe, lateness, penalty
from grader.batch.manifest import Manifest, read_manifest
from grader.batch.manualpage import load_results
from grader.batch.manualcsv import Gradable, ManualCsvError, ManualScore, read_manual_csv
from grader.batch.classpage import write_class_pages
from grader.batch.records import GRADE_FILE, StudentRecord, has_scores, load_record, now, scores_of
from grader.results.model import GradeResult, review_note
from grader.results.store import RESULT_FILE
from grader.results.write import render_outputs, write_atomic, write_files


class FinalizeError(ValueError):
    """Finalize cannot run; the message has one line per problem."""


@dataclass(frozen=True)
class FinalizeConfig:
    out: Path  # the batch's --out folder
    manual: Path | None = None  # manual.csv; None merges nothing (late policy and exports only)
    late: LatePolicy | None = None
    assignment: str = "Homework 2"  # the assignment's name in the LMS exports
    canvas_assignment_id: str = ""  # Canvas's id of the assignment, when it exists already


@dataclass(frozen=True)
class FinalizeSummary:
    finalized: int  # students whose files were written
    hand_scores: int  # scores merged from the CSV
    changed: dict[str, list[str]]  # student id -> what a regrade changed
    exports: tuple[Export, ...]


@dataclass(frozen=True)
class _Student:
    record: StudentRecord
    result: GradeResult  # the grader's own result (report-data.json)


def open_items(result: GradeResult) -> dict[str, float]:
    """The items of a grade a human grader scores: manual ones and automatic ones under review."""
    return {i.number: float(i.max_score) for i in result.items
            if (i.manual and i.status != "skipped") or i.status == "review"}


def merge(result: GradeResult, scores: dict[str, ManualScore]) -> GradeResult:
    """The grade with the hand-given scores (item number -> score) in place of pending and review."""
    items = []
    for it in result.items:
        given = scores.get(it.number)
        if given is None:
            items.append(it)
            continue
        fraction = given.score / it.max_score if it.max_score else 1.0
        feedback = it.feedback
        if it.status == "review" and it.proposed_score is not None:
            feedback = feedback.removeprefix(review_note(it.proposed_score, it.max_score) + " ")
            feedback = f"[scored by hand; as measured it would have earned {it.proposed_score:g}] {feedback}"
        items.append(replace(it, score=round(given.score, 4), hand_graded=True, comment=given.comment, feedback=feedback,
                             status="passed" if fraction >= 1.0 else "partial" if fraction > 0 else "failed"))
    return replace(result, items=items, notes=list(result.notes), regrade_notes=[])


def regrade_changes(previous: StudentRecord, merged: GradeResult) -> list[str]:
    """What changed since the last finalize, item by item (nothing when this is the first)."""
    if previous.hand_total is None:
        return []
    before = {n: s for n, s in previous.items.items() if s.hand_graded}
    after = {i.number: i for i in merged.items if i.hand_graded}
    changes = []
    for number in sorted(set(before) | set(after), key=lambda n: [int(p) if p.isdigit() else 0 for p in n.split(".")]):
        old, new = before.get(number), after.get(number)
        old_text = "pending" if old is None else f"{old.score:g}"
        new_text = "pending" if new is None else f"{new.score:g}"
        if old_text != new_text:
            changes.append(f"{number}: {old_text} -> {new_text}")
        elif old is not None and new is not None and old.comment != new.comment:
            changes.append(f"{number}: comment changed")
    return changes


def _load(manifest: Manifest, out: Path) -> tuple[dict[str, StudentRecord], dict[str, _Student], dict[str, str]]:
    """Every roster student's grade.json (when there is one), the graded students with the grader's own
    result, and why each other student of the roster has nothing to merge into."""
    records = {e.student_id: r for e in manifest.entries if (r := load_record(out / e.student_id)) is not None}
    results = load_results(out, list(records.values()))
    students, not_graded = {}, {}
    for e in manifest.entries:
        record = records.get(e.student_id)
        if record is None or not has_scores(record):
            not_graded[e.student_id] = record.status if record else "not graded yet"
        elif e.student_id not in results:
            not_graded[e.student_id] = f"{record.status}, but without {RESULT_FILE}: grade again with --regrade"
        else:
            students[e.student_id] = _Student(record, results[e.student_id])
    return records, students, not_graded


def finalize(config: FinalizeConfig) -> FinalizeSummary:
    """Merge, apply the late policy, write every file. Raises FinalizeError (nothing written) on bad input."""
    try:
        manifest = read_manifest(config.out)
    except ValueError as e:
        raise FinalizeError(str(e)) from None
    on_disk, students, not_graded = _load(manifest, config.out)
    gradable = Gradable(items={sid: open_items(s.result) for sid, s in students.items()}, not_graded=not_graded)
    try:
        scores = read_manual_csv(config.manual, gradable) if config.manual else {}
    except ManualCsvError as e:
        raise FinalizeError(str(e)) from None

    files: dict[str, dict[str, str]] = {}  # student id -> file name -> content, all rendered before writing
    records: dict[str, StudentRecord] = {}
    changed: dict[str, list[str]] = {}
    problems: list[str] = []
    for entry in manifest.entries:
        student = students.get(entry.student_id)
        if student is None:
            continue
        mine = {item: s for (sid, item), s in scores.items() if sid == entry.student_id}
        merged = merge(student.result, mine)
        late_fields = {}
        if config.late is not None:
            try:
                late = lateness(config.late, entry, student.record)
            except LatePolicyError as e:
                problems.append(str(e))
                continue
            points = penalty(config.late, late, merged.earned)
            merged = replace(merged, late_penalty=points, late_note=describe(config.late, late, points))
            late_fields = {"late_days": late.days, "late_penalty": points, "late_note": merged.late_note}
        merged.regrade_notes = regrade_changes(student.record, merged)
        if merged.regrade_notes:
            changed[entry.student_id] = merged.regrade_notes
        record = replace(student.record, **scores_of(merged), hand_total=round(merged.hand_score, 4),
                         finalized_at=now(), **{"late_days": 0, "late_penalty": 0.0, "late_note": "", **late_fields})
        records[entry.student_id] = record
        files[entry.student_id] = {**render_outputs(merged), GRADE_FILE: record.to_json()}  # grade.json last
    if problems:
        raise FinalizeError("\n".join(problems))

    ordered = [r for e in manifest.entries if (r := records.get(e.student_id) or on_disk.get(e.student_id))]
    possible = possible_points(manifest.selected)["total"]
    exports = all_exports(ordered, manifest.entries, config.assignment, possible, config.canvas_assignment_id)
    gradebook = render_gradebook(ordered, manifest.selected, manifest.entries)

    for sid, student_files in files.items():
        write_files(config.out / sid, student_files)
    write_atomic(config.out / GRADEBOOK_FILE, gradebook)
    (config.out / EXPORTS_DIR).mkdir(exist_ok=True)
    for export in exports:
        if export.text:
            write_atomic(config.out / EXPORTS_DIR / export.file, export.text)
    write_class_pages(config.out, ordered, manifest)
    return FinalizeSummary(finalized=len(files), hand_scores=len(scores), changed=changed, exports=tuple(exports))
