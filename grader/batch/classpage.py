"""`index.html`, the class summary: score histogram (PNG), pass rate per item, class insight (per-item score
histograms, the most frequent diagnoses with the students concerned, similar submissions), and every student
with a link to the report, rendered from templates/index.html with the report's jinja environment (autoescape
on); and `write_class_pages`, which writes it with the manual-grading page."""
from __future__ import annotations

import datetime
import io
import math
import statistics
from collections import Counter
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from grader import __version__
from grader.batch.insight import class_insight
from grader.batch.manifest import Manifest
from grader.batch.manualpage import MANUAL_PAGE, render_manual_page
from grader.batch.records import DONE_STATUSES, MESSAGE_CHARS, STATUSES, StudentRecord, points_text
from grader.batch.similarity import read_similarity
from grader.results.plots import png_data_uri
from grader.results.html import clean, template_environment
from grader.results.write import REFERENCE_PAGE, write_atomic
from grader.rubric.items import RUBRIC

INDEX_FILE = "index.html"
_TONES = {"graded": "ok", "timed out": "warn", "failed to load": "bad", "worker died": "bad", "error": "bad"}


def histogram_png(totals: list[float], max_score: float) -> bytes:
    """PNG of the automatic totals' histogram (one bar per point when the range is small)."""
    top = max([max_score, *totals, 1.0])
    # one bar per point, centred on it, while that stays readable (full marks get a bar of their own)
    bins = np.arange(-0.5, math.ceil(top) + 1.0) if top <= 40 else np.linspace(0.0, top, 26)
    fig = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.hist(totals, bins=bins, color="#1f5fbf", edgecolor="white")
    ax.set_xlabel("points")
    ax.set_ylabel("students")
    ax.set_xlim(bins[0], bins[-1])
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def render_index(records: list[StudentRecord], roster: Path, out: Path, selected: tuple[str, ...], seed: int,
                 n_students: int) -> str:
    """index.html: the class summary (histogram, per-item pass rates and insight, similar submissions, students
    with links to their reports, and to the instructor's reference page when the batch wrote one)."""
    reference_page = REFERENCE_PAGE if (out / REFERENCE_PAGE).is_file() else ""
    graded = [r for r in records if r.status in DONE_STATUSES and r.total is not None]
    totals = [float(r.total) for r in graded]
    max_total = max([r.max_score for r in graded], default=sum(RUBRIC.by_number[n].points for n in selected
                                                               if not RUBRIC.by_number[n].manual and not RUBRIC.by_number[n].bonus))
    items = []
    for n in selected:
        spec = RUBRIC.by_number[n]
        scored = [r.items[n] for r in graded if n in r.items and r.items[n].score is not None]
        passed = sum(1 for s in scored if s.score >= s.max_score - 1e-9)
        rate = passed / len(scored) if scored else None
        items.append({"number": n, "name": spec.name, "points": points_text(spec.points), "manual": spec.manual,
                      "passed": f"{passed} / {len(scored)}" if scored else "–",
                      "mean": points_text(statistics.fmean(s.score for s in scored)) if scored else "–",
                      "rate": f"{100 * rate:.0f}%" if rate is not None else None,
                      "bar_px": int(round(120 * rate)) if rate is not None else 0})
    counts = Counter(r.status for r in records)
    finalized = any(r.hand_total is not None for r in graded)  # `hw2-grade finalize` has merged scores
    students = []
    for r in records:
        report = out / r.student_id / "report.html"
        students.append({"id": r.student_id, "status": r.status, "tone": _TONES.get(r.status, "bad"),
                         "total": f"{points_text(r.total)} / {points_text(r.max_score)}" if r.total is not None else "–",
                         "pending": points_text(r.pending_manual) if r.total is not None else "–",
                         "seconds": f"{r.seconds:.1f}",
                         "report": f"{r.student_id}/report.html" if report.is_file() else "",
                         "message": clean(r.message, MESSAGE_CHARS)})
    return template_environment().get_template(INDEX_FILE).render(
        roster_name=clean(roster.name, 300), roster=clean(str(roster), 1000), items_text=", ".join(selected), seed=seed,
        version=__version__, n_students=n_students, n_graded=len(graded), n_problems=n_students - len(graded),
        mean_total=points_text(statistics.fmean(totals)) if totals else "–",
        median_total=points_text(statistics.median(totals)) if totals else "–", max_total=points_text(max_total),
        status_counts=[{"status": s, "count": counts[s], "tone": _TONES[s]} for s in STATUSES if counts[s]],
        histogram_uri=png_data_uri(histogram_png(totals, max_total)) if totals else "", histogram_width=800,
        items=items, students=students, reference_page=reference_page, insight=_insight(records, selected, out), similar=_similar(out),
        score_kind="score (with the points given by hand)" if finalized else "automatic score",
        histogram_caption="Points (bonus included, with those given by hand, less late penalties)" if finalized
        else "Automatic points (bonus included, manual items excluded)",
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def _insight(records: list[StudentRecord], selected: tuple[str, ...], out: Path) -> list[dict]:
    """Per item: histogram bars (height in px) and the most frequent diagnoses, each student linked to the
    report's problem section."""
    shown = []
    for it in class_insight(records, selected):
        top = max([b.count for b in it.bars], default=0)
        problem = it.number.split(".")[0]
        shown.append({
            "number": it.number, "name": it.name, "points": points_text(it.points), "scored": it.scored,
            "pending": it.pending,
            "bars": [{"label": b.label, "count": b.count, "px": int(round(60 * b.count / top)) if top else 0} for b in it.bars],
            "diagnoses": [{"label": clean(d.label, 300), "count": d.count, "code": d.code,
                           "students": [{"id": sid, "href": f"{sid}/report.html#problem-{problem}"
                                         if (out / sid / "report.html").is_file() else ""} for sid in d.students]}
                          for d in it.diagnoses]})
    return shown


def _similar(out: Path) -> dict:
    data = read_similarity(out)
    pairs = [{"a": clean(p.get("a"), 100), "b": clean(p.get("b"), 100), "page": clean(p.get("page"), 300),
              "share": f"{100 * max(float(p.get('share_a', 0)), float(p.get('share_b', 0))):.0f}%"}
             for p in data.get("pairs", []) if isinstance(p, dict)]
    return {"ran": bool(data), "pairs": pairs, "compared": data.get("compared", 0),
            "threshold": f"{100 * float(data.get('threshold', 0)):.0f}%"}


def write_class_pages(out: Path, records: list[StudentRecord], manifest: Manifest) -> None:
    """index.html and manual.html for these records (the roster's students with a grade.json, in order)."""
    roster = Path(manifest.roster)
    write_atomic(out / INDEX_FILE, render_index(records, roster, out, manifest.selected, manifest.seed,
                                                len(manifest.entries)))
    write_atomic(out / MANUAL_PAGE, render_manual_page(out, records, roster.name))
