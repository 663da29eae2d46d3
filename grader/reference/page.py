"""The instructor's page of reference checks, `reference.html`: every self-check of the reference solutions
(sympy proofs, Monte Carlo, brute force) with how it was checked, and the Monte Carlo plot of Eq. 5.

The checks do not depend on any submission, so the page is made once per installation (grader.reference.proofs
caches the results under a hash of the sources): `hw2-grade batch` writes it beside index.html, and
`hw2-grade verify-reference --out DIR` writes it alone. Student reports only carry a one-line summary.
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

from checks.verdict import ProofResult
from grader import __version__
from grader.messages import ArgumentParser, fail, one_line
from grader.reference.proofs import depth_profile_figure, reference_key, verify_reference
from grader.results.html import DETAIL_CHARS, SHORT_CHARS, clean, template_environment
from grader.results.plots import png_data_uri
from grader.results.write import REFERENCE_PAGE, write_atomic


def render_reference_page(proofs: list[ProofResult], depth_profile_png: bytes | None) -> str:
    """The page as one self-contained HTML document (inline CSS, the plot as a data: URI)."""
    return template_environment().get_template(REFERENCE_PAGE).render(
        proofs=[{"name": clean(p.name, SHORT_CHARS), "passed": bool(p.passed), "detail": clean(p.detail, DETAIL_CHARS)}
                for p in proofs],
        passed=sum(1 for p in proofs if p.passed), total=len(proofs),
        depth_profile_uri=png_data_uri(depth_profile_png) if depth_profile_png else None,
        version=__version__, key=reference_key(),
        generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_reference_page(out: Path, cache_dir: Path | None = None) -> tuple[Path, list[ProofResult]]:
    """Run (or read from the cache) the reference checks and write DIR/reference.html; returns its path and
    the checks."""
    proofs = verify_reference(cache_dir)
    html = render_reference_page(proofs, depth_profile_figure(cache_dir))
    out.mkdir(parents=True, exist_ok=True)
    path = out / REFERENCE_PAGE
    write_atomic(path, html)
    return path, proofs


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="hw2-grade verify-reference", description="Check the reference solutions "
                                f"(proofs, Monte Carlo, brute force) and write DIR/{REFERENCE_PAGE}.")
    p.add_argument("--out", type=Path, required=True, help=f"folder for {REFERENCE_PAGE}")
    args = p.parse_args(argv)
    try:
        path, proofs = write_reference_page(args.out)
    except OSError as e:
        return fail(f"cannot write to {args.out}: {e.strerror}", prog=p.prog)
    failed = [p.name for p in proofs if not p.passed]
    print(f"{len(proofs) - len(failed)} of {len(proofs)} reference checks passed; wrote {path}")
    if failed:
        print(one_line(f"failed: {'; '.join(failed)}"), file=sys.stderr)
        return 1
    return 0
