"""The pages the grader writes, as a laptop and a phone show them: the student's report, the class page and the
instructor's page of reference checks, rendered by headless Chromium (the Debian build at /usr/bin/chromium,
driven by Playwright; no browser is downloaded) at 1280 and 400 CSS pixels wide. On both, no element may be
wider than the viewport or stick out of it (the page never scrolls sideways); on the phone the item and
student tables are stacked cards. Screenshots go to HW2_SCREENSHOT_DIR when it is set, to look at."""
from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.batch.classpage import render_index
from grader.batch.records import ItemScore, StudentRecord
from grader.reference.page import render_reference_page
from grader.results.plots import filters_png
from grader.results.write import write_outputs
from grader.rubric.items import RUBRIC
from tests.grader.sample_results import sample_first_conv, sample_grade_result, sample_proofs

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
WIDTHS = (1280, 400)  # a laptop, a phone (CSS pixels)
SCREENSHOT_DIR = Path(os.environ["HW2_SCREENSHOT_DIR"]) if os.environ.get("HW2_SCREENSHOT_DIR") else None

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium not installed (apt-get install chromium)")]

# Every element with a box, whose box is wider than the viewport or reaches past either edge. Elements
# inside a scroll container would be allowed to (nothing here uses one): the test finds those too.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.width > width + 0.5 || r.right > width + 0.5 || r.left < -0.5) {
      wide.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}: ` +
                `left ${r.left.toFixed(0)}, width ${r.width.toFixed(0)}`);
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, wide};
}"""

LONG_ID = "chan_tai_man_1155012345_" + "x" * 60  # a roster id with no break opportunity
LONG_FEEDBACK = ("dL/dW_hh differs from the reference: " + "0123456789abcdef" * 12 + "\n"
                 "Traceback (most recent call last):\n  File \"/home/student/a/very/long/path/to/the/submission.py\", "
                 "line 88, in bptt_gradients\n    dW_hh += np.outer(delta_t_with_a_long_name, h_prev_with_a_long_name)")


def _report_result():
    """The sample result made harder to lay out: a long unbreakable feedback line, long names and values."""
    result = sample_grade_result(submission="alice-wong/eleg5491-hw2-submission-repository-with-a-long-name",
                                 commit="3f2a9c1d0e4b",
                                 reference_filters_png=filters_png(sample_first_conv(1), title="Reference solution"),
                                 train_epochs=2, reference_page="../reference.html")
    items = [dataclasses.replace(i, feedback=LONG_FEEDBACK) if i.number == "1.2" else i for i in result.items]
    environment = {**result.environment, "data": "/data/courses/eleg5491/2026-spring/cifar10/" + "y" * 80 + ".zip"}
    result.items, result.environment = items, environment
    return result


def _records() -> list[StudentRecord]:
    selected = tuple(i.number for i in RUBRIC)
    auto = [i for i in RUBRIC if not i.manual]
    full = {i.number: ItemScore(float(i.points), float(i.points), "passed") for i in auto}
    return [StudentRecord("alice", "graded", items=full, total=95.0, max_score=85.0, pending_manual=15.0,
                          seconds=61.2, selected=selected),
            StudentRecord(LONG_ID, "failed to load", seconds=1.0, selected=selected,
                          message="git clone of https://github.com/eleg5491/" + "z" * 90 + ".git failed: fatal: "
                                  "repository not found"),
            StudentRecord("carl", "timed out", items=full, total=40.0, max_score=85.0, pending_manual=15.0,
                          seconds=900.4, selected=selected, message="some code ran past its wall-clock limit")]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pages")
    student = out / "alice"
    write_outputs(_report_result(), student)
    (out / "reference.html").write_text(render_reference_page(sample_proofs(), filters_png(sample_first_conv())),
                                        encoding="utf-8")  # before the class page, which links it when it is there
    (out / "index.html").write_text(render_index(_records(), out / "roster.csv", out, tuple(i.number for i in RUBRIC),
                                                 seed=0, n_students=3), encoding="utf-8")
    return {"report": student / "report.html", "index": out / "index.html", "reference": out / "reference.html"}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _open(browser, path: Path, width: int, tmp_path: Path, name: str):
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page.goto(path.as_uri())
    shot = tmp_path / f"{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    if SCREENSHOT_DIR:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOT_DIR / shot.name)
    return page, shot


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["report", "index", "reference"])
def test_no_element_is_wider_than_the_viewport(browser, pages, name, width, tmp_path):
    from PIL import Image

    page, shot = _open(browser, pages[name], width, tmp_path, name)
    layout = page.evaluate(OVERFLOW_JS)
    page.close()
    assert layout["width"] == width
    assert not layout["wide"], f"{name} at {width} px: {len(layout['wide'])} elements too wide: {layout['wide'][:8]}"
    assert layout["scrollWidth"] <= width
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[1] == width and image.std() > 20  # a real page was drawn, as wide as the viewport


def _display(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).display")


def test_on_a_phone_the_report_items_are_stacked_cards_with_their_column_names(browser, pages, tmp_path):
    page, _ = _open(browser, pages["report"], 400, tmp_path, "report-cards")
    assert _display(page, "#problem-1 table.items thead") == "none"
    box = "el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width]; }"
    card, number, name, feedback = (page.eval_on_selector(f"#problem-1 tbody tr:nth-child(2) {cell}".strip(), box)
                                    for cell in ("", "td.no", "td.name", "td.feedback"))
    assert abs(number[1] - name[1]) < 4 and name[0] > number[0]  # "1.2  BPTT recurrent gradients" on one line
    assert feedback[1] > name[1] and feedback[2] > 0.85 * card[2]  # the feedback below, the card's whole width
    label = page.eval_on_selector("#problem-1 td.feedback", "el => getComputedStyle(el, '::before').content")
    assert label == '"Feedback"'
    page.close()
    page, _ = _open(browser, pages["report"], 1280, tmp_path, "report-table")
    assert _display(page, "#problem-1 table.items thead") == "table-header-group"  # a laptop keeps the table
    page.close()


def test_on_a_phone_the_class_page_students_are_stacked_cards(browser, pages, tmp_path):
    page, _ = _open(browser, pages["index"], 400, tmp_path, "index-cards")
    assert _display(page, "#students thead") == "none"
    box = "el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width]; }"
    card, student, status = (page.eval_on_selector(f"#students tbody tr:nth-child(2) {cell}".strip(), box)
                             for cell in ("", "td.id", "td:nth-child(2)"))
    assert status[1] > student[1] and student[2] > 0.85 * card[2]  # the id heads the card, the status below it
    assert page.eval_on_selector("#students", "el => el.textContent").count("failed to load") == 1
    page.close()


def test_the_report_title_names_the_repository_and_commit(browser, pages, tmp_path):
    page, _ = _open(browser, pages["report"], 400, tmp_path, "report-title")
    assert page.title() == "HW2 grade: alice-wong/eleg5491-hw2-submission-repository-with-a-long-name @ 3f2a9c1d0e4b"
    assert "/tmp" not in page.inner_text("header")
    page.close()
