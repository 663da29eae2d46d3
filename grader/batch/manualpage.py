"""`DIR/manual.html`: the page a human grader uses to grade by question. It groups every pending manual item
(2.2, 5.1.4, 5.2.3) and every automatic item under review by item number; for each student it shows the
answer (or, under review, the measurement and what it would earn) with a score box and a comment box. The
page works offline from the file itself: its script keeps the state in the browser's localStorage and exports
manual.csv. Scores already merged by `hw2-grade finalize` are filled in."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
from pathlib import Path
from typing import Sequence

from grader.batch.records import StudentRecord, has_scores
from grader.results.html import FEEDBACK_CHARS, FREE_TEXT_CHARS, clean, template_environment
from grader.results.model import GradeResult
from grader.results.store import RESULT_FILE, StoreError, result_from_json
from grader.rubric.items import RUBRIC

MANUAL_PAGE = "manual.html"
SCRIPT = "manual.js"


def load_results(out: Path, records: Sequence[StudentRecord]) -> dict[str, GradeResult]:
    """The grader's own result (report-data.json) of each graded student that has one."""
    results = {}
    for r in records:
        if not has_scores(r):
            continue
        try:
            results[r.student_id] = result_from_json((out / r.student_id / RESULT_FILE).read_text(encoding="utf-8"))
        except (OSError, StoreError):
            continue
    return results


def manual_tasks(records: Sequence[StudentRecord], results: dict[str, GradeResult]) -> list[dict]:
    """Per item open to hand grading (in rubric order), the students with their answer and merged score."""
    items: dict[str, dict] = {}
    for r in records:
        result = results.get(r.student_id)
        if result is None:
            continue
        for it in result.items:
            kind = "manual" if it.manual and it.status != "skipped" else "review" if it.status == "review" else ""
            if not kind:
                continue
            entry = items.setdefault(it.number, {"number": it.number, "name": clean(it.name, 300), "kind": kind,
                                                 "points": float(it.max_score), "students": []})
            merged = r.items.get(it.number)
            given = merged is not None and merged.hand_graded
            entry["students"].append({
                "id": r.student_id, "report": f"{r.student_id}/report.html",
                "text": clean(it.student_text, FREE_TEXT_CHARS) if kind == "manual" else clean(it.feedback, FEEDBACK_CHARS),
                "proposed": it.proposed_score, "score": merged.score if given else None,
                "comment": merged.comment if given else ""})
    order = list(RUBRIC.by_number)
    return sorted(items.values(), key=lambda e: order.index(e["number"]) if e["number"] in order else len(order))


def script_text() -> str:
    env = template_environment()
    source, _, _ = env.loader.get_source(env, SCRIPT)
    return source


def render_manual_page(out: Path, records: Sequence[StudentRecord], roster_name: str) -> str:
    tasks = manual_tasks(records, load_results(out, records))
    script = script_text()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    data = {"page": hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16], "out": str(out), "items": tasks}
    # no "<", ">" or "&" in the JSON: nothing in it can close the script element or be read as markup
    data_json = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return template_environment().get_template(MANUAL_PAGE).render(
        roster_name=clean(roster_name, 300), out=clean(str(out), 1000), script_hash=f"sha256-{digest}",
        script=script, data_json=data_json, n_items=len(tasks), n_tasks=sum(len(t["students"]) for t in tasks),
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
