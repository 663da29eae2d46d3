"""Figures for the report, as PNG bytes: training curves against the reference band, and the first
convolution layer's learned filters.

Matplotlib is imported inside the functions and drawn through its Agg canvas directly (no pyplot, no global
backend switch), so importing this module is cheap and rendering never needs a display.
"""
from __future__ import annotations

import base64
import functools
import io
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from grader.results.model import Curve

MAX_FILTERS = 256  # a very wide first layer is shown by its first 256 filters
TILE_PX = 48  # target edge of one upscaled filter tile
GAP_PX = 2  # gap between tiles
MAX_LABEL_CHARS = 80  # of a run label in a plot title

STUDENT_COLOUR = "#1f5fbf"
BAND_COLOUR = "#9aa4b1"


def png_data_uri(png: bytes) -> str:
    """`data:` URI of PNG bytes, for embedding in a self-contained HTML file."""
    return "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")


def _finite(values: Sequence[float]) -> np.ndarray:
    """Values as floats with every non-finite entry (inf, a diverged loss) replaced by NaN (a gap in the line)."""
    a = np.asarray(list(values), dtype=float)
    a[~np.isfinite(a)] = np.nan
    return a


def _band_ok(x: Sequence, lo: Sequence, hi: Sequence) -> bool:
    return len(x) > 0 and len(x) == len(lo) == len(hi)


def _short(label: str) -> str:
    label = str(label).replace("$", r"\$")  # no mathtext
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _loss_axis(ax, curve: "Curve") -> None:
    steps, losses = np.asarray(curve.steps, dtype=float), _finite(curve.losses)
    n = min(len(steps), len(losses))
    steps, losses = steps[:n], losses[:n]
    band = _band_ok(curve.band_steps, curve.band_loss_lo, curve.band_loss_hi)
    if band:
        ax.fill_between(np.asarray(curve.band_steps, dtype=float), _finite(curve.band_loss_lo),
                        _finite(curve.band_loss_hi), color=BAND_COLOUR, alpha=0.35, linewidth=0,
                        label="reference band")
    if n and np.isfinite(losses).any():
        ax.plot(steps, losses, color=STUDENT_COLOUR, linewidth=1.4, label="student")
        # A diverging run must not flatten the band: cap the axis at a few times the reference's scale.
        ref = np.nanmax(_finite(curve.band_loss_hi)) if band else np.nanmedian(losses)
        top = np.nanmax(losses)
        if np.isfinite(ref) and ref > 0 and top > 4 * ref:
            ax.set_ylim(0, 4 * ref)
            ax.text(0.98, 0.95, "loss clipped (run diverged)", transform=ax.transAxes, ha="right", va="top",
                    fontsize=8, color="#b3261e")
    else:
        ax.text(0.5, 0.5, "no training loss recorded", transform=ax.transAxes, ha="center", va="center",
                fontsize=9, color="#666666")
    ax.set_title(f"{_short(curve.label)}: training loss", fontsize=10, loc="left")
    ax.set_xlabel("SGD step", fontsize=9)
    ax.set_ylabel("loss", fontsize=9)


def _accuracy_axis(ax, curve: "Curve") -> None:
    acc = _finite(curve.epoch_accuracy) * 100
    band = len(curve.band_acc_lo) > 0 and len(curve.band_acc_lo) == len(curve.band_acc_hi)
    if band:
        epochs = np.arange(1, len(curve.band_acc_lo) + 1)
        ax.fill_between(epochs, _finite(curve.band_acc_lo) * 100, _finite(curve.band_acc_hi) * 100,
                        color=BAND_COLOUR, alpha=0.35, linewidth=0, label="reference band")
    if len(acc) and np.isfinite(acc).any():
        ax.plot(np.arange(1, len(acc) + 1), acc, color=STUDENT_COLOUR, linewidth=1.4, marker="o",
                markersize=4, label="student")
    else:
        ax.text(0.5, 0.5, "no test accuracy recorded", transform=ax.transAxes, ha="center", va="center",
                fontsize=9, color="#666666")
    n_epochs = max(len(acc), len(curve.band_acc_lo) if band else 0, 1)
    ax.set_xlim(0.75, n_epochs + 0.25)
    ax.set_xticks(range(1, n_epochs + 1))
    ax.set_ylim(0, 100)
    ax.set_title(f"{_short(curve.label)}: test accuracy", fontsize=10, loc="left")
    ax.set_xlabel("epoch", fontsize=9)
    ax.set_ylabel("accuracy (%)", fontsize=9)


