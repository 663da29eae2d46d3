"""`hw2-grade`: a thin command line over the library. It parses arguments, calls library functions with
keyword arguments, prints a summary, and turns expected failures into one clear line (exit 2).
`hw2-grade COMMAND ...` runs the `main(argv)` of the command's module. While a single grade runs on a
terminal, one live line shows the item, the phase and the elapsed time (grader.progress); `--quiet`, or
output that is not a terminal, shows nothing but the summary.

Exit codes of a grade: 0 graded (whatever the score); 2 the grader cannot run (bad arguments, no data);
3 incomplete (the grader could not check some items: the outputs say which, the badge says "incomplete");
130 interrupted (SIGINT, Ctrl-C, a cancelled CI job): nothing is written."""
from __future__ import annotations

import contextlib
import importlib
import signal
import sys
from pathlib import Path

from grader.data import DataError
from grader.grade import grade
from grader.messages import ArgumentParser, fail
from grader.options import EDITIONS, GradeOptions, default_training_cache, installed_edition
from grader.progress import TerminalProgress, ignore
from grader.results.model import GradeResult
from grader.results.write import write_outputs
from grader.rubric.items import RUBRIC, SelectionError

# command -> "module" whose main(argv) runs it, or "module:function". Imported on use: the instructor's commands
# need solutions/, which the student edition lacks, and each pulls in its own dependencies.
COMMANDS = {"calibrate": "grader.tools.calibrate", "batch": "grader.batch.cli", "export-student": "grader.tools.export_student",
            "init-ci": "grader.tools.ci_init", "bench": "grader.tools.bench", "verify-reference": "grader.reference.page",
            "finalize": "grader.batch.cli:finalize_main", "gradescope-package": "grader.tools.gradescope_package:main",
            "gradescope-run": "grader.tools.gradescope_package:run_main"}
INSTRUCTOR_COMMANDS = ("calibrate", "bench", "export-student", "verify-reference", "gradescope-package")
INTERNAL_COMMANDS = ("gradescope-run",)  # run by the Gradescope package's run_autograder, not by people


def _grade_parser() -> ArgumentParser:
    p = ArgumentParser(prog="hw2-grade", description="Grade a homework-2 submission folder.",
                       epilog=f"Other commands: {', '.join(COMMANDS)} (hw2-grade COMMAND --help).")
    p.add_argument("submission", type=Path, help="folder holding submission.py (or one notebook) and answers.toml")
    p.add_argument("--out", type=Path, required=True, help="folder for results.json, report.html, badge.svg")
    p.add_argument("--only", help="comma-separated rubric numbers or prefixes, e.g. 5.1,1.2")
    p.add_argument("--data", help="CIFAR-10: image-folder directory or zip, or cifar-10-batches-py (default: $HW2_CIFAR10)")
    p.add_argument("--seed", type=int, default=GradeOptions.seed,
                   help="seed of the inputs, training runs and test-image perturbation")
    p.add_argument("--no-verify", action="store_true", help="skip the reference self-checks (one line in the report)")
    p.add_argument("--no-cache", action="store_true",
                   help="train every run, even one the grader already trained from identical starting weights")
    p.add_argument("--edition", choices=EDITIONS, default=None,
                   help="which rubric runs (default: this installation's edition)")
    p.add_argument("--quiet", action="store_true", help="no progress line while grading (there is none when the "
                   "output is not a terminal)")
    return p


def grade_main(argv: list[str]) -> int:
    args = _grade_parser().parse_args(argv)
    if not args.submission.exists():
        return fail(f"submission folder {args.submission} does not exist")
    if not args.submission.is_dir():
        return fail(f"{args.submission} is not a folder: give the folder that holds submission.py")
    try:
        selected = RUBRIC.select(args.only)
    except SelectionError as e:
        return fail(str(e))
    edition = args.edition or installed_edition()
    if edition == "instructor" and installed_edition() == "student":
        return fail("this is the student edition: it has no instructor rubric (use --edition student)")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return fail(f"cannot create the output folder {args.out}: {e.strerror}")
    options = GradeOptions(selected=selected, data=args.data, seed=args.seed, verify_reference=not args.no_verify,
                           edition=edition, training_cache=None if args.no_cache else default_training_cache())
    show = not args.quiet and sys.stderr.isatty()
    try:
        with TerminalProgress() if show else contextlib.nullcontext(ignore) as listener:
            result = grade(args.submission, options, listener=listener)
    except DataError as e:
        return fail(str(e))
    except KeyboardInterrupt:
        print(f"\nhw2-grade: interrupted; nothing was written to {args.out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the three files are written together or not at all
    try:
        write_outputs(result, args.out)
    finally:
        signal.signal(signal.SIGINT, previous)
    print(summary(result, args.out))
    return EXIT_INCOMPLETE if result.incomplete else 0


EXIT_INCOMPLETE = 3  # the grader could not check every selected item
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def summary(result: GradeResult, out: Path) -> str:
    bonus = f" + {result.bonus_score:g} / {result.bonus_max:g} bonus" if result.bonus_max else ""
    name = result.submission + (f" @ {result.commit}" if result.commit else "")
    lines = [f"{name}: {result.regular_score:g} / {result.max_score:g} automatic points{bonus}"
             f" (+ {result.pending_manual:g} manual points pending) in {result.execution_time:.0f} s"]
    for item in result.items:
        if item.status == "skipped":
            continue
        score = "pending" if item.manual else "–" if item.score is None else f"{item.score:g}/{item.max_score:g}"
        lines.append(f"  {item.number:<6} {item.name:<40} {score:>9}  {item.status}")
    if result.load_problem:
        lines.append(f"FAILED TO LOAD: {result.load_problem[:300]}")
    if result.incomplete:
        lines.append(f"INCOMPLETE: the grader could not check {', '.join(i.number for i in result.errors)} (its own "
                     f"failure; they count in no total): grade again")
    lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines)


def looks_like_command(word: str) -> bool:
    """A first argument that names no folder and reads like a command word, not a path."""
    return word.replace("-", "").isalnum() and not word.startswith("-") and not Path(word).exists()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        command, rest = argv[0], argv[1:]
        if command in INSTRUCTOR_COMMANDS and installed_edition() == "student":
            return fail(f"`hw2-grade {command}` needs the reference solutions: the instructor's edition only")
        module, _, function = COMMANDS[command].partition(":")
        return getattr(importlib.import_module(module), function or "main")(rest)
    if argv and looks_like_command(argv[0]):
        listed = ", ".join(c for c in COMMANDS if c not in INTERNAL_COMMANDS)
        return fail(f"unknown command: {argv[0]} (commands: {listed}; to grade a folder, give its path, "
                    f"e.g. ./{argv[0]})")
    return grade_main(argv)


if __name__ == "__main__":
    sys.exit(main())
