"""Real-style submissions (tests/corpus/fair.py) get the verdict a careful TA would give, through the whole
pipeline: a network is judged by its function (log-softmax outputs, redundant ReLUs, BatchNorm after the
ReLU), the loss on the student's own pipeline, BPTT clipping and optimiser variants named by their cause."""
from __future__ import annotations

import pytest

from tests.conftest import item
from tests.corpus import fair


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if len(c.verdicts) > 5 else n
                                  for n, c in fair.CASES.items()])  # seven items in one grade: over 30 s
def test_real_style_submission_gets_the_careful_verdict(name, tmp_path, grade_folder):
    case = fair.CASES[name]
    result = grade_folder(fair.build(name, tmp_path), ",".join(case.verdicts))
    for number, expected in case.verdicts.items():
        it = item(result, number)
        assert it.score == pytest.approx(expected.fraction * it.max_score), f"{name} {number}: {it.feedback}"
        for phrase in expected.feedback:
            assert phrase.lower() in it.feedback.lower(), f"{name} {number}: {phrase!r} not in {it.feedback}"
