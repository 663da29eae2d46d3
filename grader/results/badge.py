"""A shields.io-style flat SVG badge ("hw2 grade | 87/90"), with no external fonts or requests."""
from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape, quoteattr

COLOURS = ((90.0, "#4c1"), (75.0, "#97ca00"), (60.0, "#dfb317"), (40.0, "#fe7d37"))  # brightgreen .. orange
RED = "#e05d44"
GREY = "#9f9f9f"  # no points available: no percentage
LABEL_BG = "#555"
MAX_LABEL_CHARS = 60
PAD = 6  # px either side of a text
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def colour_for(score: float, max_score: float) -> str:
    """brightgreen >= 90 %, green >= 75 %, yellow >= 60 %, orange >= 40 %, else red; grey when max_score <= 0."""
    if not max_score or max_score <= 0 or not math.isfinite(max_score) or not math.isfinite(score):
        return GREY
    pct = 100.0 * score / max_score
    for floor, colour in COLOURS:
        if pct >= floor - 1e-9:
            return colour
    return RED


def text_width(text: str) -> float:
    """Width of `text` in 11 px Verdana, estimated from its characters (about 6.5 px each)."""
    width = 0.0
    for ch in text:
        if ch in "il.,:;|!'`":
            width += 3.5
        elif ch in "fjrtI ()[]/-":
            width += 4.5
        elif ch in "mwMW%":
            width += 10.0
        elif ch.isdigit():
            width += 7.0
        elif ch.isupper():
            width += 7.5
        else:
            width += 6.5
    return width


def _fmt(x: float) -> str:
    return f"{round(x, 1):g}" if math.isfinite(x) else "?"


def render_badge(score: float, max_score: float, bonus: float = 0.0, label: str = "hw2 grade", pending: float = 0.0,
                 state: str = "") -> str:
    """The badge as an SVG document (flat style: grey label, value coloured by percentage).

    `score` out of `max_score` are the regular points; bonus points are shown apart ("85/85 +10"), so that
    the fraction never exceeds one and the colour follows the regular points only; points a human still
    decides follow ("85/85 +10, 15 pending"). A `state` ("incomplete", "failed to load") replaces the score:
    a grade the grader could not finish, or code that did not load, is never shown as a number."""
    label = _XML_INVALID.sub("", str(label))[:MAX_LABEL_CHARS] or "grade"
    value = f"{_fmt(float(score))}/{_fmt(float(max_score))}"
    if bonus and math.isfinite(bonus) and bonus > 0:
        value += f" +{_fmt(float(bonus))}"
    if pending and math.isfinite(pending) and pending > 0:
        value += f", {_fmt(float(pending))} pending"
    colour = colour_for(float(score), float(max_score))
    if state:
        value, colour = _XML_INVALID.sub("", str(state))[:MAX_LABEL_CHARS], GREY if state == "incomplete" else RED
    lw = round(text_width(label) + 2 * PAD)
    vw = round(text_width(value) + 2 * PAD)
    w = lw + vw
    lx, vx = lw / 2, lw + vw / 2
    lt, vt = text_width(label), text_width(value)
    title = f"{label}: {value}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label={quoteattr(title)}>'
        f"<title>{escape(title)}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{LABEL_BG}"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{colour}"/><rect width="{w}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="11">'
        f'<text x="{lx:g}" y="15" fill="#010101" fill-opacity=".3" textLength="{lt:g}">{escape(label)}</text>'
        f'<text x="{lx:g}" y="14" textLength="{lt:g}">{escape(label)}</text>'
        f'<text x="{vx:g}" y="15" fill="#010101" fill-opacity=".3" textLength="{vt:g}">{escape(value)}</text>'
        f'<text x="{vx:g}" y="14" textLength="{vt:g}">{escape(value)}</text>'
        "</g></svg>\n"
    )
