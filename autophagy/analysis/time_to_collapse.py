"""Time to collapse, one row per chain: the survival data the rest of the analysis builds on.

A chain that never met the criterion in what was observed is right-censored at its last observed
generation: we know only that its collapse time, if any, lies beyond. That covers chains that
survived all G generations, chains still running (incomplete), chains that crashed ('failed',
a software error, not the model's) and, when divergence censors, chains that diverged. A chain
with no observed generation at all (failed at generation 0) has no row here, like one not started.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autophagy.analysis.axes import axis_columns, metric_columns, series_axes
from autophagy.analysis.collapse import chain_outcome
from autophagy.config import CollapseConfig

COLUMNS = ["time_to_collapse", "censored", "collapsed", "last_generation", "complete", "diverged", "failed"]


def time_to_collapse(rows: pd.DataFrame, criterion: CollapseConfig, generations: int,
                     axes: list[str] | None = None) -> pd.DataFrame:
    """chain_id, every axis column, then COLUMNS; sorted by the axes.

    `generations` is G: a chain is complete when it holds generations 0..G. Rows beyond G are
    ignored, so a longer sweep can be read as a shorter one ("collapse within 5 generations").
    `axes` defaults to those inferred from the columns (see axes.axis_columns).
    """
    axes = axis_columns(rows) if axes is None else list(axes)
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ["chain_id", *axes, *COLUMNS]})
    if criterion.metric not in rows.columns:
        raise ValueError(f"collapse criterion: unknown metric column {criterion.metric!r} "
                         f"(the rows have: {', '.join(metric_columns(rows, axes)) or 'none'})")
    missing = [a for a in axes if a not in rows.columns]
    if missing:
        raise ValueError(f"time_to_collapse: the rows lack axis column(s) {missing}")
    rows = rows[rows["generation"] <= generations]
    relative = criterion.mode == "relative"
    control = _control_values(rows, criterion, axes) if relative and criterion.reference == "control" else None
    if relative:
        _check_reference(rows, criterion, control)
    # numpy columns read once and sliced per chain: per-chain pandas indexing cost 2.9 s of a
    # 2,050-chain report (measured), this about 0.2 s
    gens, status = rows["generation"].to_numpy(dtype=int), rows["status"].to_numpy(dtype=object)
    values = rows[criterion.metric].to_numpy(dtype=float)
    out = []
    for chain_id, at in rows.groupby("chain_id", sort=False).indices.items():
        g, st, v = gens[at], status[at], values[at]
        failed = st == "failed"
        if failed.all():
            continue
        reference = None
        if control is not None:
            reference = _reference_of(rows.iloc[at[0]], g, control, axes)
            # a generation the control chain has no value for cannot be judged: the chain is
            # censored before it (a diverged generation still counts: it needs no reference)
            first_gap = np.flatnonzero(~(np.isfinite(reference) | (st != "ok")))
            if len(first_gap):
                keep = g < g[first_gap].min()
                at, g, st, v, reference = at[keep], g[keep], st[keep], v[keep], reference[keep]
            if not len(at) or (st == "failed").all():
                continue
        o = chain_outcome(g, st, v, criterion, reference)
        out.append({
            "chain_id": chain_id,
            **{a: rows[a].iat[at[0]] for a in axes},
            "time_to_collapse": o.time,
            "censored": o.censored,
            "collapsed": o.collapsed,
            "last_generation": o.last_generation,
            "complete": (not o.diverged) and set(g[st != "failed"].tolist()) >= set(range(generations + 1)),
            "diverged": o.diverged,
            "failed": bool(failed.any()),
        })
    table = pd.DataFrame(out, columns=["chain_id", *axes, *COLUMNS])
    return table.sort_values([*axes, "chain_id"], kind="stable").reset_index(drop=True)


def _control_key(first: pd.Series, axes: list[str]) -> tuple:
    """(seed, series values) of a chain, from one of its rows."""
    return tuple(first[a] for a in ["seed", *series_axes(axes)] if a in first.index)


def _control_values(rows: pd.DataFrame, criterion: CollapseConfig, axes: list[str]) -> dict:
    """(seed, series values) -> {generation: metric value} of the ratio-0 chains' 'ok' rows."""
    ok = rows[(rows["ratio"] == 0) & (rows["status"] == "ok")]
    return {_control_key(c.iloc[0], axes): dict(zip(c["generation"].astype(int), c[criterion.metric].astype(float)))
            for _, c in ok.groupby("chain_id", sort=False)}


def _reference_of(first: pd.Series, generations: np.ndarray, control: dict, axes: list[str]) -> np.ndarray:
    values = control.get(_control_key(first, axes), {})
    return np.array([values.get(int(g), np.nan) for g in generations], dtype=float)


def _check_reference(rows: pd.DataFrame, criterion: CollapseConfig, control: dict | None) -> None:
    """A relative criterion's reference values (generation 0's, or the control chains') must be
    positive and finite where they were measured, or `fid>=2x` means nothing."""
    if control is None:
        ref = rows[(rows["generation"] == 0) & (rows["status"] == "ok")]
        values, where = ref[criterion.metric].to_numpy(dtype=float), "at generation 0"
    else:
        values = np.array([v for gens in control.values() for v in gens.values()], dtype=float)
        where = "in the control chains (ratio 0)"
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        example = values[bad][0]
        raise ValueError(
            f"collapse criterion: {criterion.metric} is {example:g} {where} ({int(bad.sum())} of {len(values)} "
            f"values <= 0 or not finite), so a threshold relative to it means nothing; use an absolute "
            f"threshold on {criterion.metric} (mode: absolute, or '{criterion.metric}>=VALUE') or another metric")
