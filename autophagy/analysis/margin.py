"""The criterion's continuous margin, and the threshold where its median crosses 0.

Margin of one generation: how far the metric is past the criterion's limit, on the log scale where
both are positive (`fid>=2x`: log(fid / fid_0) - log 2), as a plain difference otherwise; the sign
is turned for `direction: down`, so that the criterion holds at a generation exactly when its
margin is >= 0 (collapse.holds). Margin of a chain by horizon t: the largest, over the runs of
`persist` consecutive generations starting at or before t, of the run's smallest margin; a
divergence that counts as collapse is +inf from there on; generation 0 never holds in relative
mode (-inf). So a chain has collapsed by t exactly when its margin by t is >= 0, and the binary
outcome the exact interval uses is this number's sign: the margin keeps what the sign throws away.

The threshold is the ratio where the median margin crosses 0. Model (`margin_threshold`):
  - the seed is the replicate. Chains of one seed share their real images and noise streams, so a
    seed effect moves all of them together; seeds are independent of each other;
  - within a seed the median margin is linear in the ratio over the ratios swept. The line is a
    median (L1) regression (statsmodels QuantReg, q = 0.5), which estimates the median, not the
    mean: a chain that collapses at any ratio (the gmm bed's floor) or a divergence (+inf,
    clipped to the largest finite margin) moves it little. (A Theil-Sen line, tried first, is
    pulled by such a floor: -0.03 of ratio of bias, 92 % coverage at 11 x 3 with a floor);
  - the per-seed predictions m_s(r) at a ratio r are exchangeable across seeds with a roughly
    normal mean, so a one-sample t test with S - 1 degrees of freedom (S seeds with >= 2 ratios)
    tests "the median margin at r is 0". The interval is every r that test keeps, at level 95 %
    (inverting the mean line's confidence band, Fieller's construction: a quadratic in r).
With 2 seeds the t quantile is 12.7 and the interval is as wide as two seeds allow; one seed gives
none (nan), since nothing then measures the seed-to-seed spread.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.quantile_regression import QuantReg
from statsmodels.tools.sm_exceptions import IterationLimitWarning

from autophagy.analysis.collapse import limit
from autophagy.analysis.time_to_collapse import _control_values, _reference_of
from autophagy.config import CollapseConfig


def generation_margins(values, bound, direction: str) -> np.ndarray:
    """Per generation, >= 0 exactly where collapse.holds: log(value / bound) (sign turned for
    `down`) where both are positive, else value - bound. NaN stays NaN."""
    values = np.asarray(values, dtype=float)
    bound = np.broadcast_to(np.asarray(bound, dtype=float), values.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.log(values) - np.log(bound)
        m = np.where((values > 0) & (bound > 0), logged, values - bound)
    if direction == "down":
        return -m
    if direction != "up":
        raise ValueError(f"unknown collapse direction {direction!r} (known: up, down)")
    return m


def chain_margin(generations, statuses, values, criterion: CollapseConfig, horizons, reference=None) -> np.ndarray:
    """One chain's margin by each horizon in `horizons` (see the module docstring); -inf where no
    run starting by the horizon was observed."""
    status = np.asarray(statuses, dtype=object)
    seen = status != "failed"
    gens = np.asarray(generations, dtype=int)[seen]
    order = np.argsort(gens, kind="stable")
    gens, status, vals = gens[order], status[seen][order], np.asarray(values, dtype=float)[seen][order]
    ref = None if reference is None else np.asarray(reference, dtype=float)[seen][order]
    bad = np.flatnonzero(status == "diverged")
    if len(bad):
        end = bad[0] + 1
        gens, status, vals = gens[:end], status[:end], vals[:end]
        ref = None if ref is None else ref[:end]
    base = ref if ref is not None else (vals[gens == 0][0] if (gens == 0).any() else np.nan)
    m = generation_margins(vals, limit(criterion, base), criterion.direction)
    m = np.where((status == "ok") & ~np.isnan(m), m, -np.inf)
    if criterion.mode == "relative":
        m[gens == 0] = -np.inf
    terminal = bool(len(bad)) and criterion.diverged_is_collapse
    if terminal:
        m[-1] = np.inf
    runs = []  # (start generation, the run's smallest margin)
    for i in range(len(gens)):
        j = min(i + criterion.persist, len(gens))
        consecutive = np.all(np.diff(gens[i:j]) == 1)
        if consecutive and (j - i == criterion.persist or (terminal and j == len(gens))):
            runs.append((gens[i], m[i:j].min()))
    return np.array([max([v for g, v in runs if g <= t], default=-np.inf) for t in horizons])


def chain_margins(rows: pd.DataFrame, criterion: CollapseConfig, generations: int, axes: list[str]) -> pd.DataFrame:
    """Every chain's margin by every horizon 1..G: index chain_id, columns 1..G. Reads the same rows
    as time_to_collapse (rows past G ignored; a control reference from the ratio-0 chains)."""
    horizons = list(range(1, generations + 1))
    rows = rows[rows["generation"] <= generations]
    control = (_control_values(rows, criterion, axes)
               if criterion.mode == "relative" and criterion.reference == "control" else None)
    gens, status = rows["generation"].to_numpy(dtype=int), rows["status"].to_numpy(dtype=object)
    values = rows[criterion.metric].to_numpy(dtype=float)  # read once, sliced per chain (time_to_collapse.py)
    out = {}
    for chain_id, at in rows.groupby("chain_id", sort=False).indices.items():
        if (status[at] == "failed").all():
            continue
        reference = None if control is None else _reference_of(rows.iloc[at[0]], gens[at], control, axes)
        out[chain_id] = chain_margin(gens[at], status[at], values[at], criterion, horizons, reference)
    return pd.DataFrame.from_dict(out, orient="index", columns=horizons)


def margin_threshold(ratios, margins, seeds, level: float = 0.95) -> tuple[float, float, float]:
    """(estimate, low, high) of the ratio where the median margin crosses 0; an unbounded side is
    -inf / +inf; all nan without 2 seeds that each ran >= 2 ratios, or when the mean line falls."""
    r, m, s = (np.asarray(a) for a in (ratios, margins, seeds))
    m = np.asarray(m, dtype=float)
    finite = np.isfinite(m)
    if not finite.any():
        return np.nan, np.nan, np.nan
    m = np.clip(m, m[finite].min(), m[finite].max())  # a divergence is far past the limit, not infinitely
    centre = float(np.mean(r))
    lines = []  # per seed (margin at the centre, slope)
    for seed in np.unique(s):
        x, y = r[s == seed].astype(float), m[s == seed]
        if len(np.unique(x)) < 2:
            continue
        with warnings.catch_warnings():  # with a few points the L1 optimum can be a flat stretch of
            # lines (not unique); IRLS then wanders within it, and any of them is a median line
            warnings.simplefilter("ignore", IterationLimitWarning)
            fit = QuantReg(y, np.column_stack([np.ones_like(x), x - centre])).fit(q=0.5)
        lines.append(tuple(fit.params))
    if len(lines) < 2:
        return np.nan, np.nan, np.nan
    a, b = np.array(lines).T
    n = len(a)
    a_bar, b_bar = a.mean(), b.mean()
    if b_bar <= 0:
        return np.nan, np.nan, np.nan
    q2 = stats.t.ppf(0.5 + level / 2, n - 1) ** 2 / n
    vaa, vab, vbb = np.var(a, ddof=1), np.cov(a, b, ddof=1)[0, 1], np.var(b, ddof=1)
    scale = max(abs(a_bar), abs(b_bar), 1e-12)
    if vaa + vbb <= (1e-9 * scale) ** 2:  # seeds whose lines agree exactly (copies, or a
        # deterministic backend) show no spread to build a t band from: a zero-width interval would
        # say more than the data, so the margin model abstains and the caller falls back
        return np.nan, np.nan, np.nan
    # keep d = r - centre where (a_bar + b_bar d)^2 <= q2 (vaa + 2 vab d + vbb d^2)
    A, B, C = b_bar ** 2 - q2 * vbb, a_bar * b_bar - q2 * vab, a_bar ** 2 - q2 * vaa
    estimate = centre - a_bar / b_bar
    disc = B * B - A * C
    if A <= 0 or disc < 0:  # the slope is not told from 0: the band never leaves 0 on one side
        return estimate, -np.inf, np.inf
    root = np.sqrt(disc)
    return estimate, centre + (-B - root) / A, centre + (-B + root) / A
