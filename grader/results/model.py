"""Plain result objects: what a grading run found, independent of how it is rendered (JSON, HTML, badge)."""
from __future__ import annotations

from dataclasses import dataclass, field

from checks.verdict import ProofResult


@dataclass(frozen=True)
class ItemResult:
    number: str  # rubric number, e.g. "5.1.1"
    name: str  # e.g. "Net architecture"
    max_score: float  # points
    score: float | None  # points earned; None for a manual item (pending a human grader)
    # "passed" | "partial" | "failed" | "pending" (manual) | "review" (automatic, scored 0 until a human
    # confirms a measurement the grader could not verify) | "error" (the grader could not check it for a
    # reason that is not the student's, such as the machine's load: to regrade) | "skipped" (not selected)
    status: str
    feedback: str  # what was checked and which defect was found (plain text; escaped when rendered)
    manual: bool = False
    bonus: bool = False  # points beyond the 100 of the handout (Problem 5.4)
    student_text: str = ""  # free text shown to the manual grader (answers.toml), length-capped


@dataclass(frozen=True)
class Curve:
    """One training run for the report: the student's losses and accuracies against the reference band."""

    label: str  # e.g. "Net (5.1.3)"
    steps: tuple[int, ...]  # SGD steps at which losses were recorded
    losses: tuple[float, ...]  # training loss (mean over the last log interval)
    epoch_accuracy: tuple[float, ...]  # test accuracy after each epoch, 0..1
    band_steps: tuple[int, ...] = ()  # reference band: same step grid
    band_loss_lo: tuple[float, ...] = ()
    band_loss_hi: tuple[float, ...] = ()
    band_acc_lo: tuple[float, ...] = ()  # per epoch
    band_acc_hi: tuple[float, ...] = ()


@dataclass(frozen=True)
class AccuracyRow:
    label: str  # "baseline (Net)", "Kaiming", "BatchNorm"
    accuracy: float | None  # student's final test accuracy, 0..1; None when the run failed
    reference_mean: float  # mean over the calibration seeds, 0..1
    threshold: float  # pass mark, 0..1


@dataclass
class GradeResult:
    submission: str  # path or student id as given
    items: list[ItemResult] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    accuracy_table: list[AccuracyRow] = field(default_factory=list)
    filters_png: bytes | None = None  # first conv layer's learned filters as an image grid (PNG)
    proofs: list[ProofResult] = field(default_factory=list)  # "reference verified" section
    depth_profile_png: bytes | None = None  # Monte Carlo per-layer activation variance vs the Eq. 5 prediction
    protocol: str = ""  # the training protocol, in words
    seeds: dict[str, int] = field(default_factory=dict)  # which seed each run used
    environment: dict[str, str] = field(default_factory=dict)  # versions, device, threads, throughput
    isolation: str = ""  # what protected the machine
    limits: str = ""  # the limits in force
    notes: list[str] = field(default_factory=list)  # e.g. which notebook cells were used
    execution_time: float = 0.0  # seconds
    edition: str = "instructor"  # "instructor" or "student"
    timed_out: bool = False  # a child running the student's code was stopped by its wall-clock limit
    load_problem: str = ""  # why the submission's code did not import ("" when it did)

    @property
    def auto_items(self) -> list[ItemResult]:
        return [i for i in self.items if not i.manual and i.status != "skipped"]

    @property
    def score(self) -> float:
        return sum(i.score or 0.0 for i in self.auto_items)

    @property
    def regular_score(self) -> float:
        """Automatic points earned, bonus excluded."""
        return self.score - self.bonus_score

    @property
    def max_score(self) -> float:
        """Automatic points available, bonus excluded (bonus points come on top)."""
        return sum(i.max_score for i in self.auto_items if not i.bonus)

    @property
    def bonus_score(self) -> float:
        return sum(i.score or 0.0 for i in self.auto_items if i.bonus)

    @property
    def bonus_max(self) -> float:
        return sum(i.max_score for i in self.auto_items if i.bonus)

    @property
    def pending_manual(self) -> float:
        """Points a human grader still has to decide: the manual items and the automatic ones under review."""
        return sum(i.max_score for i in self.items if (i.manual and i.status != "skipped") or i.status == "review")
