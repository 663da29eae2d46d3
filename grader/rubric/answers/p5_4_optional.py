"""Problem 5.4.3 (bonus): the public augmentation criteria plus the accuracy the augmented images cost the
calibrated reference classifier (a change that destroys the image is no augmentation)."""
from __future__ import annotations

import numpy as np
import torch

from checks.verdict import Verdict
from grader.calibration import CLASSIFIER_FILE
from grader.reference.networks import reference_classifier
from grader.rubric.public.p5_4_optional import augmentation_criteria, criteria_verdict
from grader.sandbox import protocol as P

MAX_ACCURACY_DROP = 0.15  # augmented images may cost the reference classifier at most this much accuracy


def accuracy_drop(ctx, augmented: np.ndarray) -> float | None:
    """Accuracy of the reference classifier on the original minus on the augmented images."""
    model = reference_classifier(ctx.calibration.classifier_file or CLASSIFIER_FILE)
    if model is None or ctx.dataset is None:
        return None
    original = torch.from_numpy(ctx.inputs()[P.AUG_IMAGES])
    labels = torch.from_numpy(ctx.dataset.test_y[: original.shape[0]])
    with torch.inference_mode():
        before = (model(original).argmax(1) == labels).float().mean()
        after = (model(torch.from_numpy(augmented)).argmax(1) == labels).float().mean()
    return float(before - after)


def augmentation(ctx) -> Verdict:
    found = augmentation_criteria(ctx)
    if isinstance(found, Verdict):
        return found
    criteria, augmented = found
    drop = accuracy_drop(ctx, augmented)
    if drop is None:
        criteria.append((False, "accuracy drop not measured: the grader has no reference classifier (run `hw2-grade calibrate`)"))
    else:
        criteria.append((drop <= MAX_ACCURACY_DROP, f"costs the reference classifier {100 * drop:.1f} points of accuracy "
                                                    f"(at most {100 * MAX_ACCURACY_DROP:.0f} allowed)"))
    return criteria_verdict(criteria)
