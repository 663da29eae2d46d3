"""`hw2-grade batch ROSTER --out DIR ...` and `hw2-grade finalize DIR --manual manual.csv ...`: parse the
arguments, run the batch or the merge, print a summary, and turn expected failures into one line (one per
problem) and an exit status."""
from __future__ import annotations

import sys
from pathlib import Path

from grader.batch.classpage import INDEX_FILE
from grader.batch.config import BatchConfig, BatchError
from grader.batch.executors import EXECUTORS
from grader.batch.exports import EXPORTS_DIR
from grader.batch.finalize import FinalizeConfig, FinalizeError, finalize
from grader.batch.gradebook import GRADEBOOK_FILE
from grader.batch.late import LatePolicyError, make_policy
from grader.batch.manualpage import MANUAL_PAGE
from grader.batch.progress import Display, PlainDisplay, RichDisplay, clock
from grader.batch.records import DONE_STATUSES, STATUSES, load_record
from grader.batch.roster import RosterColumns, RosterError, read_roster
from grader.batch.run import run_batch
from grader.batch.similarity import SimilarityConfig
from grader.data import DataError
from grader.messages import ArgumentParser, fail, plural
from grader.rubric.items import RUBRIC, SelectionError


def _parser() -> ArgumentParser:
    p = ArgumentParser(prog="hw2-grade batch", description="Grade a class from a roster CSV "
                                "(student_id,path[,commit]); each student's files go to DIR/<student_id>/.",
                                epilog="Exit status: 0 when every student has a grade or a 'failed to load' status; "
                                       "1 when some students need a rerun ('worker died', 'error': the grader's failures); 2 on bad input; "
                                       "130 when interrupted (finished students are kept; rerun to continue).")
    p.add_argument("roster", type=Path, help="CSV with a student id column, a path column (folder or git URL), an "
                                              "optional commit column, and any other columns (kept in the gradebook)")
    p.add_argument("--out", type=Path, required=True, help="folder for the students' files, gradebook.csv and index.html")
    p.add_argument("--jobs", type=int, default=BatchConfig.jobs,
                   help=f"students graded at once (worker processes); default {BatchConfig.jobs}")
    p.add_argument("--threads", type=int, default=BatchConfig.threads,
                   help=f"torch threads per worker and per sandboxed child; default {BatchConfig.threads}")
    p.add_argument("--no-cache", action="store_true",
                   help="train every run, even one from starting weights a run of this batch already trained")
    p.add_argument("--executor", choices=tuple(EXECUTORS), default="local", help="local process pool or a dask cluster")
    p.add_argument("--scheduler", help="dask scheduler address (tcp://host:8786); default: a local cluster of --jobs workers")
    p.add_argument("--only", help="comma-separated rubric numbers or prefixes, e.g. 5.1,1.2")
    p.add_argument("--regrade", action="store_true", help="grade students again even when they are already graded")
    p.add_argument("--data", help="CIFAR-10 location (default: $HW2_CIFAR10)")
    p.add_argument("--seed", type=int, default=BatchConfig.seed, help="seed of every student's inputs and training runs")
    p.add_argument("--id-column", default=RosterColumns.id, help=f"roster column of the student id (default {RosterColumns.id})")
    p.add_argument("--path-column", default=RosterColumns.path,
                   help=f"roster column of the folder or repository URL (default {RosterColumns.path})")
    p.add_argument("--commit-column", default=RosterColumns.commit,
                   help=f"roster column of the commit to grade, if any (default {RosterColumns.commit})")
    p.add_argument("--similarity-threshold", type=float, default=SimilarityConfig.threshold,
                   help=f"list pairs of submissions sharing at least this share of their code (default "
                        f"{SimilarityConfig.threshold})")
    p.add_argument("--boilerplate", type=Path, action="append", default=[],
                   help="a starter-code file every student got, ignored by the similarity check (repeatable)")
    p.add_argument("--no-similarity", action="store_true", help="skip the similarity check")
    p.add_argument("--student-limit", type=float, default=BatchConfig.submission_limit_s, metavar="SECONDS",
                   help="the grader's own time limit for one student; past it the student is 'timed out' and the "
                        f"class goes on (default {BatchConfig.submission_limit_s:g})")
    p.add_argument("--remote-only", action="store_true",
                   help="accept only remote https:// or ssh repositories in the roster (never local paths or "
                        "file://): for rosters made from what students submitted")
    return p


