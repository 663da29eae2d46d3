"""The HTML report: one self-contained file (inline CSS, plots as data: URIs, no scripts, no external requests).

`render_html(result)` turns a plain `GradeResult` into a string; writing it is `grader.results.write.write_outputs`.
Every text that can come from a student (names, feedback with exception messages, free-text answers,
environment values) is sanitised (lone surrogates and control characters replaced), length-capped with a
visible "[truncated]" marker, and escaped by jinja2's autoescape.
"""
from __future__ import annotations

import functools
import re
import struct
import sys
from pathlib import Path

import jinja2

from grader.results.model import GradeResult, ItemResult
from grader.results.plots import curves_png, png_data_uri

FREE_TEXT_CHARS = 20_000  # a student's free-text answer
FEEDBACK_CHARS = 10_000  # one item's feedback (may quote exception messages)
DETAIL_CHARS = 4_000  # a proof's detail, a note, the protocol, isolation, limits
SHORT_CHARS = 300  # names, labels, the submission, environment keys
ENV_VALUE_CHARS = 2_000
MAX_ROWS = 500  # environment entries, notes, seeds, proofs shown at most
TRUNCATED = "[truncated]"

PROBLEM_TITLES = {
    "1": "Backpropagation through time",
    "2": "Unrolled recurrent state",
    "3": "Model-parallel CNN: synchronisation",
    "4": "Complexity of a fully connected network",
    "5": "CNN on CIFAR-10",
}
STATUSES = ("passed", "partial", "failed", "pending", "review", "error", "skipped")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: object, limit: int) -> str:
    """Text made safe to embed: a string, valid UTF-8, no control characters but newline and tab, at most
    `limit` characters followed by a visible "[truncated]" marker when cut. (HTML escaping is jinja's job.)"""
    s = "" if text is None else str(text)
    s = s.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> "?"
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _CONTROL.sub("\ufffd", s)
    if len(s) > limit:
        s = f"{s[:limit]}… {TRUNCATED} ({len(s) - limit:,} more characters)"
    return s


