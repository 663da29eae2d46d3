"""`hw2-grade gradescope-package --out autograder.zip`: this grader as a Gradescope autograder, in the layout
Gradescope documents (https://gradescope-autograders.readthedocs.io/en/latest/specs/): at the zip's root
`setup.sh` (run once as root on Gradescope's Ubuntu image: installs Python, bubblewrap, the CPU build of the
pinned torch and this grader from the bundled source, and fetches CIFAR-10 when it is not bundled) and
`run_autograder` (run per submission: grades /autograder/submission and writes
/autograder/results/results.json). `run_autograder` honours HW2_AUTOGRADER_ROOT in place of /autograder and
HW2_GRADE in place of the installed command, which is how it is tested here on a simulated root.

`hw2-grade gradescope-run --root DIR` is what `run_autograder` calls: one grade, with the results.json options
(output format, per-item visibility, leaderboard) baked into the script when the package was built. A grader
failure (no data, a bug) writes no results.json and exits non-zero: Gradescope then shows the instructor that
the autograder failed instead of a score the student did not earn."""
from __future__ import annotations

import argparse
import re
import shlex
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.data import DataError
from grader.grade import grade
from grader.options import GradeOptions
from grader.results.gradescope import FORMATS, GradescopeOptions
from grader.results.write import write_outputs
from grader.rubric.items import RUBRIC, SelectionError

SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout this grader runs from
BUNDLED = ("pyproject.toml", "README.md", "grader", "checks", "solutions", "templates")
SOURCE_DIR = "hw2-grade"  # the grader's source inside the zip (/autograder/source/hw2-grade)
DATA_DIR = "data"
VENV = "/opt/hw2-grade"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ROOT_VAR = "HW2_AUTOGRADER_ROOT"
COMMAND_VAR = "HW2_GRADE"
AFTER_DUE = ("5.1.3", "5.2.2", "5.3.2")  # the training items: hidden until after the due date by default


class PackageError(ValueError):
    """The package cannot be built; the message says why."""


@dataclass(frozen=True)
class PackageConfig:
    out: Path  # the zip to write
    selected: tuple[str, ...]  # rubric numbers graded on Gradescope
    seed: int = 0
    gradescope: GradescopeOptions = GradescopeOptions()
    data: Path | None = None  # CIFAR-10 file bundled into the zip
    data_url: str = ""  # or fetched by setup.sh


def pinned(name: str) -> str:
    """The requirement the bundled pyproject.toml pins for `name` (e.g. "torch==2.14.1")."""
    requirements = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for req in requirements:
        if re.match(rf"{re.escape(name)}\s*==", req):
            return req.split(";")[0].replace(" ", "")
    raise PackageError(f"pyproject.toml pins no version of {name}")


