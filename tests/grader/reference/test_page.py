"""grader/reference/page.py: the instructor's page of reference checks, written once by `hw2-grade batch` beside
index.html and alone by `hw2-grade verify-reference`, from the cached checks."""
from __future__ import annotations

import subprocess
import sys

from checks.verdict import ProofResult
from grader.reference.page import render_reference_page
from grader.results.write import REFERENCE_PAGE
from tests.grader.html_tools import parse, tags_in, text_of
from tests.grader.sample_results import sample_filters_png, sample_proofs


def test_the_page_lists_every_check_with_how_and_shows_the_monte_carlo_plot():
    html = render_reference_page(sample_proofs(), sample_filters_png())
    assert "3 of 4" in text_of(html, "summary")
    checks = text_of(html, "checks")
    for proof in sample_proofs():
        assert proof.name in checks and proof.detail[:40] in checks
    assert tags_in(html, "depth-profile", "img")[0]["src"].startswith("data:image/png;base64,")
    assert not any(t in ("script", "link") for t, _ in parse(html).all_tags)


def test_check_text_is_escaped():
    html = render_reference_page([ProofResult("<script>x()</script>", False, "<b>bold</b>")], None)
    assert "<script>x()" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html and 'id="depth-profile"' not in html


def test_verify_reference_writes_the_page_and_says_where(tmp_path):
    """The real checks, from the cache once computed (half a minute the first time on a 2-core machine)."""
    p = subprocess.run([sys.executable, "-m", "grader.cli", "verify-reference", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    page = tmp_path / REFERENCE_PAGE
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith(f"reference checks passed; wrote {page}")
    html = page.read_text()
    assert "depth-profile" in html and "Eq. 5 depth profile" in text_of(html, "checks")
