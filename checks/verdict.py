"""The plain result of judging one rubric item: what fraction of its points it earns and why."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    fraction: float  # share of the item's points earned, 0.0 .. 1.0
    feedback: str  # one or more sentences naming what is right or which defect was found
    notes: tuple[str, ...] = field(default_factory=tuple)  # remarks that do not change the score
    # The measurement came from the student's own code and could not be verified: the item earns nothing
    # automatically, and `fraction` is what a human reviewer would award if they confirm it.
    review: bool = False
    # The grader could not check the item for a reason that is not the student's (the machine's load): no
    # score is due either way; the item is to be regraded (status "error").
    error: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {self.fraction}")


@dataclass(frozen=True)
class ProofResult:
    """Outcome of one verification of the reference (shown in the report's 'reference verified' section)."""

    name: str  # e.g. "Eq. 4 for normal y"
    passed: bool
    detail: str  # how it was checked: method, sample size, seed, tolerance, measured value
