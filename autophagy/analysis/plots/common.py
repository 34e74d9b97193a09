"""Figure scaffolding shared by the plots: panels, colours, saving."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

matplotlib.use("Agg")  # belt and braces: Figure() alone never opens a window

# Series (mitigation x extra axes) get categorical colours; ratios a sequential map, dark = low.
SERIES_COLOURS = matplotlib.colormaps["tab10"].colors
RATIO_MAP = matplotlib.colormaps["viridis"]
MANY_RATIOS = 12  # more than this: a colour bar for the ratios instead of a legend entry each


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


def ratio_colourbar(fig: Figure, axs: list, ratios) -> None:
    """One colour bar for the ratios (ratio_colour's range of the map) beside the panels: with over
    MANY_RATIOS ratios a legend entry each would not fit (41 of them squeezed the panels to nothing)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    shown = ListedColormap(RATIO_MAP(np.linspace(0.0, 0.9, 256)))
    fig.colorbar(ScalarMappable(Normalize(min(ratios), max(ratios)), shown), ax=axs, label="ratio", shrink=0.8)


def ratio_ticks(ratios) -> tuple[list[int], list[str]]:
    """(positions, labels) for an axis with a cell per ratio: every one up to MANY_RATIOS, else
    about MANY_RATIOS of them evenly spaced (41 labels overlap, and sized a cell each, the figure grew
    to 39 inches)."""
    step = max(1, math.ceil(len(ratios) / MANY_RATIOS))
    at = list(range(0, len(ratios), step))
    return at, [f"{float(ratios[i]):g}" for i in at]


def save(fig: Figure, path: Path | None) -> Path | Figure:
    """Write the figure to path; with no path, return it unsaved (autophagy.Run's figures)."""
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
