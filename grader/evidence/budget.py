"""Time limits for training runs of the student's own code that measure the code, not the machine's load.

A network the grader cannot train itself is trained by the submission's code in the sandbox. Its limit is
CPU time, not wall time (another job on the machine slows the wall clock, not the CPU seconds a run needs),
and it scales with this machine's speed, measured in this grade: the grader times a yardstick network of
the handout's size for a few SGD steps (`measure_cpu_per_image`), and a run may use SLOWDOWN_ALLOWED times
the yardstick's CPU time for the protocol's images. A wall-clock backstop (WALL_PER_CPU times the CPU
limit) stops a run that neither computes nor ends; when it fires while the run's threads were waiting for a
CPU most of the time, the machine was too busy to give it its CPU time, which is not the student's fault: the
child's status is `overloaded` (grader.sandbox.process) and the item is reported as a grader error, to
regrade, never as the student's failure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.engine import Protocol

YARDSTICK_STEPS = 12  # timed SGD steps of the yardstick (after 3 untimed ones), batch of the protocol
SLOWDOWN_ALLOWED = 10.0  # a student's network may need this many times the yardstick's CPU time per image
START_CPU_S = 30.0  # CPU seconds for starting the child, importing torch, building and evaluating the network
WALL_PER_CPU = 4.0  # wall-clock backstop per CPU second allowed: a run may get as little as 1/4 of a core


class Yardstick(nn.Module):
    """A network of the handout's size class (two 5x5 convolutions, three fully connected layers), timed
    to measure this machine; deliberately not the handout's exact network."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 8, 5), nn.Conv2d(8, 16, 5)
        self.f1, self.f2 = nn.Linear(400, 128), nn.Linear(128, 10)

    def forward(self, images):  # (N, 3, 32, 32) -> (N, 10)
        h = F.max_pool2d(F.relu(self.c2(F.max_pool2d(F.relu(self.c1(images)), 2))), 2)  # (N, 16, 5, 5)
        return self.f2(F.relu(self.f1(h.flatten(1))))


def measure_cpu_per_image(protocol: Protocol, threads: int) -> float:
    """CPU seconds (all threads of this process) per training image of the yardstick, now, on this machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        gen = torch.Generator().manual_seed(0)
        model = Yardstick()
        opt = torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=protocol.momentum)
        x = torch.randn(protocol.batch_size, 3, 32, 32, generator=gen)  # (B, 3, 32, 32)
        y = torch.randint(0, 10, (protocol.batch_size,), generator=gen)  # (B,)
        cpu = 0.0
        for step in range(3 + YARDSTICK_STEPS):
            start = time.process_time()
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            cpu += (time.process_time() - start) if step >= 3 else 0.0
    finally:
        torch.set_num_threads(before)
    return max(cpu, 1e-6) / (YARDSTICK_STEPS * protocol.batch_size)


@dataclass(frozen=True)
class TrainingBudget:
    """The limits of one training run of the student's code, from the machine's measured speed."""

    cpu_s: float  # CPU seconds the run may use, all its threads together
    wall_s: float  # wall-clock backstop, seconds
    cpu_per_image: float  # the yardstick's CPU seconds per training image, measured in this grade

    def describe(self) -> str:
        return (f"{self.cpu_s:.0f} s of CPU time per run ({SLOWDOWN_ALLOWED:g} times what a network of the handout's "
                f"size needs on this machine, measured in this grade, plus {START_CPU_S:g} s to start), wall-clock "
                f"backstop {self.wall_s:.0f} s")


def training_budget(protocol: Protocol, cpu_per_image: float) -> TrainingBudget:
    images = protocol.epochs * protocol.train_images
    cpu = SLOWDOWN_ALLOWED * cpu_per_image * images + START_CPU_S
    return TrainingBudget(cpu_s=cpu, wall_s=WALL_PER_CPU * cpu, cpu_per_image=cpu_per_image)

