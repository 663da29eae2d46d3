"""A realistic `GradeResult` for tests of the rendering step (report, Gradescope JSON, badge).

`sample_grade_result()` gives a full instructor-edition result: every rubric item (automatic ones scored,
manual ones pending with the student's text, one bonus item earned), three training runs with synthetic
curves inside and around the reference band, filter grids from random first-layer weights (the student's and
the reference's), the accuracy
table, reference proofs (one failed), seeds, environment and notes. Everything is deterministic.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from checks.verdict import ProofResult
from grader.results.model import AccuracyRow, Curve, GradeResult, ItemResult
from grader.rubric.items import RUBRIC

STEPS_PER_EPOCH = 782  # 50,000 images, batch 64
EPOCHS = 5

# rubric number -> (fraction earned, status, feedback); manual items are pending, unlisted bonus items skipped
_OUTCOMES: dict[str, tuple[float, str, str]] = {
    "1.1": (1.0, "passed", "dL/dW_hz and dL/db_z match finite differences on 3 random sequences (max rel. error 2e-9)."),
    "1.2": (0.5, "partial", "dL/dW_hh is missing the contribution through h_{t+1}:\n"
                            "  the recursion delta_t = (1 - h_t^2) * (W_hz^T (z_t - y_t)) drops W_hh^T delta_{t+1}.\n"
                            "Relative error against finite differences: 0.41 (tolerance 1e-6)."),
    "2.1": (1.0, "passed", "G_t unrolls F_theta correctly for t = 1..6 (symbolic check)."),
    "3.1": (1.0, "passed", "Named stages: conv2 -> conv3, and the fully connected layers fc6, fc7, fc8."),
    "4.1": (1.0, "passed", "Parameter count (d+1)n + (L-1)(n+1)n + (n+1)c matches brute force for 40 shapes."),
    "4.2": (0.0, "failed", "Expected O(dn + (L-1)n^2 + nc) multiplications; the answer counts only the forward pass."),
    "4.3": (1.0, "passed", "Exponential in L: O(n^L) paths, matches enumeration for small networks."),
    "5.1.1": (1.0, "passed", "conv(3->6, k5) - pool - conv(6->16, k5) - pool - fc 400->120->84->10, ReLU throughout."),
    "5.1.2": (1.0, "passed", "Softmax cross-entropy: equals torch.nn.functional.cross_entropy on 64 random batches."),
    "5.1.3": (1.0, "passed", "Final test accuracy 61.2% >= pass mark 55.0% (reference mean 62.0%)."),
    "5.2.1": (1.0, "passed", "Var[w] = 2 / n_l for every conv and linear layer (within 3 standard errors)."),
    "5.2.2": (0.0, "failed", "Final test accuracy 54.1% is below the pass mark 58.0%.\n"
                             "Traceback (most recent call last):\n  File \"submission.py\", line 88, in init_weights\n"
                             "ValueError: <script>alert('x')</script> is not a layer"),
    "5.3.1": (1.0, "passed", "BatchNorm2d after both convolutions, BatchNorm1d after fc1 and fc2, none after fc3."),
    "5.3.2": (0.6, "partial", "Final test accuracy 64.3%: above the baseline but below the pass mark 66.0%."),
    "5.4.1": (1.0, "passed", "Own Adam implementation matches torch.optim.Adam on 20 steps (max abs. diff 3e-8)."),
}

_ANSWERS = {
    "2.2": "1. Parameter sharing: the same F_theta is applied at every step, so one function serves every length t\n"
           "   and all training sequences (of any length) train it.\n"
           "2. The hidden state h_t is a fixed-size summary of the past, so the model does not grow with t.",
    "5.1.4": "Softmax loss converges faster than the hinge loss I tried; weight decay 5e-4 reduced the gap between "
             "train and test accuracy from 12% to 7%.",
    "5.2.3": "Var[y_l] = n_l Var[w_l x_l] = n_l (E[w^2] E[x^2] - E[w]^2 E[x]^2) = n_l Var[w_l] E[x_l^2] since E[w_l] = 0.\n"
             "For Eq. 4: y_{l-1} symmetric around 0, so E[max(0, y)^2] = 1/2 E[y^2] = 1/2 Var[y_{l-1}].",
}


def sample_items() -> list[ItemResult]:
    items = []
    for r in RUBRIC:
        if r.manual:
            items.append(ItemResult(r.number, r.name, r.points, None, "pending", "Graded by hand.", manual=True,
                                    student_text=_ANSWERS.get(r.number, ""), bonus=r.bonus))
        elif r.number in _OUTCOMES:
            fraction, status, feedback = _OUTCOMES[r.number]
            items.append(ItemResult(r.number, r.name, r.points, round(fraction * r.points, 2), status, feedback,
                                    bonus=r.bonus))
        else:
            items.append(ItemResult(r.number, r.name, r.points, None, "skipped", "Not attempted (no optional code found).",
                                    bonus=r.bonus))
    return items


def sample_curve(label: str, final_loss: float, final_acc: float, seed: int, pass_mark: float | None = None) -> Curve:
    """A synthetic run: loss decaying from ~2.3 with noise, against a reference band around a similar decay."""
    rng = np.random.default_rng(seed)
    steps = np.arange(100, EPOCHS * STEPS_PER_EPOCH + 1, 100)
    t = steps / steps[-1]
    mean = final_loss + (2.30 - final_loss) * np.exp(-4.0 * t)
    losses = mean + rng.normal(0, 0.04, size=steps.shape)
    ref = 1.05 + (2.30 - 1.05) * np.exp(-4.5 * t)
    epochs = np.arange(1, EPOCHS + 1)
    acc = final_acc * (1 - 0.45 * np.exp(-0.9 * (epochs - 1))) + rng.normal(0, 0.005, size=epochs.shape)
    ref_acc = 0.62 * (1 - 0.42 * np.exp(-0.9 * (epochs - 1)))
    return Curve(label=label, steps=tuple(int(s) for s in steps), losses=tuple(float(x) for x in losses),
                 epoch_accuracy=tuple(float(a) for a in acc), band_steps=tuple(int(s) for s in steps),
                 band_loss_lo=tuple(float(x) for x in ref - 0.12), band_loss_hi=tuple(float(x) for x in ref + 0.12),
                 band_acc_lo=tuple(float(a) for a in ref_acc - 0.03), band_acc_hi=tuple(float(a) for a in ref_acc + 0.03),
                 pass_mark=pass_mark)


def sample_curves() -> list[Curve]:
    return [sample_curve("Net (5.1.3)", 1.08, 0.612, 1, pass_mark=0.550),  # the accuracy table's pass marks
            sample_curve("Net + init_weights (5.2.2)", 1.30, 0.541, 2, pass_mark=0.580),
            sample_curve("NetBN (5.3.2)", 0.92, 0.643, 3, pass_mark=0.660)]


def sample_first_conv(seed: int = 0) -> np.ndarray:
    """Random first-layer weights (6, 3, 5, 5) with a little structure (an oriented edge per filter)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.05, size=(6, 3, 5, 5))
    yy, xx = np.mgrid[-2:3, -2:3]
    for i in range(6):
        angle = np.pi * i / 6
        w[i] += 0.2 * np.tanh(np.cos(angle) * xx + np.sin(angle) * yy)[None] * rng.normal(1, 0.5, size=(3, 1, 1))
    return w


