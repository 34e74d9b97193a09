"""The phase boundary: for each horizon t = 1..G, the ratio at which half the chains of a series
collapse within t generations, with its 95 % intervals (threshold.py, with `horizon=t`: the model-based headline and the exact
cross-check).

In the (ratio, generation) plane it separates "collapsed by t" (right of it) from "not yet"
(left): the collapse threshold of the sweep is its point at t = G. A chain counts at horizon t
once its outcome by t is known (collapsed by t, or seen through t), so a sweep still running
already has a boundary at the horizons its chains have passed.
"""

from __future__ import annotations

import pandas as pd

from autophagy.analysis.axes import series_axes
from autophagy.analysis.threshold import COLUMNS, collapse_thresholds


def phase_boundary(ttc: pd.DataFrame, axes: list[str], generations: int, level: float = 0.95,
                   margins: pd.DataFrame | None = None, at_last: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per series and horizon (column `horizon`, 1..G); `margins` (margin.chain_margins)
    makes the headline columns the margin model's, as in collapse_thresholds. `at_last`: the
    collapse_thresholds table at horizon G with the same margins and level, if already computed."""
    by = series_axes(axes)
    tables = [(at_last if t == generations and at_last is not None else
               collapse_thresholds(ttc, axes, horizon=t, level=level, margins=margins)).assign(horizon=t)
              for t in range(1, generations + 1)]
    if not tables or ttc.empty:
        return pd.DataFrame(columns=[*by, "horizon", *COLUMNS])
    table = pd.concat(tables, ignore_index=True)[[*by, "horizon", *COLUMNS]]
    return table.sort_values([*by, "horizon"], kind="stable").reset_index(drop=True)
