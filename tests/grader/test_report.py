"""The HTML report and its plots: content, escaping, length caps, self-containment, missing parts."""
from __future__ import annotations

import base64
import dataclasses
import io
import re

import numpy as np
import pytest

from checks.verdict import ProofResult
from grader.results.plots import curves_png, filter_grid, filters_png, png_data_uri
from grader.results.html import FREE_TEXT_CHARS, TRUNCATED, render_html
from grader.results.model import AccuracyRow, Curve
from tests.grader.html_tools import parse, tags_in, text_of
from tests.grader.sample_results import sample_curves, sample_grade_result, sample_filters_png

XSS = "<script>alert(1)</script>"


def _with_item(result, **fields):
    """The sample result with item 5.1.1 replaced by one carrying these fields."""
    items = [dataclasses.replace(i, **fields) if i.number == "5.1.1" else i for i in result.items]
    return dataclasses.replace(result, items=items)


def _manual_with_text(text: str):
    result = sample_grade_result()
    items = [dataclasses.replace(i, student_text=text) if i.number == "2.2" else i for i in result.items]
    return dataclasses.replace(result, items=items)


def _png_of(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,")
    return base64.b64decode(uri.split(",", 1)[1], validate=True)


@pytest.fixture(scope="module")
def sample_html() -> str:
    return render_html(sample_grade_result())


# --- what the report shows -------------------------------------------------------------------------------

def test_report_header_shows_total_score_bonus_and_pending(sample_html):
    total = text_of(sample_html, "total-score")
    assert "70.0 / 85 automatic points" in total  # bonus not mixed into the total
    assert "+4.0" in text_of(sample_html, "bonus-score")
    assert "15" in text_of(sample_html, "pending-manual")
    assert "instructor edition" in sample_html
    assert "bubblewrap (/usr/bin/bwrap)" in sample_html and "wall 900 s" in sample_html


def test_report_groups_items_by_problem(sample_html):
    tree = parse(sample_html)
    for problem, numbers in {"1": ("1.1", "1.2"), "2": ("2.1", "2.2"), "3": ("3.1",), "4": ("4.1", "4.2", "4.3"),
                             "5": ("5.1.1", "5.2.2", "5.3.2", "5.4.1")}.items():
        text = "".join(tree.text[f"problem-{problem}"])
        assert f"Problem {problem}" in text
        for n in numbers:
            assert n in text, (problem, n)
    assert "5.2.2" not in "".join(tree.text["problem-2"])
    assert "2.2" not in "".join(tree.text["problem-5"]).replace("5.2.2", "")


def test_report_shows_item_scores_status_tags_and_pending_manual(sample_html):
    text = " ".join(parse(sample_html).text["problem-1"])
    assert "5 / 10" in text and "partial" in text
    spans = [a.get("class") for a in tags_in(sample_html, "problem-4", "span")]
    assert "tag failed" in spans and "tag passed" in spans
    problem2 = text_of(sample_html, "problem-2")
    assert "pending" in problem2 and "Parameter sharing" in problem2


def test_feedback_line_breaks_are_preserved(sample_html):
    assert "h_{t+1}:\n  the recursion" in sample_html
    assert re.search(r"\.feedback-text\s*\{[^}]*white-space:\s*pre-wrap", sample_html)


def test_manual_item_shows_student_text_in_preformatted_block(sample_html):
    pres = re.findall(r'<pre class="student">(.*?)</pre>', sample_html, flags=re.S)
    assert any("Parameter sharing" in p and "\n" in p for p in pres)


def test_accuracy_table_shows_percentages(sample_html):
    text = text_of(sample_html, "accuracy-table")
    for value in ("61.2%", "62.0%", "55.0%", "64.3%", "68.1%", "66.0%"):
        assert value in text
    result = sample_grade_result(accuracy_table=[AccuracyRow("BatchNorm", None, 0.68, 0.66)])
    assert "run failed" in text_of(render_html(result), "accuracy-table")


def test_plots_are_embedded_as_png_data_uris(sample_html):
    for section in ("curves", "filters"):
        imgs = tags_in(sample_html, section, "img")
        assert len(imgs) == 1, section
        assert _png_of(imgs[0]["src"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "First convolution layer: learned filters" in text_of(sample_html, "filters")


def test_reference_verified_lists_every_proof(sample_html):
    text = text_of(sample_html, "reference-verified")
    assert "3 of 4" in text
    for proof in sample_grade_result().proofs:
        assert proof.name.split(" (")[0] in text
    assert "failed" in text and "passed" in text


def test_report_shows_protocol_seeds_environment_and_notes(sample_html):
    assert "momentum 0.9" in text_of(sample_html, "protocol")
    env = text_of(sample_html, "environment")
    assert "2.14.1" in env and "throughput net" in env and "notebook cells 3, 4, 7 and 9" in env


# --- safety: escaping, caps, self-containment -------------------------------------------------------------

@pytest.mark.parametrize("where", ["feedback", "name", "student_text", "submission", "environment", "note",
                                   "proof", "curve_label", "status"])
def test_student_text_is_escaped_in_report(where):
    result = sample_grade_result()
    if where in ("feedback", "name", "status"):
        result = _with_item(result, **{where: XSS})
    elif where == "student_text":
        result = _manual_with_text(XSS)
    elif where == "submission":
        result = dataclasses.replace(result, submission=XSS)
    elif where == "environment":
        result = dataclasses.replace(result, environment={XSS: XSS})
    elif where == "note":
        result = dataclasses.replace(result, notes=[XSS])
    elif where == "proof":
        result = dataclasses.replace(result, proofs=[ProofResult(XSS, False, XSS)])
    elif where == "curve_label":
        result = dataclasses.replace(result, curves=[dataclasses.replace(sample_curves()[0], label=XSS)])
    html = render_html(result)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not any(t == "script" for t, _ in parse(html).all_tags)


def test_attribute_injection_is_escaped():
    html = render_html(_with_item(sample_grade_result(), name='" onmouseover="alert(1)', status='x" onclick="y'))
    assert not any(k.startswith("on") for _, attrs in parse(html).all_tags for k in attrs)


def test_report_is_self_contained(sample_html):
    assert not re.search(r"""(src|href|action|poster)\s*=\s*["']?\s*(https?:)?//""", sample_html, flags=re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", sample_html, flags=re.I)
    assert "@import" not in sample_html
    tree = parse(sample_html)
    assert not any(t in ("script", "link", "iframe", "object", "embed") for t, _ in tree.all_tags)
    for tag, attrs in tree.all_tags:
        if "src" in attrs:
            assert attrs["src"].startswith("data:image/png;base64,"), tag
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs["href"]


def test_free_text_is_capped_with_truncated_marker():
    long_text = "x" * (FREE_TEXT_CHARS - 1) + "END_OF_CAP" + "y" * 40_000 + "NEVER_SHOWN"
    html = render_html(_manual_with_text(long_text))
    pre = max(re.findall(r'<pre class="student">(.*?)</pre>', html, flags=re.S), key=len)
    assert TRUNCATED in pre
    assert "NEVER_SHOWN" not in html
    assert FREE_TEXT_CHARS <= len(pre) <= FREE_TEXT_CHARS + 200


def test_feedback_is_capped_with_truncated_marker():
    html = render_html(_with_item(sample_grade_result(), feedback="z" * 200_000))
    assert TRUNCATED in html and "z" * 10_001 not in html


def test_text_short_enough_is_not_marked_truncated():
    assert TRUNCATED not in render_html(_manual_with_text("a" * FREE_TEXT_CHARS))


def test_invalid_unicode_and_control_characters_do_not_break_the_report():
    html = render_html(_with_item(sample_grade_result(), feedback="bad \udcff surrogate \x00\x1b[31m nul"))
    html.encode("utf-8")  # would raise on a lone surrogate
    assert "\x00" not in html and "\x1b" not in html


# --- missing parts ------------------------------------------------------------------------------------------

def test_missing_parts_render_not_available():
    result = sample_grade_result(curves=[], filters_png=None, proofs=[], accuracy_table=[], environment={},
                                 seeds={}, notes=[], protocol="")
    html = render_html(result)
    for section in ("curves", "filters", "reference-verified", "accuracy-table"):
        assert "Not available" in text_of(html, section), section
    assert "<img" not in html


def test_report_renders_with_no_items_at_all():
    html = render_html(sample_grade_result(items=[]))
    assert "0.0 / 0 automatic points" in text_of(html, "total-score")


def test_student_edition_explains_missing_proofs():
    html = render_html(sample_grade_result(proofs=[], edition="student"))
    assert "instructor edition only" in text_of(html, "reference-verified")
    assert "student edition" in html


def test_broken_filter_bytes_render_not_available():
    html = render_html(sample_grade_result(filters_png=b"not a png"))
    assert "Not available" in text_of(html, "filters") and not tags_in(html, "filters", "img")


def test_curves_that_cannot_be_drawn_render_not_available(monkeypatch):
    import grader.results.html

    def broken(curves):
        raise RuntimeError("matplotlib exploded <b>")

    monkeypatch.setattr(grader.results.html, "curves_png", broken)
    html = render_html(sample_grade_result())
    text = text_of(html, "curves")
    assert "Not available" in text and "matplotlib exploded" in text and "<b>" not in html


def test_skipped_items_are_shown_as_not_run_and_not_counted():
    html = render_html(sample_grade_result())
    assert "not run" in text_of(html, "problem-5")
    assert "70.0 / 85" in text_of(html, "total-score")


def test_item_under_review_is_tagged_scores_zero_and_counts_as_pending():
    result = sample_grade_result()
    before = result.pending_manual
    reviewed = _with_item(result, status="review", score=0.0,
                          feedback="[for the instructor to confirm: as measured it would earn 3 of 3; 0 until confirmed]")
    html = render_html(reviewed)
    problem5 = text_of(html, "problem-5")
    assert "review" in problem5 and "for the instructor to confirm" in problem5
    assert any(a.get("class") == "tag review" for a in tags_in(html, "problem-5", "span")), "no review tag"
    assert reviewed.pending_manual == before + next(i.max_score for i in result.items if i.number == "5.1.1")


# --- plots ------------------------------------------------------------------------------------------------

def _image(png: bytes):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_filters_png_normalises_each_filter_separately():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3, 5, 5)) * np.array([1e-3, 1, 1e3, 5, 0.1, 20])[:, None, None, None]
    grid = filter_grid(w, tile_px=10, gap_px=2)
    assert grid.shape == (10, 6 * 10 + 5 * 2, 3)
    for i in range(6):
        tile = grid[:, i * 12:i * 12 + 10]
        assert tile.min() == pytest.approx(0.0) and tile.max() == pytest.approx(1.0), i


def test_filters_png_upscales_with_nearest_neighbour_and_gaps():
    w = np.random.default_rng(1).normal(size=(2, 3, 3, 3))
    grid = filter_grid(w, tile_px=12, gap_px=3)  # scale 4
    tile = grid[:, :12]
    assert np.array_equal(tile, np.kron(tile[::4, ::4], np.ones((4, 4, 1))))  # 4x4 blocks of one colour
    assert np.all(grid[:, 12:15] == 1.0)  # white gap


def test_filters_png_is_a_png_of_the_grid():
    png = filters_png(np.random.default_rng(2).normal(size=(6, 3, 5, 5)))
    img = _image(png)
    assert img.shape[1] > img.shape[0] > 20 and img.std() > 20


def test_filters_png_handles_constant_and_non_finite_filters():
    w = np.zeros((4, 3, 5, 5))
    w[1] = np.nan
    w[2, 0, 0, 0] = np.inf
    grid = filter_grid(w)
    assert np.isfinite(grid).all()


def test_filters_png_rejects_wrong_shape():
    with pytest.raises(ValueError):
        filters_png(np.zeros((6, 5, 5)))


def test_curves_png_draws_one_row_per_run():
    one, three = _image(curves_png(sample_curves()[:1])), _image(curves_png(sample_curves()))
    assert three.shape[0] > 2.5 * one.shape[0] and three.shape[1] == one.shape[1]
    assert three.std() > 20


def test_curves_png_copes_with_diverged_and_empty_runs():
    diverged = Curve("diverged", steps=(100, 200, 300), losses=(2.3, float("inf"), float("nan")), epoch_accuracy=(0.1,))
    empty = Curve("crashed", steps=(), losses=(), epoch_accuracy=())
    huge = dataclasses.replace(sample_curves()[0], losses=tuple([1e30] * len(sample_curves()[0].losses)))
    assert _image(curves_png([diverged, empty, huge])).shape[0] > 0


def test_curves_png_rejects_empty_list():
    with pytest.raises(ValueError):
        curves_png([])


def test_png_data_uri_round_trips():
    png = filters_png(np.ones((1, 3, 2, 2)))
    assert _png_of(png_data_uri(png)) == png


def test_plots_do_not_switch_the_global_matplotlib_backend():
    import matplotlib

    before = matplotlib.get_backend()
    curves_png(sample_curves()[:1])
    assert matplotlib.get_backend() == before


def test_monte_carlo_depth_profile_is_shown_with_the_proofs():
    png = sample_filters_png()
    html = render_html(sample_grade_result(depth_profile_png=png))
    assert 'id="depth-profile"' in html
    assert html.count("data:image/png;base64,") >= 3
    assert 'id="depth-profile"' not in render_html(sample_grade_result(depth_profile_png=None))
