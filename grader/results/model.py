"""Plain result objects: what a grading run found, independent of how it is rendered (JSON, HTML, badge)."""
from __future__ import annotations

from dataclasses import dataclass, field

from checks.verdict import ProofResult


UNCOUNTED = ("error", "format")  # item statuses that count in no total


@dataclass(frozen=True)
class ItemResult:
    number: str  # rubric number, e.g. "5.1.1"
    name: str  # e.g. "Net architecture"
    max_score: float  # points
    score: float | None  # points earned; None for a manual item (pending a human grader), an error or a format check
    # "passed" | "partial" | "failed" | "pending" (manual) | "review" (automatic, scored 0 until a human
    # confirms a measurement the grader could not verify) | "skipped" (not selected by --only) | "error" (the
    # grader could not check it: no score, counted nowhere, the grade is incomplete) | "format" (student
    # edition: only its form was checked; the instructor's run scores it, so it counts in no total here)
    status: str
    feedback: str  # what was checked and which defect was found (plain text; escaped when rendered)
    manual: bool = False
    bonus: bool = False  # points beyond the 100 of the handout (Problem 5.4)
    student_text: str = ""  # free text shown to the manual grader (answers.toml), length-capped
    diagnoses: tuple[str, ...] = ()  # codes of the known defects the feedback names (checks.diagnoses)
    proposed_score: float | None = None  # status "review": the points the measurement would earn if confirmed
    hand_graded: bool = False  # score given by a human grader (`hw2-grade finalize`), not by the grader
    comment: str = ""  # the human grader's comment


def review_note(proposed: float, points: float) -> str:
    """What the feedback of an item under review starts with (rubric.plugin writes it, finalize removes it once a
    human has scored the item)."""
    return f"[for the instructor to confirm: as measured it would earn {proposed:g} of {points:g}; 0 until confirmed]"


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
    pass_mark: float | None = None  # calibrated pass mark of the final epoch's test accuracy, 0..1


@dataclass(frozen=True)
class AccuracyRow:
    label: str  # "baseline (Net)", "Kaiming", "BatchNorm"
    accuracy: float | None  # student's final test accuracy, 0..1; None when the run failed
    reference_mean: float  # mean over the calibration seeds, 0..1
    threshold: float  # pass mark, 0..1


@dataclass
class GradeResult:
    submission: str  # the student's or repository's name (never an absolute path); grader.evidence.origin
    items: list[ItemResult] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    accuracy_table: list[AccuracyRow] = field(default_factory=list)
    commit: str = ""  # the graded commit (abbreviated hash) when the folder is a git checkout or the roster names one
    filters_png: bytes | None = None  # first conv layer's learned filters (PNG, grader.results.plots.filters_png)
    reference_filters_png: bytes | None = None  # the reference's, from the calibration, shown beside them
    train_epochs: int = 0  # epochs of the graded training runs (the report says what to expect of the filters)
    proofs: list[ProofResult] = field(default_factory=list)  # the reference's self-checks (one line in the report)
    reference_page: str = ""  # relative link to the instructor's page of those checks, when one is written beside
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
    late_penalty: float = 0.0  # points taken off the total for lateness (`hw2-grade finalize --deadline`)
    late_note: str = ""  # how late, by what evidence, and the penalty, in words ("" when no late policy applies)
    regrade_notes: list[str] = field(default_factory=list)  # items a later manual CSV changed, in words
    deadline_hit: bool = False  # the grader's own time limit for the whole submission was reached
    reused_runs: list[str] = field(default_factory=list)  # labels of the training runs reused from the cache
    graded_code: str = ""  # a notebook's statements that were run, as one file (the batch compares them for similarity)

    @property
    def manual_items(self) -> list[ItemResult]:
        return [i for i in self.items if i.manual and i.status != "skipped"]

    @property
    def auto_items(self) -> list[ItemResult]:
        """The automatic items that were run, whatever became of them."""
        return [i for i in self.items if not i.manual and i.status != "skipped"]

    @property
    def scored_items(self) -> list[ItemResult]:
        """The items whose score counts: the automatic ones but the grader's errors and the format checks, and
        the manual ones once graded by hand (an item under review counts 0 until a human confirms it)."""
        return [i for i in self.auto_items + self.manual_items if i.status not in UNCOUNTED and i.score is not None]

    @property
    def errors(self) -> list[ItemResult]:
        return [i for i in self.items if i.status == "error"]

    @property
    def incomplete(self) -> bool:
        """Some item could not be checked by the grader: the totals miss it, and the grade is not final."""
        return bool(self.errors)

    @property
    def earned(self) -> float:
        """Points of every scored item, bonus included, before any late penalty."""
        return sum(i.score or 0.0 for i in self.scored_items)

    @property
    def score(self) -> float:
        """The total: every scored item, bonus included, less the late penalty (never below 0)."""
        return max(0.0, self.earned - self.late_penalty)

    @property
    def hand_score(self) -> float:
        """Points given by a human grader (manual items, and review items confirmed or overruled)."""
        return sum(i.score or 0.0 for i in self.items if i.hand_graded)

    @property
    def regular_score(self) -> float:
        """Points earned, bonus excluded, after the late penalty."""
        return max(0.0, self.score - self.bonus_score)

    @property
    def max_score(self) -> float:
        """Points available of the items scored so far, bonus excluded (bonus points come on top): the automatic
        items the grader could score, and the manual ones once graded by hand."""
        return sum(i.max_score for i in self.scored_items if not i.bonus)

    @property
    def bonus_score(self) -> float:
        return sum(i.score or 0.0 for i in self.scored_items if i.bonus)

    @property
    def bonus_max(self) -> float:
        return sum(i.max_score for i in self.scored_items if i.bonus)

    @property
    def pending_manual(self) -> float:
        """Points a human still has to decide: the manual items not graded yet, the automatic ones under review,
        and (student edition) those whose form only was checked here."""
        return sum(i.max_score for i in self.items if (i.manual and i.status != "skipped" and i.score is None)
                   or i.status in ("review", "format"))
