"""The grading process's side of a notebook submission: a sandboxed child reads and slices the notebook
(the "slice" phase, grader.sandbox.slicing), and this module turns its answer into the file the probe
children load and into the words of the report: which statements ran, which did not, cell by cell.

The parent never parses the notebook: it checks the child's JSON for size and shape only.
"""
from __future__ import annotations

import json
from dataclasses import replace

from grader.sandbox.limits import Limits
from grader.sandbox.protocol import SLICE, Request
from grader.sandbox.slicing import SLICE_ENTRY, SLICE_FILE
from grader.sandbox.submission import Entry

MAX_SLICE_BYTES = 16 << 20  # of the child's slice.json read back
MAX_LISTED = 25  # statements listed by name in one note; the rest are counted
SLICE_LIMITS = {"wall_s": 60.0, "cpu_s": 60, "memory_bytes": 2 << 30, "tree_memory_bytes": 2 << 30}  # the slice child


def slice_limits(limits: Limits) -> Limits:
    """The slice phase's limits: reading a notebook needs no torch, so far less memory and time than a probe."""
    return replace(limits, **{k: min(getattr(limits, k), v) for k, v in SLICE_LIMITS.items()})


def slice_entry(run, entry: Entry) -> Entry:
    """The entry to grade once a child has sliced the notebook `entry.file` in `run`'s scratch copy (run is
    the SubmissionRun); an entry with no file and the reason when the notebook could not be read."""
    outcome = run.run([SLICE], Request(), limits=slice_limits(run.limits))[SLICE]
    if not outcome.ok:
        why = outcome.error if outcome.error.startswith(entry.notebook) else f"{entry.notebook} could not be read: {outcome.error}"
        return replace(entry, file=None, problem=why)
    try:
        path = outcome.out_dir / SLICE_FILE
        if path.is_symlink() or path.stat().st_size > MAX_SLICE_BYTES:
            raise ValueError("the slice is too large")
        data = json.loads(path.read_text(encoding="utf-8"))
        _check(data)
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as e:
        return replace(entry, file=None, problem=f"{entry.notebook} could not be read ({type(e).__name__}: {e})")
    (run.scratch / "submission" / SLICE_ENTRY).write_text(json.dumps(data))
    return replace(entry, file=SLICE_ENTRY, slice=data, notes=header_notes(data) + entry.notes)


def kept_code(data: dict) -> str:
    """The statements of a slice that run, in notebook order, as one file (never executed by the parent)."""
    return "\n\n".join(str(s["code"]) for s in data["statements"] if s["kept"])


def _check(data: dict) -> None:
    """The slice's shape, as grader.sandbox.slicing writes it (TypeError/KeyError when it is not)."""
    if not isinstance(data, dict) or not isinstance(data["statements"], list) or not isinstance(data["needs"], dict):
        raise TypeError("not a slice")
    for s in data["statements"]:
        int(s["cell"]), int(s["line"]), int(s["end"]), str(s["code"]), bool(s["kept"]), str(s["what"])
    for name, js in data["needs"].items():
        if not all(isinstance(j, int) and 0 <= j < len(data["statements"]) for j in js):
            raise TypeError(f"bad statement index for {name}")


def where(statements: list[dict]) -> str:
    """"code cell 1, lines 2 and 4-9; code cell 4, line 1": the statements' lines, merged cell by cell."""
    spans: list[list[int]] = []  # [cell, first, last]
    for s in sorted(statements, key=lambda s: (s["cell"], s["line"])):
        if spans and spans[-1][0] == s["cell"] and s["line"] <= spans[-1][2] + 1:
            spans[-1][2] = max(spans[-1][2], s["end"])
        else:
            spans.append([s["cell"], s["line"], s["end"]])
    cells: dict[int, list[str]] = {}
    for c, a, b in spans:
        cells.setdefault(c, []).append(str(a) if a == b else f"{a}-{b}")
    return "; ".join(f"code cell {c}, line{'s' if len(r) > 1 or '-' in r[0] else ''} "
                     f"{', '.join(r[:-1]) + ' and ' + r[-1] if len(r) > 1 else r[0]}" for c, r in cells.items())


NOTABLE = ("the training loop", "a training step", "data loading", "plotting")  # listed first in an item's note


def _dropped(data: dict, limit: int = MAX_LISTED, notable_first: bool = False) -> str:
    gone = [s for s in data["statements"] if not s["kept"]]
    if notable_first:
        gone.sort(key=lambda s: next((i for i, w in enumerate(NOTABLE) if s["what"].startswith(w)), len(NOTABLE)))
    shown = "; ".join(f"{where([s])}: {s['what']}" for s in gone[:limit])
    return shown + (f"; and {len(gone) - limit} more" if len(gone) > limit else "")


def header_notes(data: dict) -> list[str]:
    """The report's notes on a sliced notebook: what ran, what did not, and why not."""
    statements = data["statements"]
    kept = [s for s in statements if s["kept"]]
    names = ", ".join(data["needs"]) or "no contract name"
    notes = [f"graded from notebook {data.get('notebook')}: {len(kept)} of {len(statements)} top-level statements "
             f"ran, the ones that define {names} and what they need ({where(kept) or 'none'}); code cells are "
             f"counted from the top, code cells only"]
    if len(kept) < len(statements):
        notes.append(f"not run (nothing graded needs them): {_dropped(data)}")
    for s in statements:
        if s.get("blocked"):
            notes.append(f"{where([s])} ({s['what']}) changes `{s['blocked']}`, which graded code uses, but it trains, "
                         f"and training is never run: define `{s['blocked']}` before or outside the training loop")
    return notes + [str(n) for n in data.get("notes", [])]


def item_note(data: dict, names: tuple[str, ...]) -> str:
    """One sentence for an item's feedback: where the notebook defines the item's names, what else of it runs
    for them, and what did not run."""
    statements = data["statements"]
    parts = []
    for name in names:
        js = data["needs"].get(name)
        if not js:
            continue
        own, rest = statements[js[0]], [statements[j] for j in js[1:]]
        spelled = data.get("spelled", {}).get(name)
        text = f"{'`' + spelled + '` (' + name + ')' if spelled else name} is defined at {where([own])}"
        parts.append(text + (f" and needs {where(rest)}" if rest else ""))
    if not parts:
        return ""
    gone = sum(not s["kept"] for s in statements)
    return (f"From {data.get('notebook')}: " + "; ".join(parts) + "." +
            (f" Not run: {_dropped(data, 3, notable_first=True)} (all in the report's notes)." if gone else ""))