def setup_script(config: PackageConfig) -> str:
    data_name = config.data.name if config.data else "cifar10.zip"
    fetch = (f'curl -fsSL --retry 3 -o "$SOURCE/{DATA_DIR}/{data_name}" {shlex.quote(config.data_url)}\n'
             if config.data_url else "")
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (choose the Ubuntu 24.04 base image:
# hw2-grade needs Python 3.11 or later). Written by `hw2-grade gradescope-package`.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    python3 python3-venv python3-pip bubblewrap git curl ca-certificates
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hw2-grade needs Python 3.11 or later: use the Ubuntu 24.04 base image")'
python3 -m venv {VENV}
{VENV}/bin/pip install -q --upgrade pip
# the CPU build of the pinned torch: the default wheels carry CUDA (gigabytes) that Gradescope cannot use
{VENV}/bin/pip install -q --index-url {TORCH_CPU_INDEX} "{pinned("torch")}" "{pinned("torchvision")}"
{VENV}/bin/pip install -q "$SOURCE/{SOURCE_DIR}"
mkdir -p "$SOURCE/{DATA_DIR}"
{fetch}"""


def run_script(config: PackageConfig) -> str:
    options = config.gradescope
    args = ["gradescope-run", "--root", '"$ROOT"', "--only", ",".join(config.selected), "--seed", str(config.seed),
            "--format", options.output_format, "--visibility", options.visibility]
    for prefix, visibility in options.item_visibility:
        args += ["--item-visibility", f"{prefix}={visibility}"]
    if options.leaderboard:
        args.append("--leaderboard")
    quoted = " ".join(a if a == '"$ROOT"' else shlex.quote(a) for a in args)
    data_name = config.data.name if config.data else "cifar10.zip"
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission, write /autograder/results/results.json.
# {ROOT_VAR} stands in for /autograder and {COMMAND_VAR} for the installed grader (both for testing).
set -uo pipefail
ROOT="${{{ROOT_VAR}:-/autograder}}"
read -r -a GRADE <<< "${{{COMMAND_VAR}:-{VENV}/bin/hw2-grade}}"
DATA="$ROOT/source/{DATA_DIR}/{data_name}"
if [ -z "${{HW2_CIFAR10:-}}" ] && [ -e "$DATA" ]; then export HW2_CIFAR10="$DATA"; fi
mkdir -p "$ROOT/results"
exec "${{GRADE[@]}}" {quoted}
"""


def _source_files() -> list[tuple[Path, str]]:
    if not (SOURCE_ROOT / "pyproject.toml").is_file():
        raise PackageError(f"{SOURCE_ROOT} is not a source checkout of hw2-grade: build the package from one")
    files = []
    for name in BUNDLED:
        path = SOURCE_ROOT / name
        members = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [(p, f"{SOURCE_DIR}/{p.relative_to(SOURCE_ROOT).as_posix()}") for p in members
                  if "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return files


def build_package(config: PackageConfig) -> list[str]:
    """Write the zip; returns the names in it."""
    if RUBRIC.needs(config.selected).data and not (config.data or config.data_url):
        raise PackageError("the selected items train on CIFAR-10: bundle it with --data PATH or let setup.sh fetch it "
                           "with --data-url URL (or grade only items that need no data, with --only)")
    if config.data and not config.data.is_file():
        raise PackageError(f"--data {config.data} is not a file")
    entries = {"setup.sh": setup_script(config), "run_autograder": run_script(config)}
    config.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = config.out.with_name(config.out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100755 << 16  # executable: Gradescope runs both directly
            z.writestr(info, text)
        for path, name in _source_files():
            z.write(path, name)
        if config.data:
            z.write(config.data, f"{DATA_DIR}/{config.data.name}", compress_type=zipfile.ZIP_STORED)
    tmp.replace(config.out)
    with zipfile.ZipFile(config.out) as z:
        return z.namelist()


def _visibility_pairs(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        prefix, sep, visibility = value.partition("=")
        if not sep or not prefix:
            raise ValueError(f"--item-visibility {value!r}: write ITEM=VISIBILITY, e.g. 5.1.3=after_due_date")
        RUBRIC.select(prefix)  # raises SelectionError for an unknown item
        pairs.append((prefix, visibility))
    return tuple(pairs)


def _options_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", help="comma-separated rubric numbers or prefixes graded on Gradescope (default: all)")
    p.add_argument("--seed", type=int, default=GradeOptions.seed, help="seed of the inputs and training runs")
    p.add_argument("--format", default=GradescopeOptions.output_format, choices=FORMATS,
                   help="how Gradescope renders the summary and each item's output")
    p.add_argument("--visibility", default=GradescopeOptions.visibility, help="visibility of the whole result")
    p.add_argument("--leaderboard", action="store_true", help="publish a leaderboard (score, accuracies); off by default")


def _fail(command: str, message: str) -> int:
    print(f"hw2-grade {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="hw2-grade gradescope-package", description="Build a Gradescope autograder zip.")
    p.add_argument("--out", type=Path, required=True, help="the zip to write, e.g. autograder.zip")
    _options_parser(p)
    p.add_argument("--item-visibility", action="append", default=None, metavar="ITEM=VISIBILITY",
                   help=f"per-item visibility (repeatable); default: the training items {', '.join(AFTER_DUE)} "
                        f"after_due_date")
    p.add_argument("--data", type=Path, help="bundle this CIFAR-10 file (image-folder zip) into the package")
    p.add_argument("--data-url", default="", help="or let setup.sh download CIFAR-10 from this URL")
    args = p.parse_args(argv)
    try:
        selected = RUBRIC.select(args.only)
        chosen = args.item_visibility if args.item_visibility is not None else [f"{n}=after_due_date" for n in AFTER_DUE]
        options = GradescopeOptions(output_format=args.format, visibility=args.visibility,
                                    item_visibility=_visibility_pairs(chosen), leaderboard=args.leaderboard)
        names = build_package(PackageConfig(out=args.out, selected=selected, seed=args.seed, gradescope=options,
                                            data=args.data, data_url=args.data_url))
    except (SelectionError, ValueError) as e:
        return _fail("gradescope-package", str(e))
    print(f"{args.out}: setup.sh, run_autograder and {len(names) - 2} more files; upload it as the autograder of a "
          f"Gradescope programming assignment (Ubuntu 24.04 base image)")
    return 0


def run_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="hw2-grade gradescope-run", description="Grade ROOT/submission and write "
                                "ROOT/results/results.json (what the package's run_autograder calls).")
    p.add_argument("--root", type=Path, required=True, help="the autograder root (/autograder on Gradescope)")
    _options_parser(p)
    p.add_argument("--item-visibility", action="append", default=[], metavar="ITEM=VISIBILITY")
    args = p.parse_args(argv)
    submission, results = args.root / "submission", args.root / "results"
    if not submission.is_dir():
        return _fail("gradescope-run", f"{submission} is not a folder")
    try:
        selected = RUBRIC.select(args.only)
        options = GradescopeOptions(output_format=args.format, visibility=args.visibility,
                                    item_visibility=_visibility_pairs(args.item_visibility), leaderboard=args.leaderboard)
        result = grade(submission, options=GradeOptions(selected=selected, seed=args.seed, verify_reference=False))
    except (SelectionError, ValueError, DataError) as e:
        return _fail("gradescope-run", str(e))
    result.submission = "submission"
    write_outputs(result, out_dir=results, gradescope=options)
    print(f"{result.score:g} points; results: {results / 'results.json'}")
    return 0
