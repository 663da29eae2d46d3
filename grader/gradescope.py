"""Gradescope's autograder results.json, and `write_outputs`: results.json, report.html and badge.svg.

Schema (https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level score, execution_time,
output, visibility, stdout_visibility, and one test per automatic item that was run.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from grader.report import clean, fmt_points
from grader.results import GradeResult

TEST_OUTPUT_CHARS = 10_000
NAME_CHARS = 300


def _passed(score: float, max_score: float) -> bool:
    return abs(score - max_score) <= 1e-9 * max(1.0, abs(max_score))


def summary(result: GradeResult) -> str:
    auto = result.auto_items
    bonus = sum(i.score or 0.0 for i in auto if i.bonus)
    text = f"{result.score - bonus:.1f} / {fmt_points(result.max_score)} automatic points"
    if any(i.bonus for i in auto):
        text += f" + {bonus:.1f} bonus"
    if result.pending_manual:
        text += f"; {fmt_points(result.pending_manual)} points pending manual grading"
    failed = [i.number for i in auto if not _passed(i.score or 0.0, i.max_score)]
    if failed:
        text += f". Not full marks: {', '.join(clean(n, 40) for n in failed)}"
    return text + ". The full report (report.html) shows the feedback, training curves and filters."


def render_gradescope(result: GradeResult) -> dict:
    """The Gradescope results.json content (a JSON-ready dict)."""
    tests = []
    for item in result.auto_items:
        score = float(item.score or 0.0)
        tests.append({
            "number": clean(item.number, 40),
            "name": clean(item.name, NAME_CHARS),
            "score": round(score, 4),
            "max_score": float(item.max_score),
            "status": "passed" if _passed(score, item.max_score) else "failed",
            "output": clean(item.feedback, TEST_OUTPUT_CHARS),
            "visibility": "visible",
        })
    return {
        "score": round(float(result.score), 4),
        "execution_time": int(round(result.execution_time)),
        "output": summary(result),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_atomic(path: Path, data: str) -> None:
    """Write `data` (UTF-8) to `path` through a temporary file in the same folder and os.replace."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_outputs(result: GradeResult, out_dir: Path) -> None:
    """results.json (Gradescope), report.html and badge.svg in `out_dir`; everything is rendered before the
    first file is written, and each file is replaced atomically."""
    from grader.badge import render_badge
    from grader.report import render_html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "results.json": json.dumps(render_gradescope(result), indent=2, ensure_ascii=False) + "\n",
        "report.html": render_html(result),
        "badge.svg": render_badge(result.score - result.bonus_score, result.max_score, bonus=result.bonus_score),
    }
    for name, data in files.items():
        write_atomic(out_dir / name, data)
