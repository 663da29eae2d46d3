"""Problem 3: where the two GPUs of the two-column AlexNet must synchronise in the forward pass.

The network is that of Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012: Section 3.5 ("Overall Architecture") and Figure 2. Each GPU holds one column of half the
kernels / neurons of every layer. Section 3.5: "The kernels of the second, fourth, and fifth convolutional
layers are connected only to those kernel maps in the previous layer which reside on the same GPU. The kernels
of the third convolutional layer are connected to all kernel maps in the second layer. The neurons in the
fully-connected layers are connected to all neurons in the previous layer." That connectivity, and the layer
sizes, are the data in `ALEXNET_STAGES` (per column):

    stage  layer                       input from      then
    conv1  48 kernels 11x11, stride 4  the image       ReLU, response norm, max-pool 3x3/2
    conv2  128 kernels 5x5             own column      ReLU, response norm, max-pool 3x3/2
    conv3  192 kernels 3x3             BOTH columns    ReLU
    conv4  192 kernels 3x3             own column      ReLU
    conv5  128 kernels 3x3             own column      ReLU, max-pool 3x3/2
    fc6    2048 neurons                BOTH columns    ReLU, dropout
    fc7    2048 neurons                BOTH columns    ReLU, dropout
    fc8    500 neurons (1000 in all)   BOTH columns    (logits of the 1000-way softmax)

Every GPU holds its own copy of the input image, so conv1 reads nothing from the other GPU. Paddings (0, 2, 1,
1, 1) and the 227x227 input are not in the paper; they are the common choice that reproduces its map sizes
(27x27 after conv2, 13x13 after conv3..conv5) and its "60 million parameters" (60,965,224 here).

The answer is not typed in: `sync_stages` DERIVES the stages whose input depends on both columns by replacing
one column's activations at a stage's input and watching whether the other column's output of that stage
changes. `width` and `input_size` shrink the network so that runs in milliseconds on a CPU; they change no
connectivity.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
import torch.nn as nn


@dataclass(frozen=True)
class Stage:
    """One layer of the two-column network, per column."""

    name: str
    kind: str  # "conv" or "fc"
    out_per_column: int  # kernels (conv) or neurons (fc) in ONE column
    reads_both_columns: bool  # input is both columns' previous outputs (paper §3.5), else its own column's
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    relu: bool = True
    response_norm: bool = False  # local response normalisation, k=2, n=5, alpha=1e-4, beta=0.75 (§3.3)
    max_pool: bool = False  # overlapping pooling, 3x3 windows, stride 2 (§3.4)
    dropout: bool = False  # p = 0.5 (§4.2); inactive in eval mode
    scales_with_width: bool = True  # False for the output layer: its size is the number of classes


ALEXNET_STAGES = (
    Stage("conv1", "conv", 48, reads_both_columns=False, kernel=11, stride=4, response_norm=True, max_pool=True),
    Stage("conv2", "conv", 128, reads_both_columns=False, kernel=5, padding=2, response_norm=True, max_pool=True),
    Stage("conv3", "conv", 192, reads_both_columns=True, kernel=3, padding=1),
    Stage("conv4", "conv", 192, reads_both_columns=False, kernel=3, padding=1),
    Stage("conv5", "conv", 128, reads_both_columns=False, kernel=3, padding=1, max_pool=True),
    Stage("fc6", "fc", 2048, reads_both_columns=True, dropout=True),
    Stage("fc7", "fc", 2048, reads_both_columns=True, dropout=True),
    Stage("fc8", "fc", 500, reads_both_columns=True, relu=False, scales_with_width=False),
)
STAGE_NAMES = tuple(s.name for s in ALEXNET_STAGES)
COLUMNS = 2
IMAGE_CHANNELS = 3
PAPER_INPUT_SIZE = 227


def _spatial_after(stage: Stage, size: int) -> int:
    """Side of the square map a conv stage (with its pooling) produces from a size x size input."""
    size = (size + 2 * stage.padding - stage.kernel) // stage.stride + 1
    return (size - 3) // 2 + 1 if stage.max_pool else size


def _width(stage: Stage, width: float) -> int:
    return max(1, round(stage.out_per_column * width)) if stage.scales_with_width else stage.out_per_column


def _column_layer(stage: Stage, in_features: int, out: int) -> nn.Sequential:
    """One column's share of a stage: the linear map, then the paper's non-linearities in its order."""
    if stage.kind == "conv":
        layers: list[nn.Module] = [nn.Conv2d(in_features, out, stage.kernel, stage.stride, stage.padding)]
    else:
        layers = [nn.Linear(in_features, out)]
    if stage.relu:
        layers.append(nn.ReLU())
    if stage.response_norm:  # after the ReLU (§3.3)
        layers.append(nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0))
    if stage.max_pool:
        layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
    if stage.dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers)


class TwoColumnAlexNet(nn.Module):
    """Two columns (one per GPU) of the stages in `stages`; forward maps (N, 3, S, S) images to (N, 2 * fc8) logits."""

    def __init__(
        self, stages: Sequence[Stage] = ALEXNET_STAGES, width: float = 1.0, input_size: int = PAPER_INPUT_SIZE
    ) -> None:
        super().__init__()
        self.stages = tuple(stages)
        self.input_size = input_size
        self.columns = nn.ModuleList()  # columns[i][c]: column c's layer of stage i
        channels, side = IMAGE_CHANNELS, input_size  # what ONE column produced last (the image: each has a copy)
        for i, stage in enumerate(self.stages):
            if stage.kind == "fc" and (i == 0 or self.stages[i - 1].kind == "conv"):
                channels, side = channels * side * side, 1  # flatten before the first fc stage
            fan_in = COLUMNS * channels if stage.reads_both_columns else channels
            out = _width(stage, width)
            self.columns.append(nn.ModuleList(_column_layer(stage, fan_in, out) for _ in range(COLUMNS)))
            channels = out
            if stage.kind == "conv":
                side = _spatial_after(stage, side)
                if side < 1:
                    raise ValueError(f"input_size {input_size} is too small: nothing is left after {stage.name}")

    def stage_inputs(self, index: int, outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """What each column's layer of stage `index` reads, given each column's output of the stage before."""
        stage = self.stages[index]
        if stage.kind == "fc":
            outputs = [o.flatten(1) for o in outputs]  # (N, C*S*S)
        if stage.reads_both_columns:
            both = torch.cat(list(outputs), dim=1)  # (N, 2C, ...): the GPUs exchange activations here
            return [both] * COLUMNS
        return list(outputs)

    def run_stage(self, index: int, outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Each column's output of stage `index` from each column's output of the previous stage."""
        inputs = self.stage_inputs(index, outputs)
        return [self.columns[index][c](inputs[c]) for c in range(COLUMNS)]

    def column_activations(self, images: torch.Tensor) -> list[list[torch.Tensor]]:
        """acts[i] = each column's activations entering stage i (acts[0] = the image copies); acts[-1] = outputs."""
        acts = [[images] * COLUMNS]  # every GPU holds its own copy of the batch
        for index in range(len(self.stages)):
            acts.append(self.run_stage(index, acts[-1]))
        return acts

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, 1000) logits: the two halves of fc8 side by side."""
        return torch.cat(self.column_activations(images)[-1], dim=1)


def _reads_other_column(
    model: TwoColumnAlexNet, index: int, acts: list[torch.Tensor], generator: torch.Generator
) -> bool:
    """Does some column's output of stage `index` change when only the OTHER column's input to it is replaced?"""
    base = model.run_stage(index, acts)
    for changed in range(COLUMNS):
        replaced = list(acts)
        replaced[changed] = torch.randn(acts[changed].shape, generator=generator)  # an unrelated activation
        outputs = model.run_stage(index, replaced)
        if any(not torch.equal(outputs[c], base[c]) for c in range(COLUMNS) if c != changed):
            return True
    return False


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tensors this small run ~50x slower with intra-op threads on a busy machine; restore the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def sync_stages(model: TwoColumnAlexNet | None = None, seed: int = 0) -> list[str]:
    """Names of the stages whose input depends on both columns: where the GPUs must synchronise.

    Derived from the network, not typed in: at each stage the activations entering it from one column are
    replaced by random ones, and the stage is a synchronisation point iff the OTHER column's output of that
    stage changes. Column-local stages give bit-identical outputs, so the comparison is exact.
    Default model: the paper's connectivity at 1/16 width and a 67x67 input (about 20 ms on a CPU).
    A given model is put in eval mode (dropout off: a random mask would change outputs on its own).
    """
    generator = torch.Generator().manual_seed(seed)
    if model is None:
        with torch.random.fork_rng():  # seeded weights without touching the caller's global RNG
            torch.manual_seed(seed)
            model = TwoColumnAlexNet(width=1 / 16, input_size=67)
    model = model.eval()
    images = torch.randn(2, IMAGE_CHANNELS, model.input_size, model.input_size, generator=generator)
    with torch.no_grad(), _one_thread():
        acts = model.column_activations(images)
        return [
            stage.name
            for index, stage in enumerate(model.stages)
            if _reads_other_column(model, index, acts[index], generator)
        ]
