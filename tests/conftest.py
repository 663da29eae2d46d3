"""Shared fixtures: the real CIFAR-10 (from HW2_CIFAR10), the repository's calibration, and a grading
helper that runs the real pipeline (sandboxed children included) on a submission folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.calibration import load_calibration
from grader.data import DataError, load_cifar10
from grader.grade import grade
from grader.options import GradeOptions
from grader.rubric.items import RUBRIC
from grader.sandbox.limits import detect_isolation


@pytest.fixture(scope="session")
def cifar10():
    try:
        return load_cifar10(os.environ.get("HW2_CIFAR10"))
    except DataError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide CIFAR-10: {e}")
        pytest.skip(f"CIFAR-10 not available: {e}")


@pytest.fixture(scope="session")
def calibration():
    return load_calibration()


@pytest.fixture(scope="session")
def isolation():
    return detect_isolation()


@pytest.fixture(scope="session")
def grade_folder(calibration, isolation):
    """grade_folder(path, only, dataset=None) -> GradeResult, through the real pipeline."""

    def run(folder: Path, only: str, dataset=None, **options):
        opts = GradeOptions(selected=RUBRIC.select(only), verify_reference=False, **options)
        return grade(Path(folder), opts, dataset=dataset, calibration=calibration, isolation=isolation)

    return run


def item(result, number):
    return next(i for i in result.items if i.number == number)
