"""Problem 5.4 (bonus), public checks: hand-written Adam (5.4.1) and RMSProp (5.4.2) trajectories against
torch.optim's (the instructor's check itself: torch is the oracle), and the augmentation criteria (5.4.3) but
the accuracy drop, which needs the instructor's reference classifier."""
from __future__ import annotations

import pytest

from checks.verdict import Verdict
from grader.rubric.test_p5_4_optional import augmentation_criteria, criteria_verdict, judge_optimizer


@pytest.mark.rubric("5.4.1")
def test_adam(ctx, record):
    record(judge_optimizer(ctx, "Adam"))


@pytest.mark.rubric("5.4.2")
def test_rmsprop(ctx, record):
    record(judge_optimizer(ctx, "RMSProp"))


@pytest.mark.rubric("5.4.3")
def test_augmentation(ctx, record):
    found = augmentation_criteria(ctx)
    if isinstance(found, Verdict):
        return record(found)
    record(criteria_verdict(found[0], " The instructor's run also measures the accuracy the augmented images "
                                      "cost a reference classifier."))
