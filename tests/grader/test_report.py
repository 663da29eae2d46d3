"""The HTML report and its plots: content, escaping, length caps, self-containment, missing parts."""
from __future__ import annotations

import base64
import dataclasses
import io
import re

import numpy as np
import pytest

from checks.verdict import ProofResult
from grader.results.plots import (PASS_MARK_COLOUR, PIXEL_SCALE, _accuracy_limits, filter_tiles, filters_png, png_data_uri,
                                  run_pngs)
from grader.results.html import FREE_TEXT_CHARS, TRUNCATED, render_html
from grader.results.model import AccuracyRow, Curve
from tests.grader.html_tools import parse, tags_in, text_of
from tests.grader.sample_results import sample_curves, sample_grade_result

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
    for section, count in (("curves", 2 * len(sample_curves())), ("filters", 2)):  # loss + accuracy per run
        imgs = tags_in(sample_html, section, "img")
        assert len(imgs) == count, section
        assert all(_png_of(i["src"]).startswith(b"\x89PNG\r\n\x1a\n") for i in imgs)
    assert "First convolution layer: learned filters" in text_of(sample_html, "filters")


def test_report_names_the_student_and_commit_not_a_path():
    html = render_html(sample_grade_result(submission="alice/my-hw2", commit="3f2a9c1d0e4b"))
    assert text_of(html, "title").startswith("alice/my-hw2 @ 3f2a9c1d0e4b")
    assert "<title>HW2 grade: alice/my-hw2 @ 3f2a9c1d0e4b</title>" in html
    assert "@" not in text_of(render_html(sample_grade_result(commit="")), "title")


def test_reference_checks_are_one_line_in_the_report_with_the_failures_named(sample_html):
    line = text_of(sample_html, "reference-checks")
    assert line.startswith("3 of 4 self-checks of the grader's reference solutions passed")
    assert "Path enumeration is exponential" in line  # the failed one, by name...
    assert "BPTT gradients" not in line and "Monte Carlo" not in line  # ...and no detail of the others
    assert "reference-verified" not in sample_html and "depth-profile" not in sample_html


def test_batch_reports_link_to_the_instructor_page_and_nothing_else_is_linked():
    html = render_html(sample_grade_result(reference_page="../reference.html"))
    assert tags_in(html, "reference-checks", "a")[0]["href"] == "../reference.html"
    evil = render_html(sample_grade_result(reference_page="https://evil.example/x.html"))
    assert not tags_in(evil, "reference-checks", "a")


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
            assert attrs["href"].startswith("#"), attrs["href"]  # a single grade links nowhere outside itself


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
    for section in ("curves", "filters", "accuracy-table"):
        assert "Not available" in text_of(html, section), section
    assert "<img" not in html


def test_report_renders_with_no_items_at_all():
    html = render_html(sample_grade_result(items=[]))
    assert "0.0 / 0 automatic points" in text_of(html, "total-score")


def test_student_edition_has_no_reference_line():
    html = render_html(sample_grade_result(proofs=[], edition="student"))
    assert 'id="reference-checks"' not in html
    assert "student edition" in html


def test_broken_filter_bytes_render_not_available():
    html = render_html(sample_grade_result(filters_png=b"not a png"))
    assert "Not available" in text_of(html, "filters") and not tags_in(html, "filters", "img")


def test_curves_that_cannot_be_drawn_render_not_available(monkeypatch):
    import grader.results.html

    def broken(curves):
        raise RuntimeError("matplotlib exploded <b>")

    monkeypatch.setattr(grader.results.html, "run_pngs", broken)
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


def test_each_filter_is_normalised_separately():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3, 5, 5)) * np.array([1e-3, 1, 1e3, 5, 0.1, 20])[:, None, None, None]
    tiles = filter_tiles(w)
    assert tiles.shape == (6, 5, 5, 3)
    for i in range(6):
        assert tiles[i].min() == pytest.approx(0.0) and tiles[i].max() == pytest.approx(1.0), i


def _red_filters() -> np.ndarray:
    """Filters that normalise to pure red tiles: R weights 1, G and B 0."""
    w = np.zeros((6, 3, 5, 5))
    w[:, 0] = 1.0
    return w


def _pure(img: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 3) -> int:
    return int(_pure_mask(img, rgb, tolerance).sum())


def test_reference_filters_are_shown_beside_the_students_and_large():
    red = filters_png(_red_filters(), title="Reference solution")
    html = render_html(sample_grade_result(reference_filters_png=red))
    imgs = tags_in(html, "filters", "img")
    assert [_png_of(i["src"]) == red for i in imgs] == [False, True]  # the student's first, then the reference's
    tile_px = 90 * PIXEL_SCALE  # at least 90 x 90 CSS pixels per filter
    assert _pure(_image(red), (255, 0, 0)) >= 6 * tile_px * tile_px
    assert int(imgs[1]["width"]) == _image(red).shape[1] // PIXEL_SCALE  # shown at its size in CSS pixels
    assert len(tags_in(render_html(sample_grade_result(reference_filters_png=None)), "filters", "img")) == 1


