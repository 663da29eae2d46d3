"""`hw2-grade batch ROSTER --out DIR ...`: parse the arguments, run the batch, print a summary, and turn
expected failures into one line and an exit status."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.batch.classpage import INDEX_FILE
from grader.batch.config import BatchConfig, BatchError
from grader.batch.executors import EXECUTORS
from grader.batch.gradebook import GRADEBOOK_FILE
from grader.batch.progress import Display, PlainDisplay, RichDisplay, clock
from grader.batch.records import DONE_STATUSES, STATUSES, load_record
from grader.batch.roster import RosterError, read_roster
from grader.batch.run import run_batch
from grader.data import DataError
from grader.rubric.items import RUBRIC, SelectionError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hw2-grade batch", description="Grade a class from a roster CSV "
                                "(student_id,path[,commit]); each student's files go to DIR/<student_id>/.",
                                epilog="Exit status: 0 when every student has a grade or a 'failed to load' status; "
                                       "1 when some students need a rerun ('worker died', 'error': the grader's failures); 2 on bad input; "
                                       "130 when interrupted (finished students are kept; rerun to continue).")
    p.add_argument("roster", type=Path, help="CSV with the header student_id,path[,commit]")
    p.add_argument("--out", type=Path, required=True, help="folder for the students' files, gradebook.csv and index.html")
    p.add_argument("--jobs", type=int, default=2, help="students graded at once (worker processes); default 2")
    p.add_argument("--executor", choices=tuple(EXECUTORS), default="local", help="local process pool or a dask cluster")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://host:8786); default: a local cluster of --jobs workers")
    p.add_argument("--only", help="comma-separated rubric numbers or prefixes, e.g. 5.1,1.2")
    p.add_argument("--regrade", action="store_true", help="grade students again even when they are already graded")
    p.add_argument("--data", help="CIFAR-10 location (default: $HW2_CIFAR10)")
    p.add_argument("--seed", type=int, default=0, help="seed of every student's inputs and training runs (default 0)")
    p.add_argument("--student-limit", type=float, default=BatchConfig.submission_limit_s, metavar="SECONDS",
                   help="the grader's own time limit for one student; past it the student is 'timed out' and the "
                        f"class goes on (default {BatchConfig.submission_limit_s:g})")
    p.add_argument("--remote-only", action="store_true",
                   help="accept only remote https:// or ssh repositories in the roster (never local paths or "
                        "file://): for rosters made from what students submitted")
    return p


def _fail(message: str) -> int:
    print(f"hw2-grade batch: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.jobs < 1:
        return _fail("--jobs must be at least 1")
    if args.scheduler and args.executor != "dask":
        return _fail("--scheduler needs --executor dask")
    if not args.student_limit > 0:
        return _fail("--student-limit must be a positive number of seconds")
    try:
        selected = RUBRIC.select(args.only)
    except SelectionError as e:
        return _fail(str(e))
    config = BatchConfig(roster=args.roster, out=args.out, selected=selected, jobs=args.jobs, executor=args.executor,
                         scheduler=args.scheduler, regrade=args.regrade, data=args.data, seed=args.seed,
                         submission_limit_s=args.student_limit, remote_only=args.remote_only)
    display: Display = RichDisplay() if sys.stdout.isatty() else PlainDisplay()
    try:
        summary = run_batch(config, display=display)
    except (RosterError, BatchError, DataError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print(f"\ninterrupted: {_done(args.roster, args.out)} students are graded and kept in {args.out}; run the same "
              f"command again to grade the rest", file=sys.stderr)
        return 130
    counts = summary.counts
    print(f"{len(summary.records)} students: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
          + f" ({summary.skipped} skipped as already graded) in {clock(summary.seconds)}")
    print(f"gradebook: {args.out / GRADEBOOK_FILE}\nsummary:   {args.out / INDEX_FILE}")
    if summary.needs_rerun:
        print(f"{summary.needs_rerun} students need a rerun (worker died or grader error): run the same command again",
              file=sys.stderr)
        return 1
    return 0


def _done(roster: Path, out: Path) -> int:
    """Students of the roster with a finished grade in DIR (0 when the roster cannot be read)."""
    try:
        entries = read_roster(roster)
    except RosterError:
        return 0
    return sum(1 for e in entries if (record := load_record(out / e.student_id)) and record.status in DONE_STATUSES)
