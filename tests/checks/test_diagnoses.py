"""Diagnosis codes: every code a judge can put into a verdict has a label for the class page, and the judges
that name a known defect give its code while the feedback stays what it was."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

from checks import bptt
from checks.diagnoses import LABELS, label
from checks.softmax_loss import MISTAKES, judge_loss, mistakes

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"(loss|bptt|arch|init|train|opt)\.[a-z_]+")


def emitted_codes() -> set[str]:
    """Every diagnosis-code-shaped string constant in the checks and the judges, and the BPTT variants' codes."""
    found = {f"bptt.{v.name}" for v in bptt.VARIANTS}
    for folder in (ROOT / "checks", ROOT / "grader" / "rubric"):
        for path in folder.rglob("*.py"):
            if path.name == "diagnoses.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
                    found.add(node.value)
    return found


def test_every_code_a_judge_can_give_has_a_label():
    codes = emitted_codes()
    assert len(codes) > 40  # the scan sees the judges' codes (loss, bptt, arch, init, train, opt)
    assert codes - set(LABELS) == set()
    assert label("no.such_code") == "no.such_code"  # a newer grader's code shows as itself


def test_each_classic_loss_mistake_gives_its_code_and_unchanged_feedback():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 5, size=(6, 16, 10)).astype(np.float32)  # (R, N, 10)
    targets = rng.integers(0, 10, size=(6, 16))
    reference = mistakes(logits, targets)  # code -> (R,) what each mistake computes
    correct = -np.take_along_axis(logits - np.log(np.exp(logits.astype(np.float64)).sum(-1, keepdims=True)),
                                  targets[..., None], -1)[..., 0].mean(-1)
    assert judge_loss(correct, correct, logits, targets).diagnoses == ()
    for code, values in reference.items():
        verdict = judge_loss(values, correct, logits, targets)
        assert verdict.diagnoses == (code,), code
        assert verdict.feedback == f"loss_fn is not the softmax loss: {MISTAKES[code]}."
