"""Gradescope's autograder results.json, rendered from a GradeResult.

Schema (https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level score, execution_time,
output, output_format, visibility, stdout_visibility, optional leaderboard, and one test per scored item (the
automatic items, and the manual ones once graded by hand). Gradescope never shows report.html, so the
top-level output is a summary that stands alone: the score and what it is made of, the items short of full
marks with the reason, and what is still pending. `GradescopeOptions` holds what a course chooses: the format
Gradescope renders the text in, per-item visibility (the training items hidden until after the due date, for
example), and the leaderboard (off unless asked for)."""
from __future__ import annotations

import html
from dataclasses import dataclass

from grader.results.html import clean, fmt_points
from grader.results.model import UNCOUNTED, GradeResult, ItemResult

TEST_OUTPUT_CHARS = 10_000
NAME_CHARS = 300
REASON_CHARS = 240  # of an item's feedback quoted in the summary
FORMATS = ("text", "md", "html")  # output formats rendered here (Gradescope also knows simple_format and ansi)
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


@dataclass(frozen=True)
class GradescopeOptions:
    output_format: str = "text"  # one of FORMATS: how Gradescope renders the summary and each item's output
    visibility: str = "visible"  # of the whole result (one of VISIBILITIES)
    item_visibility: tuple[tuple[str, str], ...] = ()  # (rubric number or prefix, visibility); the last match wins
    leaderboard: bool = False  # a public ranking is the course's decision: off unless asked for

    def __post_init__(self) -> None:
        if self.output_format not in FORMATS:
            raise ValueError(f"output format {self.output_format!r}: use one of {', '.join(FORMATS)}")
        for _, v in ((None, self.visibility), *self.item_visibility):
            if v not in VISIBILITIES:
                raise ValueError(f"visibility {v!r}: use one of {', '.join(VISIBILITIES)}")

    def visibility_of(self, number: str) -> str:
        chosen = "visible"
        for prefix, v in self.item_visibility:
            if number == prefix or number.startswith(prefix + "."):
                chosen = v
        return chosen


def _passed(score: float, max_score: float) -> bool:
    return abs(score - max_score) <= 1e-9 * max(1.0, abs(max_score))