def test_filter_tiles_are_labelled_with_their_index():
    """Labels are text: drawing them adds dark pixels above every tile of the block, absent without labels."""
    img = _image(filters_png(_red_filters()[:4]))  # two rows of two tiles
    red_rows = np.nonzero(_pure_mask(img, (255, 0, 0)).any(axis=1))[0]
    above = img[max(0, red_rows[0] - 22 * PIXEL_SCALE):red_rows[0] - 4 * PIXEL_SCALE]  # clear of the frame
    dark_columns = np.nonzero((above.max(axis=2) < 120).any(axis=0))[0]
    tile_columns = np.nonzero(_pure_mask(img, (255, 0, 0)).any(axis=0))[0]
    groups = np.split(tile_columns, np.nonzero(np.diff(tile_columns) > 1)[0] + 1)
    assert len(groups) == 2
    for g in groups:  # dark label pixels over each tile of the first row
        assert ((dark_columns >= g[0]) & (dark_columns <= g[-1])).any(), (g[0], g[-1])


def _pure_mask(img: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 3) -> np.ndarray:
    return np.all(np.abs(img.astype(int) - np.array(rgb)) <= tolerance, axis=2)


def test_filters_note_says_what_to_expect_after_the_graded_epochs(sample_html):
    html = render_html(sample_grade_result(train_epochs=2))
    note = text_of(html, "filters-note")
    assert note.startswith("What to expect after 2 epochs") and "reference" in note


def test_filters_png_handles_constant_and_non_finite_filters():
    w = np.zeros((4, 3, 5, 5))
    w[1] = np.nan
    w[2, 0, 0, 0] = np.inf
    tiles = filter_tiles(w)
    assert np.isfinite(tiles).all() and np.all(tiles[0] == 0.5)  # a constant filter is mid grey
    assert _image(filters_png(w)).std() > 10


def test_filters_png_rejects_wrong_shape():
    with pytest.raises(ValueError):
        filters_png(np.zeros((6, 5, 5)))


def test_accuracy_axis_is_fitted_to_the_values_not_0_to_100():
    # two epochs of the baseline Net: student 12% then 27%, reference band 10-30%, pass mark 16%
    lo, hi = _accuracy_limits(np.array([12.0, 27.0, 10.0, 30.0, 16.1]))
    assert 0 <= lo < 10 and 30 < hi < 40
    lo, hi = _accuracy_limits(np.array([61.2, 61.3]))  # nearly equal values: at least 4 points tall
    assert lo < 61.2 and hi > 61.3 and hi - lo >= 4
    assert _accuracy_limits(np.array([99.0, 100.0]))[1] == 100.0 and _accuracy_limits(np.array([np.nan])) == (0.0, 100.0)


def test_pass_mark_is_drawn_as_a_line_on_the_accuracy_plot():
    colour = tuple(int(PASS_MARK_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
    curve = dataclasses.replace(sample_curves()[0], pass_mark=None)
    without = _image(run_pngs(curve)[1])
    loss, accuracy = (_image(png) for png in run_pngs(dataclasses.replace(curve, pass_mark=0.55)))
    near = 40  # a thin antialiased line is blended with the white around it
    assert _pure(without, colour, near) == 0 and _pure(loss, colour, near) == 0
    assert _pure_mask(accuracy, colour, near).sum(axis=1).max() > 0.3 * accuracy.shape[1], "no pass-mark line"


def test_each_run_is_drawn_as_a_loss_and_an_accuracy_plot():
    loss, accuracy = (_image(png) for png in run_pngs(sample_curves()[0]))
    assert loss.shape == accuracy.shape and loss.std() > 20 and accuracy.std() > 20
    assert not np.array_equal(loss, accuracy)


def test_curves_png_copes_with_diverged_and_empty_runs():
    diverged = Curve("diverged", steps=(100, 200, 300), losses=(2.3, float("inf"), float("nan")), epoch_accuracy=(0.1,))
    empty = Curve("crashed", steps=(), losses=(), epoch_accuracy=())
    huge = dataclasses.replace(sample_curves()[0], losses=tuple([1e30] * len(sample_curves()[0].losses)))
    for curve in (diverged, empty, huge):
        assert all(_image(png).shape[0] > 0 for png in run_pngs(curve))


def test_png_data_uri_round_trips():
    png = filters_png(np.ones((1, 3, 2, 2)))
    assert _png_of(png_data_uri(png)) == png


def test_plots_do_not_switch_the_global_matplotlib_backend():
    import matplotlib

    before = matplotlib.get_backend()
    run_pngs(sample_curves()[1])
    assert matplotlib.get_backend() == before


