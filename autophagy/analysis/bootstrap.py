"""Percentile bootstrap intervals, seeded so that a report is the same every time it is built."""

from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_interval(values, statistic: Callable = np.median, n_boot: int = 1000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """(low, high) percentile interval of `statistic` over `n_boot` resamples with replacement.
    An empty input gives (nan, nan); one value gives a zero-width interval at it."""
    values = np.asarray(values, dtype=float)
    if not 0 < level < 1:
        raise ValueError(f"bootstrap level must be in (0, 1), got {level}")
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(values), size=(n_boot, len(values)))
    stats = np.array([statistic(values[p]) for p in picks])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)
