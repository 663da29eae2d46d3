"""Writing a grade's outputs: results.json (Gradescope), report.html and badge.svg, each rendered before the
first file is written and each replaced atomically."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from grader.results.badge import render_badge
from grader.results.gradescope import GradescopeOptions, render_gradescope
from grader.results.html import render_html
from grader.results.model import GradeResult

OUTPUT_FILES = ("results.json", "report.html", "badge.svg")  # what write_outputs writes, in this order
REFERENCE_PAGE = "reference.html"  # the instructor's page of reference checks (grader.reference.page), once per DIR


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


def badge_state(result: GradeResult) -> str:
    """What the badge shows instead of a score: "incomplete" or "failed to load"; "" for a score."""
    return "incomplete" if result.incomplete else "failed to load" if result.load_problem else ""


def render_outputs(result: GradeResult, gradescope: GradescopeOptions = GradescopeOptions()) -> dict[str, str]:
    """The contents of results.json (Gradescope), report.html and badge.svg, in the order of OUTPUT_FILES."""
    files = {
        "results.json": json.dumps(render_gradescope(result, gradescope), indent=2, ensure_ascii=False) + "\n",
        "report.html": render_html(result),
        "badge.svg": render_badge(result.regular_score, result.max_score, bonus=result.bonus_score,
                                  pending=result.pending_manual, state=badge_state(result)),
    }
    assert tuple(files) == OUTPUT_FILES
    return files


def write_files(out_dir: Path, files: dict[str, str]) -> None:
    """Each file replaced atomically, in the given order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_atomic(out_dir / name, data)


def write_outputs(result: GradeResult, out_dir: Path, gradescope: GradescopeOptions = GradescopeOptions()) -> None:
    """results.json (Gradescope), report.html and badge.svg in `out_dir`; everything is rendered before the
    first file is written, and each file is replaced atomically."""
    write_files(out_dir, render_outputs(result, gradescope))
