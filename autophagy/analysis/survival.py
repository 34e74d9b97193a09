"""Kaplan–Meier survival of chains: S(t) = P(no collapse through generation t).

The product-limit estimator, from scipy (`scipy.stats.ecdf` on `CensoredData`; lifelines does
not install beside pandas 3):

    S(t) = prod over event times t_i <= t of (1 - d_i / n_i)

with d_i chains collapsing at t_i and n_i chains still at risk at t_i (time >= t_i). A chain
censored at t was seen uncollapsed through t, so it is still at risk at t (events before
censoring at tied times, the usual convention, scipy's too). `survival_low`/`survival_high` are
scipy's pointwise 95 % interval (Greenwood's variance, log-log transform); NaN where that formula
is undefined (S = 0 or 1 with nothing left to vary).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import CensoredData, ecdf

from autophagy.analysis.axes import cell_axes, groups

CURVE_COLUMNS = ["time", "at_risk", "events", "censored", "survival", "survival_low", "survival_high"]


def kaplan_meier(times, events, level: float = 0.95) -> pd.DataFrame:
    """One row per distinct observed time: at_risk, events, censored, survival just after it, and
    its pointwise interval."""
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    if times.shape != events.shape:
        raise ValueError(f"kaplan_meier: {len(times)} times but {len(events)} event flags")
    grid = np.unique(times)
    if len(grid) == 0:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    result = ecdf(CensoredData(uncensored=times[events], right=times[~events])).sf
    with warnings.catch_warnings():  # "undefined at some observations": NaN there, said above
        warnings.simplefilter("ignore", RuntimeWarning)
        band = result.confidence_interval(level)
        low, high = band.low.evaluate(grid), band.high.evaluate(grid)
    return pd.DataFrame({
        "time": grid,
        "at_risk": [int((times >= t).sum()) for t in grid],
        "events": [int((events & (times == t)).sum()) for t in grid],
        "censored": [int((~events & (times == t)).sum()) for t in grid],
        "survival": result.evaluate(grid),
        "survival_low": low, "survival_high": high,
    }, columns=CURVE_COLUMNS)


def median_survival(curve: pd.DataFrame) -> float:
    """The first time S(t) <= 0.5; NaN when the curve never gets there (median beyond the data)."""
    hit = curve.loc[curve["survival"] <= 0.5, "time"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def survival_at(curve: pd.DataFrame, t: float) -> float:
    """S(t) read off a curve (a step function, 1 before the first time)."""
    before = curve.loc[curve["time"] <= t, "survival"]
    return float(before.iloc[-1]) if len(before) else 1.0


def survival_table(ttc: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """The Kaplan–Meier curve of every cell (every axis but seed), stacked: cell axes + CURVE_COLUMNS."""
    by = cell_axes(axes)
    parts = [kaplan_meier(sub["time_to_collapse"], ~sub["censored"].astype(bool)).assign(**values)
             for values, sub in groups(ttc, by)]
    if not parts:
        return pd.DataFrame(columns=[*by, *CURVE_COLUMNS])
    return pd.concat(parts, ignore_index=True)[[*by, *CURVE_COLUMNS]]
