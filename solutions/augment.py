"""Problem 5.4 (optional): data augmentation written by hand, on a whole batch at once (no torchvision).

Each image gets its own random rotation (uniform in +-max_degrees), isotropic scale (uniform in
[1 - max_scale, 1 + max_scale]) and horizontal flip (probability 1/2), applied as one affine resampling of
the batch: an (N, 2, 3) matrix per image -> `F.affine_grid` -> bilinear `F.grid_sample`, with border padding
so rotated corners are not black. All randomness comes from the given generator, so a seeded generator makes
the batch reproducible; the input is never modified.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_DEGREES = 15.0  # rotation range (degrees), each side
MAX_SCALE = 0.1  # scale range (fraction), each side


def augment(images: torch.Tensor, generator: torch.Generator, max_degrees: float = MAX_DEGREES,
            max_scale: float = MAX_SCALE) -> torch.Tensor:
    """images (N, C, H, W) float -> a new (N, C, H, W) tensor of randomly rotated, scaled and flipped images."""
    n = images.shape[0]
    opts = dict(generator=generator, device=generator.device, dtype=torch.float32)
    angle = (torch.rand(n, **opts) * 2 - 1) * math.radians(max_degrees)  # (N,)
    scale = 1 + (torch.rand(n, **opts) * 2 - 1) * max_scale  # (N,)
    flip = torch.where(torch.rand(n, **opts) < 0.5, -1.0, 1.0)  # (N,) -1 mirrors x
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale  # grid maps output -> input: inverse scale
    theta = torch.zeros(n, 2, 3, **{k: v for k, v in opts.items() if k != "generator"})  # (N, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
