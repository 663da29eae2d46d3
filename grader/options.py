"""The options of one grade, from the command line to the engine, defined once here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.data import default_cache_dir
from grader.sandbox.limits import Limits

EDITION_FILE = Path(__file__).with_name("EDITION")  # present in an exported student edition
EDITIONS = ("instructor", "student")


def installed_edition() -> str:
    """"student" in an exported student edition (it ships a grader/EDITION file saying so), else "instructor"."""
    return EDITION_FILE.read_text().strip() if EDITION_FILE.exists() else "instructor"


@dataclass(frozen=True)
class GradeOptions:
    """What `hw2-grade SUBMISSION` may set."""

    selected: tuple[str, ...] | None = None  # rubric numbers to grade; None: every item of the rubric
    data: str | None = None  # CIFAR-10 path (else HW2_CIFAR10, else the default cache)
    seed: int = 0  # seeds the probe inputs, the training runs and the test-image perturbation
    limits: Limits = field(default_factory=Limits)  # per child phase
    threads: int = 2  # torch threads in each child, and in the grader while it trains
    verify_reference: bool = True  # the reference's self-checks (cached), summarised in one line of the report
    allow_bwrap: bool = True  # use bubblewrap where installed
    edition: str = field(default_factory=installed_edition)  # "student" in an exported student edition
    item_limit_s: float = 300.0  # seconds of one judge's own computation (its evidence's children not counted)
    submission_limit_s: float | None = 3600.0  # seconds for the whole grade of one submission; None: no limit
    training_cache: str | None = None  # folder of trusted training runs to reuse (grader.evidence.cache); None: off


def default_training_cache() -> str:
    """Where a single grade keeps its trusted training runs: in the user's cache folder (read when called)."""
    return str(default_cache_dir() / "training")
