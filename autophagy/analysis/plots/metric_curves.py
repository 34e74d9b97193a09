"""A metric against generation: one panel per series, one line per ratio (median over seeds),
each seed's own chain drawn faintly beneath; a cross marks where a chain diverged. Above MANY_CHAINS
chains in a panel, a band (the interquartile range over seeds) replaces the faint chains: 2,050 chains'
lines took 2.5 s per figure and showed only a smear."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.criterion import describe_criterion
from autophagy.analysis.plots.common import RATIO_MAP, panels, ratio_colour, save
from autophagy.config import CollapseConfig
from autophagy.metrics import registry

MANY_CHAINS = 40
MANY_RATIOS = 12  # more than this: a colour bar for the ratios instead of a legend entry each


def plot_metric_curves(rows: pd.DataFrame, axes: list[str], metric: str, path: Path,
                       criterion: CollapseConfig | None = None) -> Path:
    return save(metric_curves_figure(rows, axes, metric, criterion), path)


def metric_curves_figure(rows: pd.DataFrame, axes: list[str], metric: str,
                         criterion: CollapseConfig | None = None) -> Figure:
    by = series_axes(axes)
    series = list(groups(rows, by))
    ratios = sorted(rows["ratio"].astype(float).unique())
    banded = any(sub["chain_id"].nunique() > MANY_CHAINS for _, sub in series)
    fig, axs = panels(len(series))
    for ax, (values, sub) in zip(axs, series):
        ends = _divergences(sub, metric)
        stats = sub.groupby(["ratio", "generation"])[metric]
        median = stats.median()
        band = (stats.quantile(0.25), stats.quantile(0.75)) if banded else None
        for r, at_ratio in sub.groupby("ratio", sort=True):
            colour = ratio_colour(float(r), ratios)
            if banded:
                low, high = band[0].loc[r], band[1].loc[r]
                ax.fill_between(low.index, low.to_numpy(), high.to_numpy(), color=colour, alpha=0.15, lw=0)
            else:
                ax.add_collection(LineCollection(
                    [np.column_stack([c["generation"], c[metric]]) for _, c in at_ratio.groupby("chain_id")],
                    colors=[colour], linewidths=0.7, alpha=0.3))
            if len(at := ends[ends["ratio"] == r]):
                ax.plot(at["generation"], at[metric], "x", ls="", color=colour, ms=7)
            ax.plot(median.loc[r].index, median.loc[r].to_numpy(), color=colour, lw=2,
                    label=f"ratio {float(r):g}" if len(ratios) <= MANY_RATIOS else None)
        if criterion is not None and criterion.metric == metric and criterion.mode == "absolute":
            ax.axhline(criterion.threshold, color="red", ls="--", lw=1, label="collapse threshold")
        ax.set_title(label(values), fontsize=10)
        ax.set_xlabel("generation")
        ax.set_ylabel(_axis_label(metric))
    if axs:
        if banded:  # a proxy entry: the band is not a confidence interval, and the legend says so
            axs[0].fill_between([], [], color="grey", alpha=0.3, lw=0, label="band: IQR over seeds")
        if axs[0].get_legend_handles_labels()[0]:
            axs[0].legend(fontsize=7, ncol=2 if len(ratios) > 5 else 1)
        if len(ratios) > MANY_RATIOS:  # a colour bar, not a legend entry per ratio
            shown = ListedColormap(RATIO_MAP(np.linspace(0.0, 0.9, 256)))  # ratio_colour's range
            scale = ScalarMappable(Normalize(min(ratios), max(ratios)), shown)
            fig.colorbar(scale, ax=axs, label="ratio", shrink=0.8)
    how = "band: interquartile range over seeds" if banded else "faint: chains"
    title = f"{metric} by generation (lines: median over seeds; {how}; x: diverged after)"
    if criterion is not None and criterion.metric == metric:
        title += f"\ncriterion: {describe_criterion(criterion)}"
    fig.suptitle(title, fontsize=11)
    return fig


def _divergences(sub: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The last 'ok' row of each chain that diverged after it."""
    diverged = sub.loc[sub["status"] == "diverged", "chain_id"].unique()
    ok = sub[(sub["status"] == "ok") & sub["chain_id"].isin(diverged)]
    return ok.sort_values("generation").groupby("chain_id").tail(1)[["ratio", "generation", metric]]


def _axis_label(metric: str) -> str:
    """The metric, and which way is worse (metrics/registry.py) where one is."""
    worse = registry.worse(metric)
    return metric if worse is None else f"{metric} ({'higher' if worse == 'up' else 'lower'} is worse)"
