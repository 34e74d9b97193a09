"""A metric against generation: one panel per series, one line per ratio (median over seeds),
each seed's own chain drawn faintly beneath; a cross marks where a chain diverged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.criterion import describe_criterion
from autophagy.analysis.plots.common import panels, ratio_colour, save
from autophagy.config import CollapseConfig


def plot_metric_curves(rows: pd.DataFrame, axes: list[str], metric: str, path: Path,
                       criterion: CollapseConfig | None = None) -> Path:
    by = series_axes(axes)
    series = list(groups(rows, by))
    ratios = sorted(rows["ratio"].astype(float).unique())
    fig, axs = panels(len(series))
    for ax, (values, sub) in zip(axs, series):
        for r, at_ratio in sub.groupby("ratio", sort=True):
            colour = ratio_colour(float(r), ratios)
            faint, ends = [], []
            for _, chain in at_ratio.groupby("chain_id"):
                faint.append(np.column_stack([chain["generation"], chain[metric]]))
                ok = chain[chain["status"] == "ok"]
                if (chain["status"] == "diverged").any() and len(ok):
                    ends.append((ok["generation"].iloc[-1], ok[metric].iloc[-1]))
            ax.add_collection(LineCollection(faint, colors=[colour], linewidths=0.7, alpha=0.3))
            if ends:
                ax.plot(*zip(*ends), "x", ls="", color=colour, ms=7)
            med = at_ratio.groupby("generation")[metric].median()
            ax.plot(med.index, med.to_numpy(), color=colour, lw=2, label=f"ratio {float(r):g}")
        if criterion is not None and criterion.metric == metric and criterion.mode == "absolute":
            ax.axhline(criterion.threshold, color="red", ls="--", lw=1, label="collapse threshold")
        ax.set_title(label(values), fontsize=10)
        ax.set_xlabel("generation")
        ax.set_ylabel(metric)
    if axs:
        axs[0].legend(fontsize=7, ncol=2 if len(ratios) > 5 else 1)
    title = f"{metric} by generation (lines: median over seeds; faint: chains; x: diverged after)"
    if criterion is not None and criterion.metric == metric:
        title += f"\ncriterion: {describe_criterion(criterion)}"
    fig.suptitle(title, fontsize=11)
    return save(fig, path)
