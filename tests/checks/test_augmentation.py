"""checks.augmentation tells augmentation a person would call one (flips, crops, colour and cutout, the
reference's affine jitter) from imperceptible noise, on real CIFAR-10 test images (the first 512, as item
5.4.3 uses them, in [-1, 1]); every random transform is seeded."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from checks.augmentation import classify
from grader.data import perturb_test_images
from solutions.augment import augment as reference_augment


@pytest.fixture(scope="module")
def images(cifar10) -> torch.Tensor:
    return torch.from_numpy(perturb_test_images(cifar10.test_x[:512], 0).astype(np.float32) / 127.5 - 1.0)


def flip_half(x, g):
    mask = torch.rand(x.shape[0], generator=g) < 0.5
    out = x.clone()
    out[mask] = x[mask].flip(-1)
    return out


def pad_and_crop(x, g):
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (x.shape[0], 2), generator=g).tolist()
    return torch.stack([padded[i, :, dy:dy + 32, dx:dx + 32] for i, (dy, dx) in enumerate(offsets)])


def brightness(x, g):
    return x + (torch.rand(x.shape[0], 1, 1, 1, generator=g) - 0.5) * 0.4


def cutout(x, g):
    out = x.clone()
    for i, (y, z) in enumerate(torch.randint(0, 24, (x.shape[0], 2), generator=g).tolist()):
        out[i, :, y:y + 8, z:z + 8] = 0
    return out


def noise(fraction_of_range):
    return lambda x, g: x + torch.randn(x.shape, generator=g) * fraction_of_range * 2


@pytest.mark.parametrize("transform", [flip_half, pad_and_crop, brightness, cutout, noise(0.1), reference_augment],
                         ids=["flip", "crop", "brightness", "cutout", "noise 10%", "reference"])
def test_what_a_person_calls_augmentation_passes(images, transform):
    kinds = classify(images.numpy(), transform(images, torch.Generator().manual_seed(7)).numpy())
    assert kinds.enough, kinds


@pytest.mark.parametrize("transform", [noise(0.001), noise(0.01), lambda x, g: x.clone()],
                         ids=["noise 0.1%", "noise 1%", "identity"])
def test_imperceptible_changes_do_not(images, transform):
    kinds = classify(images.numpy(), transform(images, torch.Generator().manual_seed(7)).numpy())
    assert kinds.augmented == 0 and not kinds.enough, kinds


def test_flips_and_crops_are_named(images):
    g = torch.Generator().manual_seed(7)
    assert any("horizontal flip" in e for e in classify(images.numpy(), flip_half(images, g).numpy()).examples)
    assert any("shift by" in e for e in classify(images.numpy(), pad_and_crop(images, g).numpy()).examples)
