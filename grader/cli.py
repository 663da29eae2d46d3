"""`hw2-grade`: a thin command line over the library. It parses arguments, calls library functions with
keyword arguments, prints a summary, and turns expected failures into one clear message (exit 2)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SUBCOMMANDS = ("calibrate", "batch", "export-student", "init-ci", "bench")
INSTRUCTOR_COMMANDS = ("calibrate", "bench", "export-student")  # they use solutions/, which the student edition lacks


def _grade_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hw2-grade", description="Grade a homework-2 submission folder.",
                                epilog=f"Other commands: {', '.join(SUBCOMMANDS)} (hw2-grade COMMAND --help).")
    p.add_argument("submission", type=Path, help="folder holding submission.py (or one notebook) and answers.toml")
    p.add_argument("--out", type=Path, required=True, help="folder for results.json, report.html, badge.svg")
    p.add_argument("--only", help="comma-separated rubric numbers or prefixes, e.g. 5.1,1.2")
    p.add_argument("--data", help="CIFAR-10: image-folder directory or zip, or cifar-10-batches-py (default: $HW2_CIFAR10)")
    p.add_argument("--seed", type=int, default=None, help="seed of the inputs, training runs and test-image perturbation")
    p.add_argument("--no-verify", action="store_true", help="skip the reference proofs in the report")
    p.add_argument("--edition", choices=("instructor", "student"), default=None,
                   help="which rubric runs (default: this installation's edition)")
    return p


def _fail(message: str) -> int:
    print(f"hw2-grade: error: {message}", file=sys.stderr)
    return 2


def grade_main(argv: list[str]) -> int:
    from grader.data import DataError
    from grader.grade import GradeOptions, grade
    from grader.gradescope import write_outputs
    from grader.rubric import SelectionError, select

    args = _grade_parser().parse_args(argv)
    if not args.submission.exists():
        return _fail(f"submission folder {args.submission} does not exist")
    if not args.submission.is_dir():
        return _fail(f"{args.submission} is not a folder: give the folder that holds submission.py")
    try:
        selected = select(args.only)
    except SelectionError as e:
        return _fail(str(e))
    from grader.grade import installed_edition

    edition = args.edition or installed_edition()
    if edition == "instructor" and installed_edition() == "student":
        return _fail("this is the student edition: it has no instructor rubric (use --edition student)")
    kwargs = {"selected": selected, "data": args.data, "verify_reference": not args.no_verify, "edition": edition}
    if args.seed is not None:
        kwargs["seed"] = args.seed
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return _fail(f"cannot create the output folder {args.out}: {e.strerror}")
    try:
        result = grade(args.submission, GradeOptions(**kwargs))
    except DataError as e:
        return _fail(str(e))
    write_outputs(result, args.out)
    print(summary(result, args.out))
    return 0


def summary(result, out: Path) -> str:
    bonus = f" + {result.bonus_score:g} / {result.bonus_max:g} bonus" if result.bonus_max else ""
    lines = [f"{result.submission}: {result.score - result.bonus_score:g} / {result.max_score:g} automatic points{bonus}"
             f" (+ {result.pending_manual:g} manual points pending) in {result.execution_time:.0f} s"]
    for item in result.items:
        if item.status == "skipped":
            continue
        score = "pending" if item.manual else f"{item.score:g}/{item.max_score:g}"
        lines.append(f"  {item.number:<6} {item.name:<40} {score:>9}  {item.status}")
    lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines)


def calibrate_main(argv: list[str]) -> int:
    from grader.calibration import calibrate
    from grader.data import DataError, load_cifar10
    from grader.engine import Protocol

    p = argparse.ArgumentParser(prog="hw2-grade calibrate", description="Recalibrate the training pass marks "
                                "from runs of the reference solution (writes grader/calibration.json).")
    p.add_argument("--data", help="CIFAR-10 location (default: $HW2_CIFAR10)")
    p.add_argument("--seeds", type=int, default=8, help="number of seeds per variant (at least 5)")
    args = p.parse_args(argv)
    if args.seeds < 5:
        return _fail("--seeds must be at least 5")
    try:
        dataset = load_cifar10(args.data)
    except DataError as e:
        return _fail(str(e))
    calibrate(dataset, seeds=list(range(args.seeds)), protocol=Protocol(),
              command=f"hw2-grade calibrate --seeds {args.seeds}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        command, rest = argv[0], argv[1:]
        if command in INSTRUCTOR_COMMANDS:
            from grader.grade import installed_edition

            if installed_edition() == "student":
                return _fail(f"`hw2-grade {command}` needs the reference solutions: the instructor's edition only")
        if command == "calibrate":
            return calibrate_main(rest)
        from grader import commands

        return commands.run(command, rest)
    return grade_main(argv)


if __name__ == "__main__":
    sys.exit(main())
