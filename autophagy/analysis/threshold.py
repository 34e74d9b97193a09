"""The collapse threshold: the synthetic ratio at which half the chains collapse within t generations.

Per series (mitigation x extra axes) the data are, at each ratio swept, how many chains collapsed
by the horizon t out of how many whose outcome by t is known (a chain still running, or lost to
a divergence that censors, before t is left out: it might still collapse by t). The one
assumption is that collapse does not become *less* likely as the synthetic share grows:
P(r) = P(collapsed by t | ratio r) is non-decreasing. The threshold is r* with P(r*) = 1/2.

Interval: the set of every r0 that an exact test does not reject at level 1 - `level`. If r0 were
the threshold, every chain below it has P <= 1/2 and every chain above it P >= 1/2. Each side is
tested on its own (alpha/2 each, so the two together hold the level): below r0, the collapses among
the chains at the nearest ratio, the nearest two, ... are each compared with Binomial(n, 1/2), the
smallest tail probability is the statistic, and its p-value is computed exactly for P = 1/2 at
every ratio, which is the least favourable case (the rejection event only grows with P).
Above r0 the same with survivals. Nothing is assumed of the curve's shape, so the interval holds
its level for a steep logistic, a shallow one or a plateau alike, at any number of seeds: with 2
seeds at ratios 0.25 apart it is wide, as the data are. Its ends are ratios swept (or an open
side): the threshold is never pinned finer than the grid, so the interval is never zero-width.
Why not the bootstrap of a logistic fit used before: under perfect separation (the usual case with
few seeds) every resample gives the same crossing, a zero-width interval that covered a known
threshold in 21 % of simulated 5-ratio x 2-seed sweeps (BENCHMARKS.md, threshold coverage).

The headline (columns model, threshold_model, model_low, model_high) is model-based and narrower:
the criterion's continuous margin where the rows are at hand (margin.py, `model` = "margin"), else
a Firth logistic on collapsed-or-not (firth.py, "firth"). Each holds its level only under its
assumptions (docs/thresholds.md); the exact interval (ci_low, ci_high) is the shape-free cross-check,
and `text` gives both.

Point estimate: where the isotonic (pool-adjacent-violators, scipy) fit of the collapse share
crosses 1/2, linearly interpolated between ratios; the midpoint of a stretch fitted at exactly 1/2.

Flags (column `flag`), with the threshold NaN unless `estimated`:
  estimated       the fit crosses 1/2 inside the ratios swept
  all_collapsed   every chain collapsed: the threshold is at or below the smallest ratio swept
  none_collapsed  no chain collapsed: the threshold is above the largest ratio swept
  below_range     the fit is >= 1/2 already at the smallest ratio (some chains there survive)
  above_range     the fit stays < 1/2 up to the largest ratio (some chains there collapse)
  not_increasing  every r0 is rejected: the data contradict the monotone assumption. The test is
                  built to bound the threshold, not to test monotonicity (the nearest ratios
                  weigh most), so a curve that falls with ratio mostly reads as above_range
  no_data         no chain with a known outcome
An open side of the interval is -inf (the threshold may lie below every ratio swept) or +inf
(above every ratio swept), and the text says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression
from scipy.special import bdtrc, comb

from autophagy.analysis.axes import groups, series_axes
from autophagy.analysis.firth import firth_threshold
from autophagy.analysis.margin import margin_threshold

COLUMNS = ["n_chains", "n_used", "n_collapsed", "min_ratio", "max_ratio", "model", "threshold_model",
           "model_low", "model_high", "threshold", "ci_low", "ci_high", "flag", "text"]


# ------------------------------------------------------------------------------ the exact test


def _tail(k, n) -> np.ndarray:
    """P(Binomial(n, 1/2) >= k), elementwise (scipy's ufunc: binom.sf costs 30x more per call)."""
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    return np.where(k <= 0, 1.0, bdtrc(np.maximum(k - 1, 0), n, 0.5))


def nested_pvalue(bad, sizes, alpha: float = 1.0) -> float:
    """One side of the test. `bad[j]` of `sizes[j]` chains at the j-th nearest ratio went the
    wrong way (collapsed below r0, or survived above it). Statistic: the smallest over j of
    P(Binomial(n_1+..+n_j, 1/2) >= bad_1+..+bad_j); returned is its exact p-value when every
    chain goes wrong with probability 1/2, found by carrying the distribution of the running sum
    through the ratios and removing the mass that has reached the statistic's value.
    The p-value is at least the statistic itself, so one above `alpha` is returned as it is
    (all a caller testing at `alpha` needs): most r0 are decided without the exact pass."""
    bad, sizes = np.asarray(bad, dtype=int), np.asarray(sizes, dtype=int)
    if len(sizes) == 0:
        return 1.0
    ends = np.cumsum(sizes)
    observed = float(_tail(np.cumsum(bad), ends).min())
    if observed > alpha:
        return observed
    total = int(ends[-1])
    mass = np.zeros(total + 1)
    mass[0] = 1.0
    hit = 0.0
    edge = observed * (1 + 1e-9)  # ties in floating point count as reaching the observed value
    for n, end, first in zip(sizes, ends, _first_reached(ends, edge)):
        mass = np.convolve(mass, comb(n, np.arange(n + 1)) * 0.5 ** n)[: total + 1]
        hit += mass[first: end + 1].sum()
        mass[first: end + 1] = 0.0
    return float(min(1.0, hit))


def _first_reached(ends: np.ndarray, edge: float) -> np.ndarray:
    """Per n of `ends`, the smallest running sum k with P(Binomial(n, 1/2) >= k) <= edge (n + 1 if
    none): the tail falls with k, so the sums that reach the statistic are k >= it. A bisection over
    every n at once; the tail of every sum at every ratio cost 0.13 s per thresholds table (measured)."""
    lo, hi = np.zeros_like(ends), ends + 1  # P(X >= n + 1) = 0: hi always reaches
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        reached = _tail(mid, ends) <= edge
        hi, lo = np.where(reached, mid, hi), np.where(reached, lo, mid + 1)
    return lo


def confidence_set(ratios, collapsed, level: float = 0.95) -> tuple[float, float]:
    """(low, high): the hull of the thresholds r0 the test above does not reject; (nan, nan) if it
    rejects every r0 (collapse clearly decreasing with ratio). An open side is -inf / +inf."""
    x, n, k = _table(ratios, collapsed)
    if len(x) == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    K = len(x)
    # below[i]: not rejected that every chain at ratios 0..i-1 has P <= 1/2 (nearest first);
    # above[i]: not rejected that every chain at ratios i..K-1 has P >= 1/2.
    below = [nested_pvalue(k[:i][::-1], n[:i][::-1], alpha) > alpha for i in range(K + 1)]
    above = [nested_pvalue((n - k)[i:], n[i:], alpha) > alpha for i in range(K + 1)]
    accepted: list[tuple[float, float]] = []
    for i in range(K + 1):  # r0 strictly between ratios i-1 and i (i = 0: below all; K: above all)
        if below[i] and above[i]:
            accepted.append((x[i - 1] if i else -np.inf, x[i] if i < K else np.inf))
    for i in range(K):  # r0 exactly at ratio i: its chains have P = 1/2, on both sides at once
        if below[i + 1] and above[i]:
            accepted.append((x[i], x[i]))
    if not accepted:
        return float("nan"), float("nan")
    return float(min(a for a, _ in accepted)), float(max(b for _, b in accepted))


def _table(ratios, collapsed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct ratios, chains at each, collapsed at each), sorted by ratio."""
    ratios = np.asarray(ratios, dtype=float)
    collapsed = np.asarray(collapsed, dtype=bool)
    x, inverse = np.unique(ratios, return_inverse=True)
    n = np.bincount(inverse, minlength=len(x))
    k = np.bincount(inverse, weights=collapsed, minlength=len(x)).astype(int)
    return x, n, k


# ------------------------------------------------------------------------------ estimate


def threshold_estimate(ratios, collapsed) -> tuple[float, str]:
    """(r*, flag): r* is NaN unless flag == 'estimated' (see the module docstring)."""
    x, n, k = _table(ratios, collapsed)
    if len(x) == 0:
        return float("nan"), "no_data"
    if k.sum() == n.sum():
        return float("nan"), "all_collapsed"
    if k.sum() == 0:
        return float("nan"), "none_collapsed"
    fit = isotonic_regression(k / n, weights=n, increasing=True).x
    at_half = np.flatnonzero(np.isclose(fit, 0.5))
    if len(at_half):
        return float((x[at_half[0]] + x[at_half[-1]]) / 2), "estimated"
    above = np.flatnonzero(fit > 0.5)
    if len(above) == 0:
        return float("nan"), "above_range"
    j = above[0]
    if j == 0:
        return float("nan"), "below_range"
    t = (0.5 - fit[j - 1]) / (fit[j] - fit[j - 1])
    return float(x[j - 1] + t * (x[j] - x[j - 1])), "estimated"


def threshold(ratios, collapsed, level: float = 0.95) -> dict:
    """Estimate, interval and flag of one series' chains (ratio, collapsed by the horizon)."""
    ratios = np.asarray(ratios, dtype=float)
    value, flag = threshold_estimate(ratios, collapsed)
    low, high = confidence_set(ratios, collapsed, level) if len(ratios) else (np.nan, np.nan)
    if len(ratios) and low != low:
        value, flag = float("nan"), "not_increasing"
    return {"threshold": value, "ci_low": low, "ci_high": high, "flag": flag,
            "text": _text(value, flag, (low, high))}


def width(ci_low: float, ci_high: float) -> float:
    """The interval's width within the ratios' domain [0, 1] (an open side ends there)."""
    return float(min(ci_high, 1.0) - max(ci_low, 0.0))


def known_by(ttc: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, np.ndarray]:
    """(chains whose outcome by `horizon` is known, whether each collapsed by then). Known: it
    collapsed by the horizon, or it was seen through the horizon without collapsing (a diverged
    generation that censors is not seen: the chain was lost there)."""
    c = ttc["collapsed"].astype(bool).to_numpy()
    t = ttc["time_to_collapse"].to_numpy(dtype=float)
    last = ttc["last_generation"].to_numpy(dtype=float)
    lost = ttc["diverged"].astype(bool).to_numpy()
    hit = c & (t <= horizon)
    seen = (c & (t > horizon)) | (~c & ((last > horizon) | ((last == horizon) & ~lost)))
    known = hit | seen
    return ttc[known], hit[known]


def model_threshold(ratios, collapsed, margins=None, seeds=None, level: float = 0.95) -> dict:
    """The headline: the margin model (margin.py) where every chain has a margin and 2 seeds ran
    >= 2 ratios each, else Firth's logistic (firth.py) on collapsed-or-not."""
    if margins is not None:
        value, low, high = margin_threshold(ratios, margins, seeds, level)
        if value == value:
            return {"model": "margin", "threshold_model": value, "model_low": low, "model_high": high}
    value, low, high = firth_threshold(*_table(ratios, collapsed), level=level)
    return {"model": "firth", "threshold_model": value, "model_low": low, "model_high": high}


def collapse_thresholds(ttc: pd.DataFrame, axes: list[str], horizon: int | None = None,
                        level: float = 0.95, margins: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per series (every axis but ratio and seed) of the time_to_collapse table, for
    collapse within `horizon` generations (default: the last generation any chain reached, G
    once the sweep is done). `margins` (margin.chain_margins: chain_id x horizon) selects the
    margin model for the headline; without it, or without the horizon, Firth's."""
    by = series_axes(axes)
    if horizon is None:
        horizon = int(ttc["last_generation"].max()) if len(ttc) else 0
    use_margin = margins is not None and horizon in margins.columns and "seed" in ttc.columns
    out = []
    for values, sub in groups(ttc, by):
        known, hit = known_by(sub, horizon) if len(sub) else (sub, np.zeros(0, bool))
        r = known["ratio"].to_numpy(dtype=float)
        lo_r, hi_r = (float(r.min()), float(r.max())) if len(r) else (np.nan, np.nan)
        m = None
        if use_margin and known["chain_id"].isin(margins.index).all():
            m = margins.loc[known["chain_id"], horizon].to_numpy(dtype=float)
        model = model_threshold(r, hit, m, known["seed"].to_numpy() if m is not None else None, level) \
            if len(r) else {"model": "firth", "threshold_model": np.nan, "model_low": np.nan, "model_high": np.nan}
        exact = threshold(r, hit, level)
        if exact["flag"] in ("no_data", "not_increasing"):
            model.update(threshold_model=np.nan, model_low=np.nan, model_high=np.nan)
        if exact["flag"] in ("all_collapsed", "none_collapsed"):  # no crossing to estimate, a bound only
            model["threshold_model"] = np.nan
        exact["text"] = _model_text(model) + "; exact " + exact["text"] if model["model_low"] == model["model_low"] \
            else exact["text"]
        out.append({**values, "n_chains": len(sub), "n_used": len(known), "n_collapsed": int(hit.sum()),
                    "min_ratio": lo_r, "max_ratio": hi_r, **model, **exact})
    return pd.DataFrame(out, columns=[*by, *COLUMNS])


def _model_text(model: dict) -> str:
    value = "" if model["threshold_model"] != model["threshold_model"] else f"{model['threshold_model']:.3g}, "
    return f"{value}95% in [{_in_domain(model['model_low'])}, {_in_domain(model['model_high'])}] ({model['model']} model)"


def _in_domain(x: float) -> str:
    """A model bound as text: a ratio is a share in [0, 1], so a finite bound past it (a root of the
    margin model's quadratic far outside the ratios swept, e.g. 100) reads as the domain's edge."""
    if np.isfinite(x) and x > 1:
        return "above 1"
    if np.isfinite(x) and x < 0:
        return "below 0"
    return _g(x)


def _text(value, flag, ci) -> str:
    if flag in ("no_data", "not_increasing"):
        return {"no_data": "n/a (no finished chains)",
                "not_increasing": "n/a (collapse becomes less likely with ratio)"}[flag]
    interval = f"95% in [{_g(ci[0])}, {_g(ci[1])}]"
    if flag == "estimated":
        return f"{value:.3g}, {interval}"
    where = {"all_collapsed": "every chain collapsed", "none_collapsed": "no chain collapsed",
             "below_range": "over half collapse at the smallest ratio",
             "above_range": "under half collapse at the largest ratio"}[flag]
    return f"{interval} ({where})"


def _g(x: float) -> str:
    if x == -np.inf:
        return "below the ratios swept"
    if x == np.inf:
        return "above the ratios swept"
    return f"{x:.3g}"
