"""Which columns of the rows are grid axes, which are metrics, and how a cell is labelled.

A row carries the chain's axis values (ratio, seed, mitigation, extra axes by dotted config key
such as `sampling.cfg_scale`), bookkeeping (generation, status, counts, timings) and metrics.
The analysis groups by axes: a *cell* is every axis but seed (seeds are repeats), a *series* is
every axis but seed and ratio (one line in a plot of something against ratio).
"""

from __future__ import annotations

import pandas as pd

from autophagy.config import CORE_AXES, NOT_AN_AXIS, Section, SweepConfig

# Columns the chain loop writes that are neither an axis nor something to plot.
BOOKKEEPING = ("chain_id", "generation", "status", "error", "worker", "n_real", "n_synthetic")

# Top-level scalar fields that could be an axis without a dot in their name (`generations` can't:
# it shapes every chain's length, but the grid does not forbid it, so keep it here honestly).
_TOP_LEVEL = tuple(name for name, f in SweepConfig.model_fields.items()
                   if name not in NOT_AN_AXIS and not isinstance(f.default, Section))


def axis_columns(rows: pd.DataFrame, grid: dict | None = None) -> list[str]:
    """The axes, ordered ratio, seed, mitigation, extras. From the grid when given (authoritative),
    else inferred from the columns: the core axes, dotted keys and top-level config fields."""
    if grid is not None:
        return list(grid)
    core = [c for c in CORE_AXES if c in rows.columns]
    if not core:  # an empty sweep reads as a frame with no axis columns at all
        return list(CORE_AXES)
    return core + [c for c in rows.columns if c not in CORE_AXES and ("." in c or c in _TOP_LEVEL)]


def cell_axes(axes: list[str]) -> list[str]:
    return [a for a in axes if a != "seed"]


def series_axes(axes: list[str]) -> list[str]:
    return [a for a in axes if a not in ("seed", "ratio")]


def metric_columns(rows: pd.DataFrame, axes: list[str] | None = None) -> list[str]:
    """Numeric columns that are measurements of a generation (train_loss included)."""
    axes = axis_columns(rows) if axes is None else axes
    skip = set(axes) | set(BOOKKEEPING)
    return [c for c in rows.columns
            if c not in skip and not c.startswith("seconds_") and pd.api.types.is_numeric_dtype(rows[c])
            and not pd.api.types.is_bool_dtype(rows[c])]


def label(values: dict) -> str:
    """`none` or `accumulate, cfg_scale=3`: the mitigation bare, extra axes by their last key part."""
    parts = []
    for key, value in values.items():
        if key == "mitigation":
            parts.insert(0, str(value))
        else:
            parts.append(f"{key.split('.')[-1]}={value:g}" if isinstance(value, float) else f"{key.split('.')[-1]}={value}")
    return ", ".join(parts) if parts else "all chains"


def groups(df: pd.DataFrame, by: list[str]):
    """(dict of axis values, sub-frame) per group, in sorted order; one group when `by` is empty."""
    if not by:
        yield {}, df
        return
    for key, sub in df.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), sub
