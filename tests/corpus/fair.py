"""Submissions written the way students write them, each with the verdicts a careful TA would sign: code that
computes the handout's function in an unusual way keeps its points, and what differs is named by its real
cause. The tests grade them through the whole pipeline (tests/grader/test_fair_verdicts.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).with_name("fair")


@dataclass(frozen=True)
class Verdict:
    fraction: float  # share of the item's points
    feedback: tuple[str, ...] = ()  # phrases the feedback must contain (case-insensitive)


@dataclass(frozen=True)
class Case:
    folder: str  # under tests/corpus/fair/
    verdicts: dict[str, Verdict]
    edits: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (text, replacement), each once


CASES: dict[str, Case] = {
    # The PyTorch MNIST example's style: log_softmax + nll_loss, BatchNorm after the ReLU, torch's RMSprop
    # spelling, AdamW's decoupled weight decay, and min-char-rnn's clipped BPTT.
    "logsoftmax_bn_after_relu": Case("logsoftmax_bn_after_relu", {
        "1.1": Verdict(0.5, ("your gradients are clipped to [-5, 5]", "asks for dL/dtheta", "earns 0.5")),
        "1.2": Verdict(0.5, ("your gradients are clipped to [-5, 5]",)),
        "5.1.1": Verdict(1.0, ("returns log-probabilities",)),
        "5.1.2": Verdict(1.0, ("loss_fn(Net()(x), y) equals the softmax cross-entropy", "nll_loss")),
        "5.3.1": Verdict(1.0, ("conv 1 (after its relu)", "accepted")),
        "5.4.1": Verdict(0.75, ("lr=0.005, weight_decay=0.1: departs from torch.optim.Adam",
                                "matches torch.optim.Adam except weight decay is decoupled (AdamW)")),
        "5.4.2": Verdict(1.0, ("spelled `RMSprop`",)),
    }),
    # The PyTorch CIFAR-10 tutorial's style with an extra ReLU after every pooling; Adam in the paper's
    # efficient form; RMSProp with epsilon inside the square root (TensorFlow's form).
    "redundant_relu_efficient_adam": Case("redundant_relu_efficient_adam", {
        "5.1.1": Verdict(1.0, ("no defect, since the function is the handout's", "relu applied 2 times after conv 1")),
        "5.4.1": Verdict(1.0, ("efficient form", "which the epsilon policy accepts")),
        "5.4.2": Verdict(0.0, ("matches torch.optim.RMSprop except epsilon is inside the square root",)),
    }),
    # The same with one real defect: only it counts (the extra ReLUs change nothing, and FC 120's input size
    # follows from the padding).
    "redundant_relu_and_padding": Case("redundant_relu_efficient_adam", {
        "5.1.1": Verdict(0.5, ("the second conv uses padding 2", "(which follows from the above)",
                               "not counted, since removing it leaves the function unchanged")),
    }, edits=(("self.conv2 = nn.Conv2d(6, 16, 5)\n", "self.conv2 = nn.Conv2d(6, 16, 5, padding=2)\n"),
              ("self.fc1 = nn.Linear(16 * 5 * 5, 120)\n", "self.fc1 = nn.Linear(16 * 7 * 7, 120)\n"))),
}


def build(name: str, folder: Path) -> Path:
    case = CASES[name]
    source = (HERE / case.folder / "submission.py").read_text()
    for old, new in case.edits:
        assert source.count(old) == 1, f"{name}: {old!r} occurs {source.count(old)} times"
        source = source.replace(old, new)
    out = folder / name
    out.mkdir(parents=True)
    (out / "submission.py").write_text(source)
    return out
