"""Heatmaps: median time to collapse over ratio x series, and any metric over ratio x generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.criterion import describe_criterion
from autophagy.analysis.plots.common import MANY_RATIOS, panels, ratio_ticks, save
from autophagy.analysis.summary import format_ttc
from autophagy.config import CollapseConfig


def plot_ttc_heatmap(summary: pd.DataFrame, axes: list[str], generations: int, criterion: CollapseConfig,
                     path: Path) -> Path:
    """Rows: series; columns: ratio; colour and text: median time to collapse. Censored medians
    (lower bounds) are hatched and written `5+`; cells without chains are blank. Over MANY_RATIOS
    ratios the cells are too narrow for text: colour and hatching only."""
    by = series_axes(axes)
    ratios = sorted(summary["ratio"].astype(float).unique())
    names, grid, lower = [], [], []
    for values, sub in groups(summary, by):
        names.append(label(values))
        cell = {float(r): (m, c) for r, m, c in zip(sub["ratio"], sub["median_ttc"], sub["median_censored"])}
        grid.append([cell.get(r, (np.nan, False))[0] for r in ratios])
        lower.append([bool(cell.get(r, (np.nan, False))[1]) for r in ratios])
    grid = np.array(grid, dtype=float)
    written = len(ratios) <= MANY_RATIOS
    width = max(5.0, 0.9 * len(ratios) + 2.5) if written else 14.0
    fig, (ax,) = panels(1, width=width, height=max(2.6, 0.55 * len(names) + 1.6))
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="magma", vmin=0, vmax=generations, aspect="auto")
    for i in range(len(names)):
        for j in range(len(ratios)):
            if lower[i][j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="grey", lw=0))
            if not written:
                continue
            text = format_ttc(grid[i, j], lower[i][j])
            shade = "black" if grid[i, j] > 0.6 * generations else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=shade if text != "-" else "grey")
    ax.set_xticks(*ratio_ticks(ratios))
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("synthetic ratio")
    ax.set_title(f"Median generation of collapse (N+ = censored: lower bound; - = no chains)\n"
                 f"criterion: {describe_criterion(criterion)}", fontsize=10)
    fig.colorbar(image, ax=ax, label="median generation of collapse")
    return save(fig, path)


def plot_metric_heatmap(rows: pd.DataFrame, axes: list[str], metric: str, path: Path) -> Path:
    """Per series, a ratio x generation map of the metric's median over seeds."""
    by = series_axes(axes)
    series = list(groups(rows[rows["status"] == "ok"], by))
    ratios = sorted(rows["ratio"].astype(float).unique())
    gens = np.arange(int(rows["generation"].max()) + 1)
    finite = rows[metric].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    vmin, vmax = (finite.min(), finite.max()) if len(finite) else (0, 1)
    fig, axs = panels(len(series), width=max(4.0, 0.35 * len(gens) + 2.5),
                      height=max(2.6, 0.4 * min(len(ratios), MANY_RATIOS) + 1.6))
    for ax, (values, sub) in zip(axs, series):
        med = sub.groupby(["ratio", "generation"])[metric].median()
        grid = np.full((len(ratios), len(gens)), np.nan)
        for (r, g), v in med.items():
            grid[ratios.index(float(r)), int(g)] = v
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto",
                          origin="lower")
        ax.set_yticks(*ratio_ticks(ratios))
        ax.set_xlabel("generation")
        ax.set_ylabel("synthetic ratio")
        ax.set_title(label(values), fontsize=10)
        fig.colorbar(image, ax=ax, label=f"{metric} (median over seeds)")
    fig.suptitle(f"{metric} by ratio and generation (blank: not observed)")
    return save(fig, path)
