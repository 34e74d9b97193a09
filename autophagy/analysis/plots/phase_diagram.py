"""Time to collapse against synthetic ratio: the phase diagram of the sweep.

One line per series (mitigation x extra axes): the median over seeds, with its distribution-free
95 % interval where a cell has the 6 seeds such an interval needs (analysis/intervals.py).
Every chain is a point, jittered sideways so that seeds do not hide each other: filled where it
collapsed (a cross where that was a divergence), hollow with an upward arrow where it was
censored (no collapse seen up to there, so its true time lies above the point).
With `boundary` (analysis/phase_boundary.py), each series' phase boundary too: at each
generation t, the ratio where half its chains have collapsed by t (a diamond on a dashed line),
from the model where phase_boundary.csv has one (threshold_model) and the exact estimate
otherwise; and above the last generation one bar per series, the threshold at G with its 95 %
interval (an arrow where a side is open, beyond the ratios swept). Left of it "not collapsed yet by t", right of it "collapsed by t".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.criterion import describe_criterion
from autophagy.analysis.plots.common import SERIES_COLOURS, panels, save
from autophagy.config import CollapseConfig


def plot_phase_diagram(ttc: pd.DataFrame, summary: pd.DataFrame, axes: list[str], generations: int,
                       criterion: CollapseConfig, path: Path, seed: int = 0,
                       boundary: pd.DataFrame | None = None) -> Path:
    fig, (ax,) = panels(1, width=7.5, height=5.0)
    by = series_axes(axes)
    ratios = np.sort(ttc["ratio"].astype(float).unique())
    spacing = float(np.min(np.diff(ratios))) if len(ratios) > 1 else 0.1
    series = list(groups(ttc, by))
    rng = np.random.default_rng(seed)  # jitter only; fixed so the figure is the same every build
    any_diverged = False
    for i, (values, chains) in enumerate(series):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        dodge = (i - (len(series) - 1) / 2) * spacing * 0.12
        x = chains["ratio"].to_numpy(dtype=float) + dodge + rng.uniform(-1, 1, len(chains)) * spacing * 0.04
        t = chains["time_to_collapse"].to_numpy(dtype=float)
        cens = chains["censored"].to_numpy(dtype=bool)
        div = chains["diverged"].to_numpy(dtype=bool) & ~cens
        ax.scatter(x[~cens & ~div], t[~cens & ~div], s=22, color=colour, alpha=0.55, linewidths=0)
        ax.scatter(x[div], t[div], s=30, marker="x", color=colour, alpha=0.8)
        any_diverged |= bool(div.any())
        ax.scatter(x[cens], t[cens], s=26, facecolors="none", edgecolors=colour, alpha=0.8)
        ax.scatter(x[cens], t[cens] + 0.28, s=40, marker=r"$\uparrow$", color=colour, alpha=0.8)

        cell = summary.merge(pd.DataFrame([values]), on=by) if by else summary
        cell = cell[cell["n_chains"] > 0].sort_values("ratio")
        cx = cell["ratio"].to_numpy(dtype=float) + dodge
        med = cell["median_ttc"].to_numpy(dtype=float)
        low, high = cell["median_low"].to_numpy(dtype=float), cell["median_high"].to_numpy(dtype=float)
        ax.plot(cx, med, color=colour, lw=2, label=label(values))
        closed = np.isfinite(low) & np.isfinite(high)  # below 6 seeds there is no 95 % interval
        if closed.any():
            err = np.vstack([med[closed] - low[closed], high[closed] - med[closed]]).clip(min=0)
            ax.errorbar(cx[closed], med[closed], yerr=err, color=colour, lw=1.5, capsize=3, ls="")
        lower = cell["median_censored"].to_numpy(dtype=bool)
        ax.scatter(cx[lower], med[lower], s=60, marker="s", facecolors="white", edgecolors=colour, zorder=3)
        if boundary is not None and len(boundary):
            line = boundary.merge(pd.DataFrame([values]), on=by) if by else boundary
            _draw_boundary(ax, line, colour, (max(0.0, ratios.min() - spacing / 2), min(1.0, ratios.max() + spacing / 2)),
                           i * 0.18, generations + 0.55)

    ax.axhline(generations, color="grey", ls=":", lw=1)
    ax.set_ylim(-0.5, generations + 0.75 + 0.18 * len(series))
    ax.set_xlabel("synthetic ratio (share of synthetic images in each generation's training set)")
    ax.set_ylabel("generation of collapse")
    ax.set_title(f"Time to collapse vs ratio\ncriterion: {describe_criterion(criterion)}", fontsize=11)
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="grey", lw=2, label="median over seeds (bars: 95% interval, where ≥ 6 seeds)"),
        Line2D([], [], ls="", marker="s", mfc="white", mec="grey", label="median is a lower bound (censored)"),
        Line2D([], [], ls="", marker="o", color="grey", alpha=0.55, label="chain: collapsed at this generation"),
        Line2D([], [], ls="", marker="o", mfc="none", mec="grey",
               label="chain: censored (no collapse seen up to here ↑)"),
        Line2D([], [], color="grey", ls=":", label=f"last generation G = {generations}"),
    ]
    if boundary is not None and len(boundary):
        handles.append(Line2D([], [], color="grey", ls="--", marker="D", ms=4,
                              label="phase boundary: half collapsed by t; bar on top: the threshold at G, 95% interval"))
    if any_diverged:
        handles.append(Line2D([], [], ls="", marker="x", color="grey", label="chain: diverged (counted as collapse)"))
    ax.legend(handles=handles, fontsize=8, loc="best")
    return save(fig, path)


def _draw_boundary(ax, line: pd.DataFrame, colour, span: tuple[float, float], lift: float, top: float) -> None:
    """One series' boundary: estimates at every horizon joined by a dashed line, and one interval
    only, the threshold's at G, as a bar above the plot's last generation (an arrow where a side is
    open): a bar per horizon and series hid the chains."""
    line = line.sort_values("horizon")
    model = "threshold_model" in line and line["threshold_model"].notna().any()
    est_col, lo_col, hi_col = ("threshold_model", "model_low", "model_high") if model else \
        ("threshold", "ci_low", "ci_high")
    t = line["horizon"].to_numpy(dtype=float)
    est = line[est_col].to_numpy(dtype=float)
    ok = np.isfinite(est)
    ax.plot(est[ok], t[ok] + lift * 0.5, ls="--", marker="D", ms=4, color=colour, lw=1.2, alpha=0.9)
    last = line.iloc[-1]
    a, b = float(last[lo_col]), float(last[hi_col])
    if a != a:
        return
    y = top + lift
    left, right = max(a, span[0]), min(b, span[1])
    ax.plot([left, right], [y, y], color=colour, lw=3, alpha=0.8, solid_capstyle="butt")
    if last[est_col] == last[est_col]:
        ax.plot([last[est_col]], [y], marker="D", ms=6, color=colour)
    for edge, open_ in ((span[0], a < span[0]), (span[1], b > span[1])):
        if open_:
            step = 0.04 * (span[1] - span[0]) * (1 if edge == span[0] else -1)
            ax.annotate("", (edge, y), (edge + step, y), arrowprops=dict(arrowstyle="->", color=colour, lw=1.5))
