"""Per cell (every axis but seed): how many chains collapsed, and when.

The median over seeds counts a censored chain at its censoring time. That is a lower bound on
the true median, and `median_censored` says when it is only that: the median is exact only if
pushing every censored time to infinity leaves it unchanged. `km_median` is the Kaplan–Meier
median (NaN while fewer than half the chains have collapsed). `median_low`/`median_high` are the
distribution-free 95 % interval of the median over seeds (analysis/intervals.py): open, -inf/inf,
below 6 seeds, which is what fewer seeds can honestly say.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from autophagy.analysis.axes import cell_axes, groups, label, series_axes
from autophagy.analysis.intervals import median_interval
from autophagy.analysis.survival import kaplan_meier, median_survival

COLUMNS = ["n_expected", "n_chains", "n_complete", "n_collapsed", "n_censored", "median_ttc",
           "median_low", "median_high", "median_censored", "km_median"]


def median_with_censoring(times, censored) -> tuple[float, bool]:
    """(median counting censored times as observed, whether that is only a lower bound)."""
    times, censored = np.asarray(times, dtype=float), np.asarray(censored, dtype=bool)
    if len(times) == 0:
        return float("nan"), False
    low = float(np.median(times))
    high = float(np.median(np.where(censored, np.inf, times)))
    return low, bool(high != low)


def summarize(ttc: pd.DataFrame, axes: list[str], grid: dict | None = None, interval: bool = True,
              level: float = 0.95) -> pd.DataFrame:
    """One row per cell. With `grid`, cells with no chain yet appear too (n_chains 0).
    `interval=False` skips the interval (median_low/high NaN) where only the median is wanted."""
    by = cell_axes(axes)
    out = []
    for values, sub in groups(ttc, by):
        t, c = sub["time_to_collapse"].to_numpy(dtype=float), sub["censored"].to_numpy(dtype=bool)
        median, lower_bound = median_with_censoring(t, c)
        low, high = median_interval(t, level) if interval else (np.nan, np.nan)
        out.append({**values, "n_chains": len(sub), "n_complete": int(sub["complete"].astype(bool).sum()),
                    "n_collapsed": int((~c).sum()), "n_censored": int(c.sum()), "median_ttc": median,
                    "median_low": low, "median_high": high, "median_censored": lower_bound,
                    "km_median": median_survival(kaplan_meier(t, ~c))})
    table = pd.DataFrame(out, columns=[*by, *COLUMNS])
    if grid is not None:
        table = _with_missing_cells(table, by, grid)
    return table


def _with_missing_cells(table: pd.DataFrame, by: list[str], grid: dict) -> pd.DataFrame:
    seen = set(map(tuple, table[by].itertuples(index=False))) if len(table) else set()
    missing = [dict(zip(by, combo)) for combo in itertools.product(*(grid[a] for a in by)) if combo not in seen]
    n_seeds = len(grid.get("seed", (0,)))
    rows = table.to_dict("records") + [{**m, "n_chains": 0, "n_complete": 0, "n_collapsed": 0,
                                        "n_censored": 0, "median_censored": False} for m in missing]
    full = pd.DataFrame(rows, columns=table.columns)
    full["n_expected"] = n_seeds
    return full.sort_values(by, kind="stable").reset_index(drop=True)


def format_ttc(value: float, censored: bool) -> str:
    """`3`, or `5+` when only a lower bound (the survival-analysis mark for censored), `-` if none."""
    if value != value:  # NaN
        return "-"
    return f"{value:g}+" if censored else f"{value:g}"


def summary_table_text(summary: pd.DataFrame, axes: list[str]) -> str:
    """Median time to collapse as plain text: a row per ratio, a column per series."""
    if summary.empty:
        return "no chains yet"
    by = series_axes(axes)
    cols = {}
    for values, sub in groups(summary, by):
        cols[label(values)] = {r: format_ttc(m, c) for r, m, c in
                               zip(sub["ratio"], sub["median_ttc"], sub["median_censored"])}
    ratios = sorted(summary["ratio"].unique())
    header = ["ratio", *cols]
    body = [[f"{r:g}", *(col.get(r, "") for col in cols.values())] for r in ratios]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [header, *body]]
    return "\n".join(lines)
