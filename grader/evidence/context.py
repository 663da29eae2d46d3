"""Everything the rubric's judges of one grade share: the options, the data, the calibration, and the
observations of the submission, each gathered once and only when a selected item needs it.

The grading process never imports student code: observations come from sandboxed children through
`SubmissionRun`. Test labels stay here: children get unlabelled (and perturbed) test images only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from checks.time_limit import paused
from grader.calibration import Calibration
from grader.data import Cifar10, perturb_test_images
from grader.engine import Protocol
from grader.evidence.answers import Answers
from grader.evidence.cache import TrainingCache
from grader.evidence.probes import AUGMENT_IMAGES, ProbeInputs, make_probe_inputs
from grader.evidence.training import RunObservation, TrainingSetup, fresh_seeds, train_variants
from grader.options import GradeOptions
from grader.progress import PHASE, GradeEvent, Listener, ignore
from grader.sandbox.limits import Isolation
from grader.sandbox.notebook import item_note, kept_code
from grader.sandbox import protocol as P
from grader.sandbox.protocol import Task
from grader.sandbox.runner import SubmissionRun, TaskOutcome


class GraderFault(Exception):
    """The grader failed to observe the submission (its sandbox did not start, the machine starved it, its
    time limit per submission ran out): the item that needed the observation is the grader's error."""


@dataclass(frozen=True)
class Needs:
    """What the grading run must observe for a selection of items."""

    probes: tuple[Task, ...] = ()  # in the rubric's order, each once
    variants: tuple[str, ...] = ()  # in protocol.VARIANTS' order
    data: bool = False  # CIFAR-10 is loaded
    augment_images: bool = False


class GradeContext:
    def __init__(self, submission: Path, options: GradeOptions, needs: Needs, dataset: Cifar10 | None,
                 calibration: Calibration, protocol: Protocol, iso: Isolation, hidden: list[Path],
                 listener: Listener = ignore, cache: TrainingCache | None = None) -> None:
        self.submission, self.options, self.needs, self.listener = submission, options, needs, listener
        self.cache = cache  # trusted training runs to reuse (grader.evidence.cache)
        self.dataset, self.calibration, self.protocol, self.iso = dataset, calibration, protocol, iso
        self.run = SubmissionRun(submission, options.limits, iso, hidden, threads=options.threads)
        # the grader's own limit for this submission (time.monotonic()); children are stopped there too
        self.deadline = None if options.submission_limit_s is None else time.monotonic() + options.submission_limit_s
        self.run.deadline = self.deadline
        self.answers = Answers(submission)
        self.timings: dict[str, float] = {}  # phase -> seconds, for the report
        self._rng = np.random.default_rng(options.seed)
        self._inputs: ProbeInputs | None = None
        self._probe: dict[Task, TaskOutcome] | None = None
        self._training: dict[str, RunObservation] | None = None

    @property
    def edition(self) -> str:
        return self.options.edition

    def inputs(self) -> ProbeInputs:
        """The probe inputs, drawn once from the run's seed and put where every child can read them."""
        if self._inputs is None:
            aug = None
            if self.dataset is not None and self.needs.augment_images:
                aug = perturb_test_images(self.dataset.test_x[:AUGMENT_IMAGES], self.options.seed)
            self._inputs = make_probe_inputs(self._rng, aug)
            self.run.put_inputs(self._inputs.arrays)
        return self._inputs

    def _probes(self) -> dict[Task, TaskOutcome]:
        """Every probe task the selection needs and the starting networks of its graded runs, run in one child
        the first time anything asks for them."""
        if self._probe is None:
            start = time.perf_counter()
            timeout = self.options.limits.wall_s
            request = replace(self.inputs().request, task_timeout_s=timeout, seed=self.options.seed,
                              fresh_seeds=fresh_seeds(self.options.seed)[1:])
            tasks = list(self.needs.probes) + [P.start(v) for v in self.needs.variants]
            what = (f"running {len(self.needs.probes)} quick checks of the code in a sandbox" if self.needs.probes else
                    "building the starting networks in a sandbox")
            what += ", and building the starting networks there" if self.needs.probes and self.needs.variants else ""
            self.listener(GradeEvent(PHASE, what))
            with paused():  # the children have limits of their own; a judge's time limit counts its own work
                self._probe = self.run.run(tasks, request, timeout_s=timeout) if tasks else {}
            self.timings["probe checks and starting networks"] = time.perf_counter() - start
        return self._probe

    def probe(self, task: Task) -> TaskOutcome:
        """The outcome of a quick probe task (the first call runs them all: `_probes`)."""
        self._probe = self._probes()
        if task not in self._probe:  # a judge reads a task its item's row does not list: the grader's bug
            raise RuntimeError(f"probe task {task.key!r} was not scheduled: list it in the item's `probes` "
                               f"(grader/rubric/items.py)")
        outcome = self._probe[task]
        if outcome.grader_fault:
            raise GraderFault(outcome.error)
        return outcome

    def training(self) -> dict[str, RunObservation]:
        """The graded runs the selection needs, by variant name."""
        if self._training is None:
            variants = list(self.needs.variants)
            starts = {t: o for t, o in self._probes().items() if t.kind == "start"} if variants else {}
            setup = TrainingSetup(self.run, self.options, self.protocol, self.dataset, self.inputs(),
                                  self.listener, self.cache, starts) if variants else None
            with paused():  # trained under the children's limits, or the grader's own engine (bounded by the protocol)
                self._training = train_variants(setup, variants) if variants else {}
            for v, obs in self._training.items():
                if obs.verified:
                    self.timings[f"training {v} (grader{', reused' if obs.reused else ''})"] = obs.seconds
        return self._training

    def answer(self, dotted: str) -> tuple[object | None, str]:
        return self.answers.get(dotted)

    def code_notes(self, names: tuple[str, ...]) -> list[str]:
        """Where the graded code of `names` comes from, for an item's feedback: the notebook cells that ran for
        them, and contract names the submission spells another way."""
        notes = [f"{n} is spelled `{self.run.spellings[n]}` in the submission (accepted)" for n in names
                 if n in self.run.spellings]
        if self.run.entry.slice is not None:
            note = item_note(self.run.entry.slice, names)
            notes += [note] if note else []
        return notes

    def submission_source(self) -> str:
        """The graded source text (for static checks; never executed here)."""
        entry = self.run.entry
        if not entry.file:
            return ""
        if entry.slice is not None:  # a notebook: the statements that run
            return kept_code(entry.slice)
        try:
            return (self.run.scratch / "submission" / entry.file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        self.run.close()