def _fail(message: str, command: str = "batch") -> int:
    return fail(message, prog=f"hw2-grade {command}")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.jobs < 1:
        return _fail("--jobs must be at least 1")
    if args.threads < 1:
        return _fail("--threads must be at least 1")
    if args.scheduler and args.executor != "dask":
        return _fail("--scheduler needs --executor dask")
    if not args.student_limit > 0:
        return _fail("--student-limit must be a positive number of seconds")
    try:
        selected = RUBRIC.select(args.only)
    except SelectionError as e:
        return _fail(str(e))
    if not 0.0 < args.similarity_threshold <= 1.0:
        return _fail("--similarity-threshold must be in (0, 1]")
    similarity = None if args.no_similarity else SimilarityConfig(threshold=args.similarity_threshold,
                                                                  boilerplate=tuple(args.boilerplate))
    columns = RosterColumns(id=args.id_column, path=args.path_column, commit=args.commit_column)
    config = BatchConfig(roster=args.roster, out=args.out, selected=selected, jobs=args.jobs, executor=args.executor,
                         scheduler=args.scheduler, regrade=args.regrade, data=args.data, seed=args.seed,
                         columns=columns, similarity=similarity, submission_limit_s=args.student_limit,
                         remote_only=args.remote_only, threads=args.threads, cache=not args.no_cache)
    display: Display = RichDisplay() if sys.stdout.isatty() else PlainDisplay()
    try:
        summary = run_batch(config, display=display)
    except (RosterError, BatchError, DataError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        done = _done(args.roster, args.out, columns)
        print(f"\ninterrupted: {plural(done, 'student')} {'is' if done == 1 else 'are'} graded and kept in {args.out}; "
              f"run the same command again to grade the rest", file=sys.stderr)
        return 130
    counts = summary.counts
    print(f"{plural(len(summary.records), 'student')}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
          + f" ({summary.skipped} skipped as already graded) in {clock(summary.seconds)}")
    print(f"gradebook: {args.out / GRADEBOOK_FILE}\nsummary:   {args.out / INDEX_FILE}\n"
          f"by hand:   {args.out / MANUAL_PAGE} (then hw2-grade finalize {args.out} --manual manual.csv)")
    if summary.needs_rerun:
        print(f"{plural(summary.needs_rerun, 'student')} need{'s' if summary.needs_rerun == 1 else ''} a rerun (worker "
              f"died or grader error): run the same command again",
              file=sys.stderr)
        return 1
    return 0


def _finalize_parser() -> ArgumentParser:
    p = ArgumentParser(prog="hw2-grade finalize", description="Merge the hand-given scores into every "
                                "graded student's results.json, report and badge, apply the late policy, and write the "
                                "final gradebook and the LMS exports (DIR/exports/).",
                                epilog="Exit status: 0 when merged; 2 on bad input (one line per problem, nothing written).")
    p.add_argument("out", type=Path, help="the --out folder of hw2-grade batch")
    p.add_argument("--manual", type=Path, help="CSV student_id,item,score[,comment], as manual.html exports it")
    p.add_argument("--deadline", help="ISO 8601 time with its zone, e.g. 2026-03-14T15:30+08:00: turns the late policy on")
    p.add_argument("--late-penalty", type=float, help="percent of the earned points taken off per day late "
                                                       "(a started day counts; needed with --deadline)")
    p.add_argument("--assignment", default=FinalizeConfig.assignment,
                   help=f"the assignment's name in the LMS exports (default {FinalizeConfig.assignment!r})")
    p.add_argument("--canvas-assignment-id", default="", help="Canvas's id of the assignment, when it exists there")
    return p


def finalize_main(argv: list[str]) -> int:
    args = _finalize_parser().parse_args(argv)
    if (args.deadline is None) != (args.late_penalty is None):
        return _fail("--deadline and --late-penalty go together", "finalize")
    try:
        late = make_policy(deadline=args.deadline, percent_per_day=args.late_penalty) if args.deadline else None
        summary = finalize(FinalizeConfig(out=args.out, manual=args.manual, late=late, assignment=args.assignment,
                                          canvas_assignment_id=args.canvas_assignment_id))
    except (FinalizeError, LatePolicyError) as e:
        for line in str(e).splitlines():
            print(f"hw2-grade finalize: error: {line}", file=sys.stderr)
        return 2
    print(f"{summary.finalized} students finalized, {summary.hand_scores} scores given by hand merged")
    for sid, changes in summary.changed.items():
        print(f"  regraded {sid}: {'; '.join(changes)}")
    print(f"gradebook: {args.out / GRADEBOOK_FILE}")
    for export in summary.exports:
        print(f"{EXPORTS_DIR}/   {export.note}")
    return 0


def _done(roster: Path, out: Path, columns: RosterColumns) -> int:
    """Students of the roster with a finished grade in DIR (0 when the roster cannot be read)."""
    try:
        entries = read_roster(roster, columns)
    except RosterError:
        return 0
    return sum(1 for e in entries if (record := load_record(out / e.student_id)) and record.status in DONE_STATUSES)