def fmt_points(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{round(float(x), 2):g}"


def _status(item: ItemResult) -> str:
    return item.status if item.status in STATUSES else "unknown"


def _problem_key(number: str) -> str:
    head = str(number).split(".", 1)[0].strip()
    return head or "?"


def _sort_key(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _item_row(item: ItemResult) -> dict:
    manual = item.manual
    if item.status == "skipped":
        score = "not run"
    elif manual:
        score = "pending"
    else:
        score = f"{fmt_points(item.score)} / {fmt_points(item.max_score)}"
    return {
        "number": clean(item.number, 40),
        "name": clean(item.name, SHORT_CHARS),
        "score": score,
        "max": fmt_points(item.max_score),
        "status": _status(item),
        "status_text": clean(item.status, 40),
        "feedback": clean(item.feedback, FEEDBACK_CHARS),
        "manual": manual,
        "bonus": item.bonus,
        "student_text": clean(item.student_text, FREE_TEXT_CHARS) if manual else "",
    }


def _problems(result: GradeResult) -> list[dict]:
    groups: dict[str, list[ItemResult]] = {}
    for item in result.items:
        groups.setdefault(_problem_key(item.number), []).append(item)
    problems = []
    for key in sorted(groups, key=_sort_key):
        items = groups[key]
        run = [i for i in items if i.status != "skipped"]
        auto = [i for i in run if not i.manual]
        problems.append({
            "key": clean(key, 40),
            "anchor": "problem-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)[:40],
            "title": f"Problem {clean(key, 40)}" + (f": {PROBLEM_TITLES[key]}" if key in PROBLEM_TITLES else ""),
            "earned": fmt_points(sum(i.score or 0.0 for i in auto if not i.bonus)),
            "available": fmt_points(sum(i.max_score for i in auto if not i.bonus)),
            "bonus_earned": fmt_points(sum(i.score or 0.0 for i in auto if i.bonus)),
            "has_bonus": any(i.bonus for i in auto),
            "pending": fmt_points(sum(i.max_score for i in run if i.manual)),
            "has_pending": any(i.manual for i in run),
            "has_auto": bool(auto),
            "rows": [_item_row(i) for i in items],
        })
    return problems


def png_size(png: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's header; None when the bytes are not a PNG."""
    if len(png) < 24 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", png[16:24])


def _curves_image(result: GradeResult) -> tuple[str | None, str]:
    """(data URI or None, why not)."""
    if not result.curves:
        return None, "Not available: no training run was recorded."
    try:
        return png_data_uri(curves_png(result.curves)), ""
    except Exception as e:  # noqa: BLE001  a broken plot must not cost the report
        return None, clean(f"Not available: the curves could not be drawn ({type(e).__name__}: {e}).", DETAIL_CHARS)


def _filters_image(result: GradeResult) -> tuple[str | None, str, int | None]:
    """(data URI or None, why not, display width in CSS pixels)."""
    png = result.filters_png
    if not png:
        return None, "Not available: no first-layer weights were recorded.", None
    size = png_size(bytes(png))
    if size is None:
        return None, "Not available: the filter image is not a PNG.", None
    return png_data_uri(bytes(png)), "", min(2 * size[0], 960)  # shown at twice its size, pixelated


def _percent(x: float | None) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def _accuracy_rows(result: GradeResult) -> list[dict]:
    rows = []
    for row in result.accuracy_table[:MAX_ROWS]:
        meets = None if row.accuracy is None else row.accuracy >= row.threshold
        rows.append({"label": clean(row.label, SHORT_CHARS),
                     "student": "run failed" if row.accuracy is None else _percent(row.accuracy),
                     "reference": _percent(row.reference_mean), "threshold": _percent(row.threshold),
                     "verdict": "failed" if meets is None else ("passed" if meets else "failed"),
                     "verdict_text": "no result" if meets is None else ("meets pass mark" if meets else "below pass mark")})
    return rows


def _pairs(mapping: dict, value_chars: int) -> list[tuple[str, str]]:
    return [(clean(k, SHORT_CHARS), clean(v, value_chars)) for k, v in list(mapping.items())[:MAX_ROWS]]


def context(result: GradeResult) -> dict:
    """Everything the template shows, already cleaned and formatted."""
    curves_uri, curves_missing = _curves_image(result)
    filters_uri, filters_missing, filters_width = _filters_image(result)
    edition = result.edition if result.edition in ("instructor", "student") else "unknown"
    skipped = [i for i in result.items if i.status == "skipped"]
    return {
        "submission": clean(result.submission, SHORT_CHARS),
        "edition": edition,
        "edition_text": clean(result.edition, 40),
        "regular_earned": f"{result.regular_score:.1f}",
        "max_score": fmt_points(result.max_score),
        "bonus_earned": f"{result.bonus_score:.1f}",
        "bonus_available": fmt_points(result.bonus_max),
        "has_bonus": result.bonus_max > 0,
        "total_with_bonus": f"{result.score:.1f}",
        "pending_manual": fmt_points(result.pending_manual),
        "execution_time": f"{result.execution_time:.0f}",
        "isolation": clean(result.isolation, DETAIL_CHARS) or "not recorded",
        "isolation_weak": "NO bubblewrap" in (result.isolation or ""),
        "limits": clean(result.limits, DETAIL_CHARS) or "not recorded",
        "skipped_count": len(skipped),
        "problems": _problems(result),
        "curves_uri": curves_uri,
        "curves_missing": curves_missing,
        "curve_labels": [clean(c.label, SHORT_CHARS) for c in result.curves[:MAX_ROWS]],
        "filters_uri": filters_uri,
        "filters_missing": filters_missing,
        "filters_width": filters_width,
        "accuracy_rows": _accuracy_rows(result),
        "protocol": clean(result.protocol, DETAIL_CHARS),
        "seeds": _pairs(result.seeds, SHORT_CHARS),
        "environment": _pairs(result.environment, ENV_VALUE_CHARS),
        "notes": [clean(n, DETAIL_CHARS) for n in result.notes[:MAX_ROWS]],
        "proofs": [{"name": clean(p.name, SHORT_CHARS), "passed": bool(p.passed), "detail": clean(p.detail, DETAIL_CHARS)}
                   for p in result.proofs[:MAX_ROWS]],
        "proofs_passed": sum(1 for p in result.proofs if p.passed),
        "depth_profile_uri": png_data_uri(result.depth_profile_png) if result.depth_profile_png else None,
        "proofs_total": len(result.proofs),
    }


def template_dirs() -> list[Path]:
    """The source tree's templates/ first, then the installed copy (pyproject's data-files)."""
    return [Path(__file__).resolve().parents[2] / "templates",
            Path(sys.prefix) / "share" / "hw2-grade" / "templates"]


@functools.lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    """The jinja2 environment of every page the grader writes (autoescaped: student text is escaped)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(p) for p in template_dirs()]), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(result: GradeResult) -> str:
    """The report as one self-contained HTML document."""
    return template_environment().get_template("report.html").render(**context(result))

