"""Figure scaffolding shared by the plots: panels, colours, saving."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

matplotlib.use("Agg")  # belt and braces: Figure() alone never opens a window

# Series (mitigation x extra axes) get categorical colours; ratios a sequential map, dark = low.
SERIES_COLOURS = matplotlib.colormaps["tab10"].colors
RATIO_MAP = matplotlib.colormaps["viridis"]


def panels(n: int, width: float = 4.6, height: float = 3.4, max_cols: int = 3):
    """A figure with n axes in a grid (extra cells hidden); returns (figure, list of axes)."""
    cols = min(max(n, 1), max_cols)
    rows = math.ceil(max(n, 1) / cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.6), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = list(grid.flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def ratio_colour(ratio: float, ratios) -> tuple:
    lo, hi = min(ratios), max(ratios)
    return RATIO_MAP(0.0 if hi == lo else 0.9 * (ratio - lo) / (hi - lo))


def save(fig: Figure, path: Path | None) -> Path | Figure:
    """Write the figure to path; with no path, return it unsaved (autophagy.Run's figures)."""
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
