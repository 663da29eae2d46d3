"""The reference derivations' own checks (sympy, Monte Carlo, brute force) and the Monte Carlo per-layer
plot, for the instructor's page. They take half a minute and do not depend on any submission, so they are
cached under a hash of the source of every check and reference module: any change reruns them."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path

from checks.he_init import depth_profile_plot_png
from checks.verdict import ProofResult
from grader.data import default_cache_dir

PROOF_MODULES = ("checks.bptt", "checks.unrolled_state", "checks.alexnet_sync", "checks.fc_complexity", "checks.he_init")


def reference_key() -> str:
    """Hash of the source of every check and reference module: results cached under it stay valid."""
    root = Path(__file__).resolve().parents[2]
    sources = sorted(root.glob("checks/*.py")) + sorted(root.glob("solutions/*.py"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]


def depth_profile_figure(cache_dir: Path | None = None) -> bytes | None:
    """The Monte Carlo per-layer plot of checks/he_init.py (cached like the proofs)."""
    cache = (cache_dir or default_cache_dir()) / f"depth-profile-{reference_key()}.png"
    if cache.exists():
        return cache.read_bytes()
    try:
        png = depth_profile_plot_png()
    except Exception:  # noqa: BLE001  the figure is an illustration; its checks are in the proofs
        return None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(png)
    except OSError:
        pass
    return png


def verify_reference(cache_dir: Path | None = None) -> list[ProofResult]:
    """Every reference check's result, from the cache when the sources have not changed."""
    cache = (cache_dir or default_cache_dir()) / f"proofs-{reference_key()}.json"
    if cache.exists():
        try:
            return [ProofResult(**p) for p in json.loads(cache.read_text())]
        except (ValueError, TypeError):
            pass
    proofs: list[ProofResult] = []
    for module in PROOF_MODULES:
        try:
            proofs += importlib.import_module(module).verify_all()
        except Exception as e:  # noqa: BLE001  a broken check is reported, not fatal to grading
            proofs.append(ProofResult(module, False, f"the check itself failed: {type(e).__name__}: {e}"))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"name": str(p.name), "passed": bool(p.passed), "detail": str(p.detail)} for p in proofs]))
        os.replace(tmp, cache)
    except (OSError, TypeError, ValueError):
        pass  # an unwritable cache only costs the next run the same half minute
    return proofs
