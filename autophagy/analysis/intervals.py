"""Intervals over seeds that hold their level at the number of seeds a sweep has.

What replaced the percentile bootstrap: with 2 values a bootstrap interval is about [min, max], and
its coverage about 50 %, so it said "holds" (or the opposite) about half the time under no effect.
Each interval here is exact or conservative at any n, and open where n cannot give 95 %:

- `median_interval`: the distribution-free order-statistic interval of a median (scipy's
  `quantile_test`, from the binomial law of how many values fall below the median). It assumes only
  that the seeds' values are independent draws; [x_(1), x_(n)] covers 1 - 2 / 2^n, so it needs
  6 seeds for 95 % (`SEEDS_FOR_MEDIAN`); below that it is (-inf, inf).
- `ratio_interval`: a ratio of means over seeds (healing's recovered share), by inverting the
  sign-flip test of mean(top - s * bottom) = 0 over s (Fieller's construction with an exact
  test). It assumes each seed's difference is symmetric about its mean under the null.
- The mean of paired per-seed differences is `compare.mean_difference` (the same sign-flip test).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from autophagy.analysis.compare import ALPHA, LEVEL, mean_test

SEEDS_FOR_MEDIAN = 6  # the fewest values whose order-statistic interval reaches 95 %: 1 - 2/2^6 > 0.95


def median_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """(low, high) of the median of `values` at `level`, distribution-free; (-inf, inf) if too few
    values for that level, (nan, nan) if none. Censored times enter at their censoring time: the
    order of the values is all that is used, so an end at a censored value is a lower bound."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    ci = stats.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(confidence_level=level)
    low, high = float(ci.low), float(ci.high)
    if low != low or high != high:  # scipy: no order statistics reach that level
        return -np.inf, np.inf
    return low, high


def ratio_interval(top, bottom, steps: int = 40, span: float = 4.0) -> tuple[float, float, float]:
    """sum(top) / sum(bottom) over seeds, and the interval {s: sign-flip p of mean(top - s*bottom) = 0
    above ALPHA}, searched within [estimate - span, estimate + span] (an end at the edge of that
    span, or with too few seeds, is open: -inf / inf)."""
    top, bottom = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    ok = np.isfinite(top) & np.isfinite(bottom)
    top, bottom = top[ok], bottom[ok]
    if len(top) == 0 or abs(bottom.sum()) < 1e-12:
        return float("nan"), float("nan"), float("nan")
    est = float(top.sum() / bottom.sum())
    if 2.0 / 2 ** len(top) > ALPHA:
        return est, -np.inf, np.inf

    def kept(s: float) -> bool:
        return mean_test(top - s * bottom, 0.0) > ALPHA

    ends = []
    for direction in (-1, 1):
        inside, outside = est, est + direction * span
        if kept(outside):
            ends.append(direction * np.inf)
            continue
        for _ in range(steps):
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if kept(mid) else (inside, mid)
        ends.append(outside)
    return est, float(ends[0]), float(ends[1])
