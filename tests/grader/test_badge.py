"""The SVG score badge."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from grader.results.badge import render_badge, text_width

SVG = "{http://www.w3.org/2000/svg}"


def _value_fill(svg: str) -> str:
    root = ET.fromstring(svg)
    rects = root.find(f"{SVG}g").findall(f"{SVG}rect")
    return rects[1].get("fill")


def test_badge_is_valid_svg_with_score():
    svg = render_badge(87, 90)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("height") == "20"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "87/90" in texts and "hw2 grade" in texts
    assert root.find(f"{SVG}title").text == "hw2 grade: 87/90"
    label_rect, value_rect = root.find(f"{SVG}g").findall(f"{SVG}rect")[:2]
    assert float(label_rect.get("width")) + float(value_rect.get("width")) == float(root.get("width"))


@pytest.mark.parametrize("score, colour", [(90, "#4c1"), (100, "#4c1"), (89.9, "#97ca00"), (75, "#97ca00"),
                                           (74.9, "#dfb317"), (60, "#dfb317"), (59.9, "#fe7d37"), (40, "#fe7d37"),
                                           (39.9, "#e05d44"), (0, "#e05d44")])
def test_badge_colour_follows_percentage(score, colour):
    assert _value_fill(render_badge(score, 100)) == colour


def test_badge_colour_uses_percentage_not_points():
    assert _value_fill(render_badge(9, 10)) == "#4c1" and _value_fill(render_badge(81, 90)) == "#4c1"


def test_badge_with_no_points_available_is_grey_not_an_error():
    svg = render_badge(0, 0)
    assert _value_fill(svg) == "#9f9f9f" and "0/0" in svg


def test_badge_escapes_label():
    label = 'a<b>&"c\'\x00'
    root = ET.fromstring(render_badge(1, 2, label=label))
    assert root.find(f"{SVG}title").text == 'a<b>&"c\': 1/2'


def test_badge_formats_fractional_scores():
    assert "87.5/90" in render_badge(87.5, 90) and "33.3/90" in render_badge(33.333, 90)


def test_badge_width_grows_with_text():
    narrow = ET.fromstring(render_badge(1, 2, label="hw2"))
    wide = ET.fromstring(render_badge(1, 2, label="homework two grade"))
    assert float(wide.get("width")) > float(narrow.get("width"))
    assert 5 * 6 < text_width("87/90") < 5 * 8


def test_bonus_points_are_shown_apart_and_do_not_colour_the_badge():
    svg = render_badge(50, 85, bonus=10)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "hw2 grade: 50/85 +10"
    assert _value_fill(svg) == _value_fill(render_badge(50, 85))  # 59 %: orange, whatever the bonus


def test_no_bonus_shows_no_plus():
    assert "+" not in ET.fromstring(render_badge(85, 85, bonus=0)).find(f"{SVG}title").text
