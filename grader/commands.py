"""Dispatch of `hw2-grade COMMAND ...` to the module that implements each command's `main(argv) -> int`."""
from __future__ import annotations

import importlib

MODULES = {"batch": "grader.batch", "export-student": "grader.export_student", "init-ci": "grader.ci_init",
           "bench": "grader.bench"}


def run(command: str, argv: list[str]) -> int:
    return importlib.import_module(MODULES[command]).main(argv)