def _reason(item: ItemResult) -> str:
    """Why an item is short of full marks, in one line: the grader's feedback, or the human grader's comment."""
    source = f"Grader's comment: {item.comment}" if item.hand_graded and item.comment else item.feedback
    text = " ".join(clean(source, TEST_OUTPUT_CHARS).split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def _scored(result: GradeResult) -> list[ItemResult]:
    """The items with a score (automatic, under review, graded by hand)."""
    return [i for i in result.items if i.status != "skipped" and i.score is not None]


def _listed(result: GradeResult) -> list[ItemResult]:
    """The items listed as tests: the scored ones, and those the grader checked but scores nowhere (its errors,
    the student edition's format checks), which are shown without a score."""
    return [i for i in result.items if i.status != "skipped" and (i.score is not None or i.status in UNCOUNTED)]


def summary_lines(result: GradeResult) -> tuple[str, list[str], list[str], list[str]]:
    """(headline, short-of-full-marks lines, pending lines, other notes), each plain text."""
    hand = any(i.hand_graded for i in result.items)
    head = f"Score: {result.regular_score:.1f} / {fmt_points(result.max_score)} points"
    if result.bonus_max:
        head += f" + {result.bonus_score:.1f} / {fmt_points(result.bonus_max)} bonus"
    auto = [i for i in result.auto_items if not i.hand_graded]
    head += (f" ({fmt_points(sum(i.score or 0 for i in auto))} automatic, {fmt_points(result.hand_score)} graded by hand)"
             if hand else " (automatic items)")
    short = [f"{clean(i.number, 40)} {clean(i.name, NAME_CHARS)}: {fmt_points(i.score)} / {fmt_points(i.max_score)}. "
             f"{_reason(i)}" for i in _scored(result) if not _passed(i.score or 0.0, i.max_score) and i.status != "review"]
    waiting = {"review": "measured, to be confirmed by the course staff",
               "format": "form checked here; the instructor's run scores it"}
    pending = [f"{clean(i.number, 40)} {clean(i.name, NAME_CHARS)} ({fmt_points(i.max_score)} points): "
               + ("graded by hand by the course staff" if i.manual else waiting[i.status])
               for i in result.items if (i.manual and i.status != "skipped" and i.score is None) or i.status in waiting]
    notes = []
    if result.incomplete:
        notes.append(f"INCOMPLETE: the grader could not check {', '.join(clean(i.number, 40) for i in result.errors)} "
                     f"(no score; grade again)")
    if result.late_note:
        notes.append(f"Late policy: {clean(result.late_note, 2000)}")
    if result.regrade_notes:
        notes.append("Regraded: " + "; ".join(clean(n, 300) for n in result.regrade_notes))
    return head, short, pending, notes


def summary(result: GradeResult, output_format: str = "text") -> str:
    """The top-level output: it stands alone, since Gradescope shows no other page."""
    head, short, pending, notes = summary_lines(result)
    sections = [("Not full marks", short), (f"Still pending ({fmt_points(result.pending_manual)} points, not in the score yet)", pending)]
    if output_format == "text":
        parts = [head + "."]
        parts += [f"{title}:\n" + "\n".join(f"- {line}" for line in lines) for title, lines in sections if lines]
        if not short:
            parts.append("Every automatic item scored has full marks.")
        return "\n\n".join(parts + notes)
    esc = html.escape  # student text (exception messages) never becomes markup, in md or html
    if output_format == "md":
        parts = [f"**{esc(head)}**"]
        parts += [f"### {esc(title)}\n\n" + "\n".join(f"- {esc(line)}" for line in lines) for title, lines in sections if lines]
        if not short:
            parts.append("Every automatic item scored has full marks.")
        return "\n\n".join(parts + [esc(n) for n in notes])
    parts = [f"<p><strong>{esc(head)}</strong></p>"]
    parts += [f"<h3>{esc(title)}</h3><ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>"
              for title, lines in sections if lines]
    if not short:
        parts.append("<p>Every automatic item scored has full marks.</p>")
    return "".join(parts + [f"<p>{esc(n)}</p>" for n in notes])


def _test_output(item: ItemResult, output_format: str) -> str:
    text = clean(item.feedback, TEST_OUTPUT_CHARS)
    if item.comment:
        text += "\n\nGrader's comment: " + clean(item.comment, TEST_OUTPUT_CHARS)
    if output_format == "text":
        return text
    escaped = html.escape(text)
    return escaped if output_format == "md" else "<p>" + escaped.replace("\n\n", "</p><p>") + "</p>"


def render_gradescope(result: GradeResult, options: GradescopeOptions = GradescopeOptions()) -> dict:
    """The Gradescope results.json content (a JSON-ready dict)."""
    fmt = options.output_format
    tests = []
    for item in _listed(result):
        test = {"number": clean(item.number, 40), "name": clean(item.name, NAME_CHARS)}
        if item.status in UNCOUNTED:  # not scored here (the grader's error, a format check): no score, no status
            test.update(max_score=0.0, output=clean(f"[{item.status}] {item.feedback}", TEST_OUTPUT_CHARS))
        else:
            score = float(item.score or 0.0)
            test.update(score=round(score, 4), max_score=float(item.max_score),
                        status="passed" if _passed(score, item.max_score) else "failed", output=_test_output(item, fmt))
        test["visibility"] = options.visibility_of(item.number)
        if fmt != "text":
            test["output_format"] = fmt
        tests.append(test)
    data = {
        "score": round(float(result.score), 4),
        "execution_time": int(round(result.execution_time)),
        "output": summary(result, fmt),
        "visibility": options.visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if fmt != "text":
        data["output_format"] = fmt
        data["test_output_format"] = fmt
    if options.leaderboard:
        data["leaderboard"] = [{"name": "Score", "value": round(float(result.score), 2)}] + [
            {"name": clean(row.label, 60), "value": round(100 * row.accuracy, 1)}
            for row in result.accuracy_table if row.accuracy is not None]
    return data
