"""Whether a hand-written augmentation (Problem 5.4.3) makes changes a person would call augmentation, judged by
comparing each augmented image with its original: no library, no reference classifier, only numpy.

An image counts as augmented when it is
  * a recognisable geometric transform of the original: a horizontal or vertical flip, or a shift by up to
    MAX_SHIFT pixels (what a random crop of a padded image gives), alone or after a flip: the overlap matches
    the transformed original within GEOMETRIC_TOLERANCE of the value range; or
  * visibly changed (rotation, scaling, colour jitter, cutout, noise of a visible size): at least
    VISIBLE_SHARE of its values moved by more than VISIBLE_CHANGE of the value range (4% is about ten of 255
    grey levels; noise of 0.1% of the range moves none).
The batch passes when at least AUGMENTED_SHARE of its images count (a random augmentation may leave some
images as they were).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SHIFT = 4  # pixels, each direction
GEOMETRIC_TOLERANCE = 0.01  # mean |difference| on the overlap, as a share of the value range
VISIBLE_CHANGE = 0.04  # a value moved by more than this share of the range is a visible change
VISIBLE_SHARE = 0.05  # share of an image's values that must change visibly
AUGMENTED_SHARE = 0.25  # share of the batch's images that must be augmented
RECOGNISABLE = "augments recognisably"  # how `describe`'s line begins


@dataclass(frozen=True)
class AugmentationKinds:
    """How many images of the batch changed in which way."""

    total: int
    geometric: int  # recognisable flips and shifts
    visible: int  # other visible changes
    examples: tuple[str, ...]  # a few of the transforms found, in words

    @property
    def augmented(self) -> int:
        return self.geometric + self.visible

    @property
    def enough(self) -> bool:
        return self.total > 0 and self.augmented >= AUGMENTED_SHARE * self.total


def _shifted_difference(original: np.ndarray, augmented: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(N,) mean |augmented - original shifted by (dy, dx)| over the overlap of (N, C, H, W) batches."""
    h, w = original.shape[-2:]
    a = augmented[..., max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)]
    o = original[..., max(-dy, 0): h + min(-dy, 0), max(-dx, 0): w + min(-dx, 0)]
    return np.abs(a - o).mean(axis=(1, 2, 3))


def classify(original: np.ndarray, augmented: np.ndarray) -> AugmentationKinds:
    """How each of the (N, C, H, W) `augmented` images differs from its original."""
    original = original.astype(np.float32)  # (N, C, H, W)
    augmented = augmented.astype(np.float32)
    span = float(original.max() - original.min()) or 1.0
    n = original.shape[0]
    identity = np.abs(augmented - original).mean(axis=(1, 2, 3)) / span < GEOMETRIC_TOLERANCE
    found = np.full(n, "", dtype=object)
    for name, base in (("", original), ("horizontal flip", original[..., ::-1]), ("vertical flip", original[..., ::-1, :])):
        for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
            for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
                if not name and dy == dx == 0:
                    continue
                match = _shifted_difference(base, augmented, dy, dx) / span < GEOMETRIC_TOLERANCE
                shift = f"shift by ({dy}, {dx}) px" if dy or dx else ""
                words = " and ".join(w for w in (name, shift) if w)
                found = np.where(match & (found == "") & ~identity, words, found)
    geometric = found != ""
    moved = np.abs(augmented - original) / span > VISIBLE_CHANGE
    visible = (moved.mean(axis=(1, 2, 3)) >= VISIBLE_SHARE) & ~geometric
    examples = tuple(dict.fromkeys(str(f) for f in found if f))[:3]
    if visible.any():
        examples += (f"visible changes of {100 * moved[visible].mean():.0f}% of the values",)
    return AugmentationKinds(total=n, geometric=int(geometric.sum()), visible=int(visible.sum()), examples=examples)


def describe(kinds: AugmentationKinds) -> str:
    """The criterion's line in the feedback."""
    what = f" ({', '.join(kinds.examples)})" if kinds.examples else ""
    return (f"{RECOGNISABLE}: {kinds.augmented} of {kinds.total} images are flipped or shifted "
            f"({kinds.geometric}) or visibly changed ({kinds.visible}){what}; at least "
            f"{100 * AUGMENTED_SHARE:.0f}% must be (a visible change moves {100 * VISIBLE_SHARE:.0f}% of the values "
            f"by over {100 * VISIBLE_CHANGE:.0f}% of the range)")
