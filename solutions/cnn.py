"""Problem 5.1 and 5.3: the course's small CNN for CIFAR-10, its BatchNorm variant, and the softmax loss.

    input (N, 3, 32, 32)
    conv 5x5, 6 channels, stride 1, no padding -> ReLU -> max-pool 2    (N, 6, 14, 14)
    conv 5x5, 16 channels, stride 1, no padding -> ReLU -> max-pool 2   (N, 16, 5, 5)
    flatten                                                            (N, 400)
    FC 120 -> ReLU [-> dropout] -> FC 84 -> ReLU [-> dropout] -> FC 10  (N, 10) logits

`NetBN` puts a BatchNorm after every conv and hidden FC (not after the last FC). `width` multiplies every
hidden width (the handout's GPU-speed experiment); `width=1` is the graded network. The handout says "after
each convolution and FC layer" without fixing the order with the ReLU and the pooling: `orders` gives, per
hidden layer, the order of what follows it ("batch_norm", "relu", "max_pool"), so the grader can build the
network a student built with BatchNorm after the ReLU (a different function, equally the handout's).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from solutions.he_init import init_weights  # noqa: F401  (re-exported: the reference submission needs it)

CONV_CHANNELS = (6, 16)  # output channels of conv1, conv2
HIDDEN_FEATURES = (120, 84)  # outputs of FC 1, FC 2
NUM_CLASSES = 10
KERNEL = 5  # conv kernel size (pixels), stride 1, no padding
# What follows each hidden layer (conv 1, conv 2, FC 1, FC 2) in the handout's order; without batch_norm the
# BatchNorm is an identity. ReLU and max pooling commute; BatchNorm commutes with neither.
HANDOUT_ORDERS = (("batch_norm", "relu", "max_pool"),) * 2 + (("batch_norm", "relu"),) * 2


class Net(nn.Module):
    """The Problem 5.1 network; `batch_norm=True` gives the Problem 5.3 network."""

    def __init__(self, width: int = 1, dropout: float = 0.0, batch_norm: bool = False,
                 orders: tuple[tuple[str, ...], ...] = HANDOUT_ORDERS) -> None:
        super().__init__()
        if [sorted(o) for o in orders] != [sorted(o) for o in HANDOUT_ORDERS]:
            raise ValueError(f"orders must permute each layer's operations {HANDOUT_ORDERS}, got {orders}")
        self.orders = tuple(tuple(o) for o in orders)  # per hidden layer: conv 1, conv 2, FC 1, FC 2
        c1, c2 = (width * c for c in CONV_CHANNELS)
        h1, h2 = (width * h for h in HIDDEN_FEATURES)
        norm2d = nn.BatchNorm2d if batch_norm else (lambda _: nn.Identity())
        norm1d = nn.BatchNorm1d if batch_norm else (lambda _: nn.Identity())
        self.conv1, self.bn1 = nn.Conv2d(3, c1, KERNEL), norm2d(c1)
        self.conv2, self.bn2 = nn.Conv2d(c1, c2, KERNEL), norm2d(c2)
        self.fc1, self.bn3 = nn.Linear(c2 * KERNEL * KERNEL, h1), norm1d(h1)
        self.fc2, self.bn4 = nn.Linear(h1, h2), norm1d(h2)
        self.fc3 = nn.Linear(h2, NUM_CLASSES)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def _after(self, i: int, bn: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """What follows hidden layer i, in the order self.orders[i]."""
        ops = {"batch_norm": bn, "relu": F.relu, "max_pool": lambda t: F.max_pool2d(t, 2)}
        for op in self.orders[i]:
            x = ops[op](x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._after(0, self.bn1, self.conv1(x))  # (N, 6, 14, 14)
        x = self._after(1, self.bn2, self.conv2(x))  # (N, 16, 5, 5)
        x = x.flatten(1)  # (N, 400)
        x = self.dropout(self._after(2, self.bn3, self.fc1(x)))  # (N, 120)
        x = self.dropout(self._after(3, self.bn4, self.fc2(x)))  # (N, 84)
        return self.fc3(x)  # (N, 10)


class NetBN(Net):
    """The Problem 5.3 network: BatchNorm after each conv and hidden FC."""

    def __init__(self, width: int = 1, dropout: float = 0.0, orders: tuple[tuple[str, ...], ...] = HANDOUT_ORDERS) -> None:
        super().__init__(width=width, dropout=dropout, batch_norm=True, orders=orders)


def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax loss: mean over the batch of -log softmax(logits)[target]. logits (N, 10), targets (N,)."""
    return F.cross_entropy(logits, targets)
