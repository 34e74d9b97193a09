"""A metric against generation: one panel per series, one line per ratio (median over seeds),
each seed's own chain drawn faintly beneath; a cross marks where a chain diverged. Above MANY_CHAINS
chains in a panel, a band (the interquartile range over seeds) replaces the faint chains: 2,050 chains'
lines took 2.5 s per figure and showed only a smear."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.criterion import describe_criterion
from autophagy.analysis.plots.common import MANY_RATIOS, panels, ratio_colour, ratio_colourbar, save
from autophagy.config import CollapseConfig
from autophagy.metrics import registry

MANY_CHAINS = 40


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
    legend = len(ratios) <= MANY_RATIOS  # else a colour bar, and the ratios' artists merge into one each
    for ax, (values, sub) in zip(axs, series):
        stats = sub.groupby(["ratio", "generation"])[metric]
        median = stats.median().unstack("generation")  # ratio x generation
        colours = [ratio_colour(float(r), ratios) for r in median.index]
        if banded:  # one PolyCollection for every ratio's band: 41 fill_between calls cost 0.15 s a figure
            low, high = stats.quantile(0.25).unstack("generation"), stats.quantile(0.75).unstack("generation")
            ax.add_collection(PolyCollection([_band(low.loc[r], high.loc[r]) for r in median.index],
                                             facecolors=colours, alpha=0.15, linewidths=0))
        else:
            for colour, (_, at_ratio) in zip(colours, sub.groupby("ratio", sort=True)):
                ax.add_collection(LineCollection(
                    [np.column_stack([c["generation"], c[metric]]) for _, c in at_ratio.groupby("chain_id")],
                    colors=[colour], linewidths=0.7, alpha=0.3))
        ends = _divergences(sub, metric)
        if len(ends):
            ax.scatter(ends["generation"], ends[metric], marker="x", s=49, linewidths=1.5,
                       c=[ratio_colour(float(r), ratios) for r in ends["ratio"]])
        if legend:
            for colour, (r, line) in zip(colours, median.iterrows()):
                line = line.dropna()
                ax.plot(line.index, line.to_numpy(), color=colour, lw=2, label=f"ratio {float(r):g}")
        else:
            ax.add_collection(LineCollection([_line(line) for _, line in median.iterrows()], colors=colours,
                                             linewidths=2))
        ax.autoscale_view()
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
        if not legend:
            ratio_colourbar(fig, axs, ratios)
    how = "band: interquartile range over seeds" if banded else "faint: chains"
    title = f"{metric} by generation (lines: median over seeds; {how}; x: diverged after)"
    if criterion is not None and criterion.metric == metric:
        title += f"\ncriterion: {describe_criterion(criterion)}"
    fig.suptitle(title, fontsize=11)
    return fig


def _line(values: pd.Series) -> np.ndarray:
    """(generation, value) points of one ratio's row, generations without a value left out."""
    values = values.dropna()
    return np.column_stack([values.index.to_numpy(dtype=float), values.to_numpy(dtype=float)])


def _band(low: pd.Series, high: pd.Series) -> np.ndarray:
    """The polygon between two of one ratio's rows: along `low`, back along `high`."""
    a, b = _line(low), _line(high)
    return np.vstack([a, b[::-1]]) if len(a) else np.zeros((0, 2))


def _divergences(sub: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The last 'ok' row of each chain that diverged after it."""
    diverged = sub.loc[sub["status"] == "diverged", "chain_id"].unique()
    ok = sub[(sub["status"] == "ok") & sub["chain_id"].isin(diverged)]
    return ok.sort_values("generation").groupby("chain_id").tail(1)[["ratio", "generation", metric]]


def _axis_label(metric: str) -> str:
    """The metric, and which way is worse (metrics/registry.py) where one is."""
    worse = registry.worse(metric)
    return metric if worse is None else f"{metric} ({'higher' if worse == 'up' else 'lower'} is worse)"