def sample_filters_png(seed: int = 0, title: str = "Your network") -> bytes:
    from grader.results.plots import filters_png

    return filters_png(sample_first_conv(seed), title=title)


def sample_proofs() -> list[ProofResult]:
    return [
        ProofResult("BPTT gradients (Problem 1)", True, "sympy: symbolic gradient equals the reference recursion for T = 4; "
                                                         "finite differences on 5 random sequences, seed 0, max rel. error 3e-10."),
        ProofResult("Eq. 3 (Var[y] = n Var[w] E[x^2])", True, "Monte Carlo, 10^6 samples, seed 0: ratio 1.0004 (tolerance 0.01)."),
        ProofResult("Eq. 4 for normal y", True, "Monte Carlo, 10^6 samples, seed 0: E[x^2] / Var[y] = 0.4998 (expected 0.5)."),
        ProofResult("Path enumeration is exponential", False, "brute force for L = 1..6, n = 2: counted 2^L paths but the "
                                                               "reference formula gave n^(L-1) (off by a factor n)."),
    ]


def sample_grade_result(**overrides) -> GradeResult:
    """A realistic instructor-edition result; keyword arguments replace fields (dataclasses.replace)."""
    result = GradeResult(
        submission="submissions/chan_tai_man_1155012345",
        items=sample_items(),
        curves=sample_curves(),
        accuracy_table=[AccuracyRow("baseline Net", 0.612, 0.620, 0.550),
                        AccuracyRow("Kaiming (He) init", 0.541, 0.628, 0.580),
                        AccuracyRow("BatchNorm", 0.643, 0.681, 0.660)],
        filters_png=sample_filters_png(),
        reference_filters_png=sample_filters_png(1, title="Reference solution"),
        train_epochs=EPOCHS,
        proofs=sample_proofs(),
        protocol="SGD lr 0.001, momentum 0.9, weight decay 0.0005, batch 64, 5 epochs over 50000 training images, "
                 "inputs scaled to [-1, 1], softmax cross-entropy, no augmentation",
        seeds={"Net (5.1.3)": 0, "Net + init_weights (5.2.2)": 0, "NetBN (5.3.2)": 0},
        environment={"grader": "hw2-grade 0.1.0", "python": "3.11.2", "torch": "2.14.1",
                     "device": "cpu (16 cores, 2 torch threads per child)", "machine": "x86_64 Linux",
                     "isolation": "bubblewrap", "data": "/data/cifar-10-batches-py", "seed": "0",
                     "throughput net": "2510 training images/s", "time: rubric (children)": "412.3 s"},
        isolation="bubblewrap (/usr/bin/bwrap): no network, private PID namespace, read-only file system with the "
                  "reference, data and outputs hidden; unprivileged uid 65534; cgroup memory and process limits",
        limits="wall 900 s, CPU 3600 s, address space 8 GiB per process, file size 64 MiB, 256 open files, 64 processes",
        notes=["Code taken from notebook cells 3, 4, 7 and 9 of hw2.ipynb.", "answers.toml: 3 answers found."],
        execution_time=431.7,
        edition="instructor",
    )
    return dataclasses.replace(result, **overrides) if overrides else result
