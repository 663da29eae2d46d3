"""The hand-written batch augmentation."""
from __future__ import annotations

import torch

from solutions.augment import augment


def test_augment_is_deterministic_for_a_seeded_generator_and_keeps_shape_and_dtype():
    x = torch.rand(16, 3, 32, 32)
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and a.dtype == x.dtype and torch.equal(a, b)


def test_augment_changes_images_differently_per_seed_and_leaves_input_alone():
    x = torch.rand(16, 3, 32, 32)
    before = x.clone()
    a = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert torch.equal(x, before)
    assert (a - x).abs().mean() > 1e-2 and not torch.equal(a, c)


def test_zero_ranges_give_the_identity_up_to_flips():
    x = torch.rand(8, 3, 32, 32)
    y = augment(x, torch.Generator().manual_seed(0), max_degrees=0.0, max_scale=0.0)
    same = [(torch.allclose(y[i], x[i], atol=1e-5) or torch.allclose(y[i], x[i].flip(-1), atol=1e-5)) for i in range(8)]
    assert all(same)


def test_source_uses_no_torchvision_transforms():
    from pathlib import Path

    import solutions.augment as module
    from checks.library_use import library_uses

    assert library_uses(Path(module.__file__).read_text(), "transforms") == []
