"""The report as a browser shows it: headless Chromium renders it, takes screenshots, dumps the DOM.

The plots are located without scripts by rendering the same report with the plot left out: the first pixel
row where the two screenshots differ is the top of the plot, and the region below it must be a real,
non-uniform image.
"""
from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from grader.results.write import write_outputs
from grader.results.plots import STUDENT_COLOUR, filters_png
from grader.results.html import render_html
from tests.grader.html_tools import parse, tags_in, text_of
from tests.grader.sample_results import sample_grade_result

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and Path(p).exists()), None)
WIDTH, HEIGHT = 1280, 4000
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
SCROLLBAR_PX = 20  # right-hand columns left out of comparisons (a scrollbar's thumb follows the page length)
SCREENSHOT_DIR = Path(os.environ.get("HW2_SCREENSHOT_DIR", "")) if os.environ.get("HW2_SCREENSHOT_DIR") else None

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *args]
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def _screenshot(tmp: Path, html_path: Path, name: str) -> np.ndarray:
    from PIL import Image

    png = tmp / f"{name}.png"
    proc = _chromium(tmp, f"--screenshot={png}", html_path.as_uri())
    assert png.exists(), f"no screenshot: {proc.stderr[-2000:]}"
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert image.size == (WIDTH, HEIGHT)
    return np.asarray(image.convert("RGB")).astype(np.int16)


def _first_differing_row(a: np.ndarray, b: np.ndarray) -> int:
    """The first pixel row where two screenshots differ: where the one that leaves a plot out starts to change."""
    rows = np.nonzero(np.any(a[:, :-SCROLLBAR_PX] != b[:, :-SCROLLBAR_PX], axis=(1, 2)))[0]
    assert rows.size, "leaving the plot out changed nothing on screen"
    return int(rows[0])


def _assert_real_image(region: np.ndarray, what: str, min_colours: int) -> None:
    assert region.shape[0] > 10, f"{what}: below the screenshot"
    colours = len(np.unique(region.reshape(-1, 3), axis=0))
    assert region.std() > 20 and colours >= min_colours, f"{what}: uniform (std {region.std():.1f}, {colours} colours)"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    weights = np.random.default_rng(7).normal(0, 0.1, size=(6, 3, 5, 5))
    result = sample_grade_result(filters_png=filters_png(weights))
    write_outputs(result, tmp / "out")
    variants = {"no_curves": dataclasses.replace(result, curves=[]),
                "no_filters": dataclasses.replace(result, filters_png=None)}
    for name, r in variants.items():
        (tmp / f"{name}.html").write_text(render_html(r), encoding="utf-8")
    return tmp, result


def test_report_renders_in_headless_chromium(rendered):
    tmp, result = rendered
    report = tmp / "out" / "report.html"
    full = _screenshot(tmp, report, "report")
    if SCREENSHOT_DIR:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "report.png", SCREENSHOT_DIR / "report.png")
    assert full.std() > 30, "blank screenshot"
    assert (full.min(axis=2) > 245).mean() > 0.3, "the page should mostly be white paper"

    top = _first_differing_row(full, _screenshot(tmp, tmp / "no_curves.html", "no_curves"))
    curves = full[top:top + 600]
    _assert_real_image(curves, "curves", min_colours=200)
    blue = np.all(np.abs(curves - np.array([int(STUDENT_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])) <= 8, axis=2)
    assert blue.sum() > 300, "the student's curves are not drawn"

    top = _first_differing_row(full, _screenshot(tmp, tmp / "no_filters.html", "no_filters"))
    filters = full[top:top + 200, :WIDTH - SCROLLBAR_PX]  # title, then the first row of labelled tiles
    _assert_real_image(filters, "filters", min_colours=60)
    coloured = (filters.max(axis=2) - filters.min(axis=2)) > 40  # text is grey; random RGB filters are not
    assert coloured.sum() > 5000, f"the filter tiles are not drawn ({coloured.sum()} coloured pixels)"


def test_rendered_dom_shows_score_and_plots(rendered):
    tmp, result = rendered
    proc = _chromium(tmp, "--dump-dom", (tmp / "out" / "report.html").as_uri())
    dom = proc.stdout
    assert "<html" in dom, proc.stderr[-2000:]
    assert "70.0 / 85 automatic points" in text_of(dom, "total-score")
    for section in ("curves", "filters"):
        imgs = tags_in(dom, section, "img")
        assert imgs and all(i["src"].startswith("data:image/png;base64,") for i in imgs), section
    assert not any(t == "script" for t, _ in parse(dom).all_tags)
    assert "3 of 4" in text_of(dom, "reference-checks")
