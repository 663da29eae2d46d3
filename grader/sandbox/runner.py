"""Runs tasks on a submission in sandboxed children and collects their raw, validated observations.

One `SubmissionRun` per graded submission: it owns a private scratch directory (a copy of the submission,
the inputs, one output folder per child) and recovers from children that crash or hang: the task that was
running is marked failed with the reason, and a fresh child runs the remaining tasks. A child that ends in a
way that is the grader's failure (`ChildOutcome.grader_fault`), or that is stopped by the grader's own limit
per student (`deadline`), fails its remaining tasks with `grader_fault` set: the rubric reports those items as
the grader's error, never as the student's 0.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from grader.sandbox.limits import Isolation, Limits
from grader.sandbox.process import load_array, make_scratch, run_child
from grader.sandbox.notebook import slice_entry
from grader.sandbox.protocol import CONTRACT, Request, Task
from grader.sandbox.submission import Entry, locate_entry
from grader.sandbox.tree import remove_tree


@dataclass
class TaskOutcome:
    ok: bool
    error: str = ""  # why it failed, in words a student can act on
    grader_fault: bool = False  # it failed for a reason that is not the student's (the machine's load): regrade
    data: dict = field(default_factory=dict)  # the child's JSON for this task
    out_dir: Path | None = None  # where its arrays are
    seconds: float = 0.0
    grader_fault: bool = False  # the grader failed to observe it (error says how); nothing of the student's

    def array(self, name: str, **expect) -> np.ndarray:
        if self.out_dir is None:
            raise ValueError("no output")
        return load_array(self.out_dir, name, **expect)


class SubmissionRun:
    def __init__(self, folder: Path, limits: Limits, iso: Isolation, hidden: list[Path], threads: int = 2,
                 scratch_base: Path | None = None) -> None:
        self.folder, self.limits, self.iso, self.hidden, self.threads = folder, limits, iso, hidden, threads
        self.entry: Entry = locate_entry(folder)
        self.scratch = make_scratch(folder if self.entry.file else None, base=scratch_base, notes=self.entry.notes,
                                    first=self.entry.file)
        self._children = 0
        self.child_seconds: dict[str, float] = {}  # phase -> wall seconds, for the report
        self.stops: list[str] = []  # how every child that did not end normally ended: "timeout", "memory", ...
        self.load_problem = ""  # why the submission's code did not import, once a child found that it did not
        self.deadline: float | None = None  # time.monotonic() by which every child must have ended (the grader's
        #                                     limit per student); a child stopped there is the grader's failure
        self.deadline_hit = False
        self.load_warnings: list[str] = []  # statements of a notebook's slice that raised while loading
        self.spellings: dict[str, str] = {}  # contract name -> the spelling the submission uses (RMSprop)
        if self.entry.notebook:
            self.entry = slice_entry(self, self.entry)

    def put_inputs(self, arrays: dict[str, np.ndarray]) -> None:
        for name, arr in arrays.items():
            np.save(self.scratch / "in" / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)

    def run(self, tasks: list[Task], request: Request, timeout_s: float | None = None,
            carry: list[Path] = (), limits: Limits | None = None) -> dict[Task, TaskOutcome]:
        """Run `tasks` (all of one phase) in as many children as it takes; every task gets an outcome. `carry`:
        files of earlier children that each child finds in its work/; `limits` replaces the run's limits for
        these children, `timeout_s` their wall-clock limit."""
        if not self.entry.file:
            return {t: TaskOutcome(False, error=self.entry.problem) for t in tasks}
        phases = {t.phase for t in tasks}
        if len(phases) != 1:
            raise ValueError(f"one phase per child, got {sorted(phases)}")
        phase = phases.pop()
        limits = limits or self.limits
        limits = limits if timeout_s is None else replace(limits, wall_s=timeout_s)
        results: dict[Task, TaskOutcome] = {}
        remaining = list(tasks)
        while remaining:
            left = None if self.deadline is None else self.deadline - time.monotonic()
            if left is not None and left <= 1:
                self.deadline_hit = True
                for t in remaining:
                    results[t] = TaskOutcome(False, error=DEADLINE_TEXT, grader_fault=True)
                break
            child_limits = limits if left is None or left >= limits.wall_s else replace(limits, wall_s=left)
            job = replace(request, tasks=[t.key for t in remaining], entry=self.entry.file, threads=self.threads)
            self._children += 1
            kept = self.scratch / f"out{self._children}"
            outcome = run_child(phase, job.to_json(), self.scratch, child_limits, self.iso, kept, self.hidden, carry)
            self.child_seconds[phase] = self.child_seconds.get(phase, 0.0) + outcome.seconds
            if outcome.status == "timeout" and child_limits is not limits:  # stopped by the grader's deadline
                outcome.status, self.deadline_hit = "deadline", True
            if outcome.status != "ok":
                self.stops.append(outcome.status)
            if outcome.results.get("load_error") and not self.load_problem:
                self.load_problem = str(outcome.results["load_error"])[:2000]
            self._note_load(outcome.results)
            reported = outcome.results.get("tasks", {}) if isinstance(outcome.results.get("tasks"), dict) else {}
            for t in remaining:
                r = reported.get(t.key)
                if isinstance(r, dict) and isinstance(r.get("ok"), bool):
                    results[t] = TaskOutcome(ok=r["ok"], error=str(r.get("error", ""))[:2000], data=r, out_dir=kept,
                                             seconds=_seconds(r.get("seconds")))
            remaining = [t for t in remaining if t not in results]
            if not remaining or outcome.status == "ok" and outcome.results.get("_complete") is True:
                for t in remaining:  # complete yet silent about a task: treat as failed, never as passed
                    results[t] = TaskOutcome(False, error="no result was reported")
                break
            if outcome.grader_fault or outcome.status == "deadline":
                reason = DEADLINE_TEXT if outcome.status == "deadline" else outcome.describe_failure(limits)
                for t in remaining:
                    results[t] = TaskOutcome(False, error=reason, seconds=outcome.seconds, grader_fault=True)
                break
            current = outcome.results.get("_current")
            culprit = next((t for t in remaining if t.key == current), None)
            reason = outcome.describe_failure(limits) if outcome.status != "ok" else "the process ended early"
            if culprit is None:
                for t in remaining:
                    results[t] = TaskOutcome(False, error=f"while importing the submission, {reason}", seconds=outcome.seconds)
                self.load_problem = self.load_problem or f"while importing the submission, {reason}"
                break
            # the rubric names the function ("Net(): ..."), so the reason stands alone here
            results[culprit] = TaskOutcome(False, error=reason, seconds=outcome.seconds)
            remaining = [t for t in remaining if t not in results]
        return results

    def _note_load(self, results: dict) -> None:
        """What a child's import found besides success or failure: statements of the slice that raised, and
        contract names spelled another way (both strings the child wrote: capped, never trusted)."""
        warnings = results.get("load_warnings")
        if isinstance(warnings, list) and not self.load_warnings:
            self.load_warnings = [str(w)[:500] for w in warnings[:20]]
        spellings = results.get("spellings")
        if isinstance(spellings, dict):
            self.spellings.update({str(k)[:40]: str(v)[:40] for k, v in list(spellings.items())[:20]
                                   if str(k) in CONTRACT})

    def close(self) -> None:
        remove_tree(self.scratch)


def _seconds(value) -> float:
    """A duration from the child's JSON, which the submission may have written itself: never an exception."""
    try:
        seconds = float(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return seconds if 0 <= seconds < 1e9 else 0.0


DEADLINE_TEXT = "not observed: the grader's time limit for one submission was reached before this ran"