def curves_png(curves: "list[Curve]", dpi: int = 100) -> bytes:
    """One figure, one row per run: training loss per SGD step and test accuracy per epoch, each with the
    reference band shaded. Raises ValueError when there is no run to draw. (Curves are immutable, so the
    last few figures are cached: rendering the same result twice draws once.)"""
    if not curves:
        raise ValueError("no training curves to plot")
    return _curves_png(tuple(curves), dpi)


ROW_IN = 3.0  # height of one run's row, inches
TOP_IN, BOTTOM_IN, GAP_IN = 0.3, 0.5, 0.75  # margins; GAP: x label of one row + title of the next


@functools.lru_cache(maxsize=8)
def _curves_png(curves: "tuple[Curve, ...]", dpi: int) -> bytes:
    # matplotlib takes 0.37 s to import (2-core CI machine): a grade without training runs draws nothing
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = len(curves)
    height = TOP_IN + BOTTOM_IN + rows * ROW_IN + (rows - 1) * GAP_IN
    fig = Figure(figsize=(11, height), dpi=dpi)
    FigureCanvasAgg(fig)
    axes_h = ROW_IN
    axes = fig.subplots(rows, 2, squeeze=False, gridspec_kw={
        "width_ratios": (3, 2), "left": 0.065, "right": 0.985, "wspace": 0.2,
        "top": 1 - TOP_IN / height, "bottom": BOTTOM_IN / height, "hspace": GAP_IN / axes_h})
    for row, curve in zip(axes, curves):
        _loss_axis(row[0], curve)
        _accuracy_axis(row[1], curve)
        for ax in row:
            ax.grid(True, color="#e3e3e3", linewidth=0.6)
            ax.tick_params(labelsize=8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="best", frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def filter_grid(weights, tile_px: int = TILE_PX, gap_px: int = GAP_PX, max_filters: int = MAX_FILTERS) -> np.ndarray:
    """The filters as one RGB image (H, W, 3) in [0, 1]: each filter min-max normalised on its own, upscaled
    with nearest neighbour, tiles separated by a thin white gap. Filters with other than 3 input channels are
    shown as the grey mean over their channels."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"expected conv weights of shape (C_out, C_in, k, k), got {w.shape}")
    w = np.nan_to_num(w[:max_filters], nan=0.0, posinf=0.0, neginf=0.0)
    if w.shape[1] != 3:
        w = np.repeat(w.mean(axis=1, keepdims=True), 3, axis=1)
    tiles = w.transpose(0, 2, 3, 1)  # (C_out, kh, kw, 3)
    lo = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - lo
    tiles = np.where(span > 0, (tiles - lo) / np.where(span > 0, span, 1.0), 0.5)  # a constant filter: mid grey
    n, kh, kw, _ = tiles.shape
    scale = max(1, tile_px // max(kh, kw))
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    th, tw = kh * scale, kw * scale
    cols = min(n, 8) if n <= 16 else math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((rows * th + (rows - 1) * gap_px, cols * tw + (cols - 1) * gap_px, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (th + gap_px), c * (tw + gap_px)
        grid[y:y + th, x:x + tw] = tiles[i]
    return grid


def filters_png(weights) -> bytes:
    """The first convolution layer's filters, weights of shape (C_out, 3, k, k), as a PNG image grid."""
    from matplotlib.image import imsave  # writes the pixels through Pillow: no figure, no backend

    grid = filter_grid(weights)
    buf = io.BytesIO()
    imsave(buf, np.clip(grid, 0.0, 1.0), format="png")
    return buf.getvalue()
