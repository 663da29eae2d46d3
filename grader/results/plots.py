"""Figures for the report, as PNG bytes: training loss and test accuracy per epoch against the reference band
and the pass mark, and the first convolution layer's learned filters beside the reference's.

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

MAX_FILTERS = 64  # a very wide first layer is shown by its first 64 filters
FILTER_COLUMNS = 8  # tiles per row at most
TILE_IN = 1.1  # edge of one filter tile, inches (110 px at 100 dpi)
MAX_LABEL_CHARS = 80  # of a run label in a plot title
MIN_ACC_SPAN = 4.0  # percentage points: the accuracy axis never zooms in further than this

STUDENT_COLOUR = "#1f5fbf"
BAND_COLOUR = "#9aa4b1"
PASS_MARK_COLOUR = "#b3261e"


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
    ax.set_title(f"{_short(curve.label)}: training loss", fontsize=11, loc="left")
    ax.set_xlabel("SGD step", fontsize=10)
    ax.set_ylabel("loss", fontsize=10)


def _accuracy_limits(values: np.ndarray) -> tuple[float, float]:
    """An axis fitted to the values (percent): at least MIN_ACC_SPAN points tall, padded, inside 0..100."""
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 100.0
    lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, MIN_ACC_SPAN)
    mid = (lo + hi) / 2
    lo, hi = mid - 0.65 * span, mid + 0.65 * span
    if lo < 0:
        lo, hi = 0.0, hi - lo
    if hi > 100:
        lo, hi = max(0.0, lo - (hi - 100)), 100.0
    return lo, hi


def _accuracy_axis(ax, curve: "Curve") -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    acc = _finite(curve.epoch_accuracy) * 100
    band = len(curve.band_acc_lo) > 0 and len(curve.band_acc_lo) == len(curve.band_acc_hi)
    lo = _finite(curve.band_acc_lo) * 100 if band else np.array([])
    hi = _finite(curve.band_acc_hi) * 100 if band else np.array([])
    mark = None if curve.pass_mark is None or not math.isfinite(curve.pass_mark) else 100 * curve.pass_mark
    n_epochs = max(len(acc), len(lo), 1)
    if band:
        epochs = np.arange(1, len(lo) + 1)
        ax.fill_between(epochs, lo, hi, color=BAND_COLOUR, alpha=0.35, linewidth=0, label="reference band")
        if len(lo) == 1:  # one epoch: a band of one point is a bar
            ax.plot([1, 1], [lo[0], hi[0]], color=BAND_COLOUR, linewidth=8, alpha=0.6, solid_capstyle="butt")
    if mark is not None:
        ax.axhline(mark, color=PASS_MARK_COLOUR, linestyle="--", linewidth=1.2,
                   label=f"pass mark {mark:.1f}% (final epoch)")
    if len(acc) and np.isfinite(acc).any():
        ax.plot(np.arange(1, len(acc) + 1), acc, color=STUDENT_COLOUR, linewidth=1.6, marker="o", markersize=5,
                label="student")
        last = len(acc) - 1 - int(np.argmax(np.isfinite(acc[::-1])))
        ax.annotate(f"{acc[last]:.1f}%", (last + 1, acc[last]), xytext=(-4, 7), textcoords="offset points",
                    ha="right", va="bottom", fontsize=9, color=STUDENT_COLOUR, fontweight="bold")
    else:
        ax.text(0.5, 0.5, "no test accuracy recorded", transform=ax.transAxes, ha="center", va="center",
                fontsize=9, color="#666666")
    ax.set_xlim(0.75, n_epochs + 0.25)
    ax.set_xticks(range(1, n_epochs + 1))
    ax.set_ylim(*_accuracy_limits(np.concatenate([acc, lo, hi, [mark if mark is not None else np.nan]])))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_title(f"{_short(curve.label)}: test accuracy", fontsize=11, loc="left")
    ax.set_xlabel("epoch", fontsize=10)
    ax.set_ylabel("test accuracy", fontsize=10)


PANEL_IN = (5.0, 3.3)  # one plot, inches; shown at 100 CSS pixels per inch, two side by side on a laptop
PIXEL_SCALE = 2  # image pixels per CSS pixel: sharp on a phone's high-density screen


def run_pngs(curve: "Curve") -> tuple[bytes, bytes]:
    """One graded run as two figures, (training loss per SGD step, test accuracy per epoch), each with the
    reference band shaded and the accuracy with the pass mark; separate images so that a narrow screen stacks
    them. (Curves are immutable, so recent figures are cached: rendering the same result twice draws once.)"""
    return _panel_png(curve, "loss"), _panel_png(curve, "accuracy")


@functools.lru_cache(maxsize=16)
def _panel_png(curve: "Curve", kind: str) -> bytes:
    # matplotlib takes 0.37 s to import (2-core CI machine): a grade without training runs draws nothing
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=PANEL_IN, dpi=100 * PIXEL_SCALE)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    (_loss_axis if kind == "loss" else _accuracy_axis)(ax, curve)
    ax.grid(True, color="#e3e3e3", linewidth=0.6)
    ax.tick_params(labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8.5, loc="best", frameon=False)
    fig.tight_layout(pad=0.6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")
    return buf.getvalue()


def filter_tiles(weights, max_filters: int = MAX_FILTERS) -> np.ndarray:
    """The filters as RGB tiles (n, k, k, 3) in [0, 1], each min-max normalised on its own (a constant filter is
    mid grey, non-finite weights count as 0). Filters with other than 3 input channels are shown as the grey
    mean over their channels."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or 0 in w.shape:
        raise ValueError(f"expected conv weights of shape (C_out, C_in, k, k), got {w.shape}")
    w = np.nan_to_num(w[:max_filters], nan=0.0, posinf=0.0, neginf=0.0)
    if w.shape[1] != 3:
        w = np.repeat(w.mean(axis=1, keepdims=True), 3, axis=1)
    tiles = w.transpose(0, 2, 3, 1)  # (C_out, kh, kw, 3)
    lo = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - lo
    return np.where(span > 0, (tiles - lo) / np.where(span > 0, span, 1.0), 0.5)


def filters_png(weights, title: str = "Your network") -> bytes:
    """The first convolution layer's filters, weights (C_out, 3, k, k), as one labelled block of tiles (the
    filter's index in the weight tensor above each), in a near-square grid so that it fits a phone."""
    tiles = filter_tiles(weights)
    return _filters_png(title, tiles, len(weights), 100 * PIXEL_SCALE)


def _filters_png(title: str, tiles: np.ndarray, total: int, dpi: int) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(FILTER_COLUMNS, math.ceil(math.sqrt(len(tiles))))
    rows = math.ceil(len(tiles) / cols)
    title_in, label_in, gap_in, side_in = 0.4, 0.25, 0.12, 0.15  # block title, tile label, between tiles, margin
    width = 2 * side_in + cols * TILE_IN + (cols - 1) * gap_in
    height = side_in + title_in + rows * (TILE_IN + label_in + gap_in)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    shown = "" if total <= len(tiles) else f" (first {len(tiles)} of {total})"
    fig.text(side_in / width, 1 - (side_in / 2 + title_in / 2) / height, _short(title) + shown, fontsize=11,
             fontweight="bold", va="center")
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y = height - side_in / 2 - title_in - label_in - r * (TILE_IN + label_in + gap_in) - TILE_IN
        x = side_in + c * (TILE_IN + gap_in)
        ax = fig.add_axes((x / width, y / height, TILE_IN / width, TILE_IN / height))
        ax.imshow(tile, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"filter {i}", fontsize=9, pad=3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()
