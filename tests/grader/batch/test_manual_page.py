"""`grades/manual.html` in a real browser (Playwright driving the system Chromium): grading by question, scores
validated as typed, state kept in localStorage across a reload, student text shown as text, manual.csv
exported and merged by finalize, and the merged scores filled in when finalize writes the page again."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path

import pytest

from grader.batch.classpage import write_class_pages
from grader.batch.manifest import read_manifest
from grader.batch.records import load_record
from grader.cli import main as cli_main
from tests.grader.batch.class_folder import under_review, write_class
from tests.grader.browser import chromium, needs_chromium, watched_page
from tests.grader.html_tools import parse
from tests.grader.sample_results import sample_grade_result

pytestmark = needs_chromium
EVIL = "<img src=x onerror=alert(1)> two reasons & more"


def score_box(page, item: str, sid: str):
    return page.locator(f"[id='score-{item}-{sid}']")


def reopened(context, page, ready, wait_s: float = 10.0):
    """The page closed and opened again in the same browser, once it shows what `ready` checks: the state
    lives in localStorage, which Chromium hands from one page to the next asynchronously, so a page opened the
    instant after the last keystroke may not see it yet (seen under load; a TA reopens the file much later)."""
    uri = page.url
    assert not page.problems, page.problems
    page.close()
    deadline = time.monotonic() + wait_s
    while True:
        page = watched_page(context)
        page.goto(uri)
        if ready(page) or time.monotonic() > deadline:
            return page
        page.close()
        time.sleep(0.2)


@pytest.fixture
def grades(tmp_path) -> Path:
    out = tmp_path / "grades"
    base = sample_grade_result()
    evil = dataclasses.replace(base, items=[dataclasses.replace(i, student_text=EVIL) if i.number == "2.2" else i
                                            for i in base.items])
    write_class(out, {"alice": base, "bob": under_review(base, "5.1.3", 3.0), "carl": evil, "dora": "failed to load"})
    manifest = read_manifest(out)
    write_class_pages(out, [load_record(out / e.student_id) for e in manifest.entries], manifest)
    return out


def test_grading_by_question_in_chromium_exports_a_csv_that_finalize_merges(grades, tmp_path, capsys):
    with chromium() as browser:
        context = browser.new_context(accept_downloads=True)
        page = watched_page(context)
        page.goto((grades / "manual.html").as_uri())
        titles = page.locator("section.item h2").all_inner_texts()
        assert titles == ["2.2 two reasons (10 points)", "5.1.3 Net trains (accuracy) (3 points, under review)",
                          "5.1.4 analysis (2 points)", "5.2.3 proofs of Eq. 3 and 4 (3 points)"]
        assert page.locator("#item-2\\.2 article").evaluate_all("cards => cards.map(c => c.dataset.student)") == \
            ["alice", "bob", "carl"]  # dora failed to load: nothing to grade
        carl = page.locator("[data-student=carl][data-item='2.2'] pre.answer")
        assert carl.inner_text() == EVIL and page.locator("img").count() == 0  # text, never markup
        review = page.locator("[data-student=bob][data-item='5.1.3']").inner_text()
        assert "as measured it would earn 3 of 3" in review and "58.2% test accuracy" in review

        score_box(page, "2.2", "alice").fill("12")
        assert page.locator("[data-student=alice][data-item='2.2'] .error").inner_text() == "must be between 0 and 10"
        page.click("#export")
        assert page.inner_text("#status").startswith("Not exported: fix the 1 invalid score")
        score_box(page, "2.2", "alice").fill("abc")
        assert page.locator("[data-student=alice][data-item='2.2'] .error").inner_text() == "not a number"

        score_box(page, "2.2", "alice").fill("8")
        page.locator("[data-student=alice][data-item='2.2'] textarea").fill('Two reasons, "shared weights"\nand state.')
        score_box(page, "5.1.3", "bob").fill("3")
        score_box(page, "5.2.3", "carl").fill("2.5")
        assert page.inner_text("[id='progress-2.2']") == "1 of 3 scored"
        page = reopened(context, page, lambda p: score_box(p, "2.2", "alice").input_value() == "8")
        assert score_box(page, "2.2", "alice").input_value() == "8"  # the state lives in this browser's localStorage
        assert score_box(page, "5.2.3", "carl").input_value() == "2.5"
        with page.expect_download() as download:
            page.click("#export")
        assert download.value.suggested_filename == "manual.csv"
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        assert not page.problems, page.problems
        assert all(u.startswith(("file:", "blob:")) for u in page.requests), page.requests  # offline: nothing fetched
        context.close()

    assert list(csv.reader(io.StringIO(exported))) == [
        ["student_id", "item", "score", "comment"], ["alice", "2.2", "8", 'Two reasons, "shared weights"\nand state.'],
        ["bob", "5.1.3", "3", ""], ["carl", "5.2.3", "2.5", ""]]
    manual = tmp_path / "manual.csv"
    manual.write_text(exported, encoding="utf-8")
    assert cli_main(["finalize", str(grades), "--manual", str(manual)]) == 0, capsys.readouterr().err
    alice = json.loads((grades / "alice" / "results.json").read_text())
    assert next(t for t in alice["tests"] if t["number"] == "2.2")["score"] == 8

    with chromium() as browser:  # a fresh browser: what the page shows now comes from the merged grades
        page = watched_page(browser.new_context())
        page.goto((grades / "manual.html").as_uri())
        assert score_box(page, "2.2", "alice").input_value() == "8"
        assert score_box(page, "5.1.3", "bob").input_value() == "3"
        assert page.locator("[data-student=alice][data-item='2.2'] textarea").input_value() == \
            'Two reasons, "shared weights"\nand state.'
        assert not page.problems


def test_manual_page_is_self_contained_and_runs_only_its_own_script(grades):
    html = (grades / "manual.html").read_text()
    [policy] = [a["content"] for t, a in parse(html).all_tags
                if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; script-src 'sha256-") and "script-src 'unsafe-inline'" not in policy
    assert html.count("<script") == 2 and 'type="application/json"' in html  # the data is never executed
    assert EVIL not in html and "\\u003cimg src=x onerror=alert(1)\\u003e" in html
    assert "http://" not in html and "https://" not in html
