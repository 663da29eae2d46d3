"""The training engine: CIFAR-10 held in memory as uint8 tensors, batches as index slices of a seeded
permutation, no per-sample transforms and no DataLoader workers (after KellerJordan's cifar10-airbench).

Used for every graded training run and for calibrating the thresholds, so both see the same statistics.
Deterministic for a given seed on a given machine: one seeded generator draws the permutations, and the
model is built after `torch.manual_seed(seed)`. CPU by default, CUDA when present. The reference Net trains
in the channels-last layout (NHWC), which the benchmark found faster on the CPU machines (`fast_layout_ok`);
the calibration was made the same way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class Protocol:
    """The grader's fixed training protocol (written into the report)."""

    epochs: int = 2  # passes over the training images
    batch_size: int = 64  # images per SGD step
    lr: float = 0.001  # SGD learning rate (constant): the handout's recommended setting
    momentum: float = 0.9
    weight_decay: float = 5e-4  # L2 penalty
    train_images: int = 50_000  # leading images of a fixed seeded shuffle of the training set
    log_every: int = 50  # SGD steps between recorded training losses
    threads: int = 2  # torch intra-op threads on CPU

    def describe(self) -> str:
        return (f"SGD lr {self.lr}, momentum {self.momentum}, weight decay {self.weight_decay}, batch {self.batch_size}, "
                f"{self.epochs} epochs over {self.train_images} training images, inputs scaled to [-1, 1], "
                f"softmax cross-entropy, no augmentation, dropout disabled (optional in the handout)")


@dataclass
class TrainResult:
    steps: list[int] = field(default_factory=list)  # SGD step at which each loss was recorded
    losses: list[float] = field(default_factory=list)  # mean training loss over the last log_every steps
    epoch_states: list[dict[str, torch.Tensor]] = field(default_factory=list)  # weights after each epoch
    images_per_s: float = 0.0  # training throughput
    seconds: float = 0.0  # wall time of the training loop
    diverged_at: int | None = None  # step of the first non-finite loss, if any


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_inputs(x_uint8: torch.Tensor) -> torch.Tensor:
    """(N, 3, 32, 32) uint8 -> float32 in [-1, 1]; done per batch on the device, never per sample."""
    return x_uint8.float().div_(127.5).sub_(1.0)


def train(model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, protocol: Protocol, seed: int,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
          optimizer: torch.optim.Optimizer | None = None,
          augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
          channels_last: bool = False) -> TrainResult:
    """Train `model` in place. train_x (N, 3, 32, 32) uint8, train_y (N,) int64, both already on the device.
    `channels_last`: train in the NHWC layout (see `fast_layout_ok`)."""
    device = train_x.device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    subset = torch.randperm(train_x.shape[0], generator=gen)[: protocol.train_images].to(device)  # (n,)
    # (n, 3, 32, 32) float32, converted once: batches are then pure slices (a row gathered from a
    # channels-last tensor stays channels-last)
    inputs = to_inputs(train_x[subset])
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
        model.to(memory_format=torch.channels_last)
    targets = train_y[subset]  # (n,)
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                                             weight_decay=protocol.weight_decay)
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1) if augment else None
    result = TrainResult()
    running, count, step = torch.zeros((), device=device), 0, 0
    model.train()
    start = time.perf_counter()
    for _ in range(protocol.epochs):
        order = torch.randperm(subset.numel(), generator=gen).to(device)  # (n,) positions in the subset
        for lo in range(0, order.numel() - protocol.batch_size + 1, protocol.batch_size):  # drop the ragged tail
            idx = order[lo:lo + protocol.batch_size]  # (B,)
            x = inputs[idx]  # (B, 3, 32, 32)
            if augment is not None:
                x = augment(x, aug_gen)
            loss = loss_fn(model(x), targets[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.detach()
            count += 1
            step += 1
            if step % protocol.log_every == 0:
                mean = (running / count).item()  # the only host sync, once per log_every steps
                result.steps.append(step)
                result.losses.append(mean)
                running.zero_()
                count = 0
                if not mean == mean or mean in (float("inf"), float("-inf")):
                    result.diverged_at = step
                    break
        result.epoch_states.append({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        if result.diverged_at is not None:
            break
    result.seconds = time.perf_counter() - start
    result.images_per_s = step * protocol.batch_size / max(result.seconds, 1e-9)
    return result


def fast_layout_ok(model: nn.Module) -> bool:
    """Whether `model` may train channels-last: 1.2x faster per step than NCHW for the handout's Net on the
    2-core CPU machines (`hw2-grade bench`), the same gradients within 1e-6. Not with BatchNorm: torch
    2.14.1's channels-last BatchNorm2d backward on the CPU gave gradients up to 16% off the float64 ones
    (NCHW: 2e-6; tests/grader/test_engine.py), and NetBN gained nothing from the layout anyway."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def start_variant(build: Callable[[], nn.Module], init: Callable[[nn.Module], None] | None, seed: int) -> nn.Module:
    """The starting network of a run: seed, build, initialise, on the CPU (so a seed gives the same start on
    any machine). A graded run does this in the sandbox with the student's code and trains in the grader."""
    torch.manual_seed(seed)
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"the network class returned {type(model).__name__}, not an nn.Module")
    if init is not None:
        init(model)
    return model


def train_started(model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, protocol: Protocol,
                  seed: int, channels_last: bool | None = None) -> TrainResult:
    """Train a network from `start_variant` on the default device, in place. `channels_last` None: where
    `fast_layout_ok` allows it."""
    device = default_device()
    model.to(device)
    layout = fast_layout_ok(model) if channels_last is None else channels_last
    return train(model, train_x.to(device), train_y.to(device), protocol, seed=seed, channels_last=layout)


def train_variant(build: Callable[[], nn.Module], init: Callable[[nn.Module], None] | None, train_x: torch.Tensor,
                  train_y: torch.Tensor, protocol: Protocol, seed: int,
                  on_ready: Callable[[nn.Module], None] | None = None,
                  channels_last: bool | None = None) -> tuple[nn.Module, TrainResult]:
    """The one procedure behind every graded run and every calibration run: seed, build, initialise, train.
    `on_ready` sees the initialised model before training (the grader records its starting weights)."""
    model = start_variant(build, init, seed)
    if on_ready is not None:
        on_ready(model)
    return model, train_started(model, train_x, train_y, protocol, seed, channels_last=channels_last)


@torch.inference_mode()
def predict(model: nn.Module, x_uint8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class predictions (N,) int64 for (N, 3, 32, 32) uint8 images, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(to_inputs(x_uint8[lo:lo + batch_size].to(device))).argmax(1).cpu()
           for lo in range(0, x_uint8.shape[0], batch_size)]
    return torch.cat(out)
