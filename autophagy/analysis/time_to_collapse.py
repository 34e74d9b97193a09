"""Time to collapse, one row per chain: the survival data the rest of the analysis builds on.

A chain that never met the criterion in what was observed is right-censored at its last observed
generation: we know only that its collapse time, if any, lies beyond. That covers chains that
survived all G generations, chains still running (incomplete), chains that crashed ('failed',
a software error, not the model's) and, when divergence censors, chains that diverged. A chain
with no observed generation at all (failed at generation 0) has no row here, like one not started.
"""

from __future__ import annotations

import pandas as pd

from autophagy.analysis.axes import axis_columns, metric_columns
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
    out = []
    for chain_id, chain in rows.groupby("chain_id", sort=False):
        failed = bool((chain["status"] == "failed").any())
        if failed and (chain["status"] == "failed").all():
            continue
        o = chain_outcome(chain["generation"].to_numpy(), chain["status"].to_numpy(),
                          chain[criterion.metric].to_numpy(), criterion)
        observed = set(chain.loc[chain["status"] != "failed", "generation"].astype(int))
        out.append({
            "chain_id": chain_id,
            **{a: chain[a].iloc[0] for a in axes},
            "time_to_collapse": o.time,
            "censored": o.censored,
            "collapsed": o.collapsed,
            "last_generation": o.last_generation,
            "complete": (not o.diverged) and observed >= set(range(generations + 1)),
            "diverged": o.diverged,
            "failed": failed,
        })
    table = pd.DataFrame(out, columns=["chain_id", *axes, *COLUMNS])
    return table.sort_values([*axes, "chain_id"], kind="stable").reset_index(drop=True)
