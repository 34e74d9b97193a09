"""Kaplan–Meier survival curves: one panel per series, one step curve per ratio; ticks mark
censored chains."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.criterion import describe_criterion
from autophagy.analysis.plots.common import MANY_RATIOS, panels, ratio_colour, ratio_colourbar, save
from autophagy.analysis.survival import kaplan_meier
from autophagy.config import CollapseConfig


def plot_survival(ttc: pd.DataFrame, axes: list[str], generations: int, criterion: CollapseConfig,
                  path: Path) -> Path:
    series = list(groups(ttc, series_axes(axes)))
    ratios = sorted(ttc["ratio"].astype(float).unique())
    fig, axs = panels(len(series))
    legend = len(ratios) <= MANY_RATIOS
    for ax, (values, sub) in zip(axs, series):
        for r, chains in sub.groupby("ratio", sort=True):
            curve = kaplan_meier(chains["time_to_collapse"], ~chains["censored"].astype(bool))
            times = [0.0, *curve["time"]]
            surv = [1.0, *curve["survival"]]
            colour = ratio_colour(float(r), ratios)
            ax.step(times, surv, where="post", color=colour, lw=1.8, label=f"ratio {float(r):g}" if legend else None)
            cens = curve[curve["censored"] > 0]
            ax.plot(cens["time"], cens["survival"], "|", color=colour, ms=9)
        ax.set_ylim(-0.03, 1.05)
        ax.set_xlim(0, generations + 0.5)
        ax.set_xlabel("generation")
        ax.set_ylabel("share of chains not yet collapsed")
        ax.set_title(label(values), fontsize=10)
    if axs and legend:
        axs[0].legend(fontsize=7)
    elif axs:
        ratio_colourbar(fig, axs, ratios)
    fig.suptitle(f"Kaplan–Meier survival (|: censored chains)\ncriterion: {describe_criterion(criterion)}",
                 fontsize=11)
    return save(fig, path)
