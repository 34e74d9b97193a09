"""The collapse threshold: the smallest synthetic ratio at which chains collapse within G generations.

Per series (mitigation x extra axes), a logistic curve P(collapsed by G | ratio) = sigmoid(a + b r)
is fitted to the chains whose outcome by G is known, and the threshold is where it crosses 1/2:
r* = -a / b. Chains censored before G (still running, or lost to a divergence that censors) are
left out: they might still collapse by G. The interval resamples seeds with replacement (a seed is
one repeat of the whole ratio sweep) and refits.

Degenerate series are reported as bounds, never as a made-up number (flag column):
  all_collapsed   every chain collapsed: threshold <= the smallest ratio swept
  none_collapsed  no chain collapsed: threshold > the largest ratio swept
  not_increasing  collapse does not become more likely with ratio (fitted slope <= 0)
  one_ratio       a single ratio observed: nothing to fit
  no_data         no chain with a known outcome yet
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from autophagy.analysis.axes import groups, series_axes

# A tiny ridge on the slope keeps the fit finite when ratio separates collapse perfectly (the
# usual case in a clean sweep: the unpenalised MLE runs off to an infinite slope), and in that
# limit puts the crossing inside the gap between the last safe and the first collapsing ratio.
RIDGE = 1e-3

COLUMNS = ["n_chains", "n_used", "n_collapsed", "min_ratio", "max_ratio", "threshold", "ci_low",
           "ci_high", "flag", "text"]


def fit_logistic(x, y, ridge: float = RIDGE, iterations: int = 100) -> tuple[float, float]:
    """(a, b) maximising sum log P(y | sigmoid(a + b x)) - ridge / 2 * b^2, by damped Newton.
    Two parameters, so the 2x2 Newton system is solved by hand (a bootstrap runs this 1000 times)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    centre = x.mean()
    xc = x - centre  # centred: intercept and slope decouple, Newton converges in a few steps

    def loss(a, b):
        z = a + b * xc
        return float(np.sum(np.logaddexp(0, z) - y * z) + 0.5 * ridge * b * b)

    a = b = 0.0
    for _ in range(iterations):
        p = expit(a + b * xc)
        r, w = p - y, p * (1 - p)
        g0, g1 = r.sum(), (r * xc).sum() + ridge * b
        h00, h01, h11 = w.sum() + 1e-12, (w * xc).sum(), (w * xc * xc).sum() + ridge
        det = h00 * h11 - h01 * h01
        s0, s1 = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        decrement = g0 * s0 + g1 * s1
        if decrement < 1e-14:  # at the optimum to machine precision
            break
        t, now = 1.0, loss(a, b)
        while loss(a - t * s0, b - t * s1) > now - 1e-4 * t * decrement and t > 1e-10:
            t /= 2
        a, b = a - t * s0, b - t * s1
    return float(a - b * centre), float(b)


def threshold_estimate(ratios, collapsed) -> tuple[float, str]:
    """(r*, flag): r* is NaN unless flag == 'estimated' (see the module docstring)."""
    ratios, collapsed = np.asarray(ratios, dtype=float), np.asarray(collapsed, dtype=bool)
    if len(ratios) == 0:
        return float("nan"), "no_data"
    if collapsed.all():
        return float("nan"), "all_collapsed"
    if not collapsed.any():
        return float("nan"), "none_collapsed"
    if len(np.unique(ratios)) < 2:
        return float("nan"), "one_ratio"
    a, b = fit_logistic(ratios, collapsed)
    if b <= 0:
        return float("nan"), "not_increasing"
    return -a / b, "estimated"


def _resampled(ratios, collapsed, seeds, n_boot: int, seed: int) -> np.ndarray:
    """Threshold of each seed-resample; a degenerate resample gives -inf (all collapsed) or +inf
    (none), an unfittable one NaN."""
    rng = np.random.default_rng(seed)
    unique = np.unique(seeds)
    by_seed = {s: np.flatnonzero(seeds == s) for s in unique}
    out = np.empty(n_boot)
    for i in range(n_boot):
        idx = np.concatenate([by_seed[s] for s in rng.choice(unique, size=len(unique))])
        value, flag = threshold_estimate(ratios[idx], collapsed[idx])
        out[i] = {"all_collapsed": -np.inf, "none_collapsed": np.inf}.get(flag, value)
    return out


def collapse_thresholds(ttc: pd.DataFrame, axes: list[str], n_boot: int = 1000, level: float = 0.95,
                        seed: int = 0) -> pd.DataFrame:
    """One row per series (every axis but ratio and seed) of the time_to_collapse table.
    `n_boot=0` skips the interval (ci_low/high NaN)."""
    by = series_axes(axes)
    out = []
    for values, sub in groups(ttc, by):
        known = sub[sub["collapsed"].astype(bool) | sub["complete"].astype(bool)]
        r = known["ratio"].to_numpy(dtype=float)
        y = known["collapsed"].to_numpy(dtype=bool)
        lo_r, hi_r = (float(r.min()), float(r.max())) if len(r) else (np.nan, np.nan)
        value, flag = threshold_estimate(r, y)
        ci = (np.nan, np.nan)
        if flag == "estimated" and n_boot:
            boots = _resampled(r, y, known["seed"].to_numpy(), n_boot, seed)
            boots = boots[~np.isnan(boots)]
            tail = 100 * (1 - level) / 2
            if len(boots):  # 'lower'/'higher', not interpolation: a resample may be +-inf
                ci = (float(np.percentile(boots, tail, method="lower")),
                      float(np.percentile(boots, 100 - tail, method="higher")))
        elif flag == "all_collapsed":
            ci = (np.nan, lo_r)
        elif flag == "none_collapsed":
            ci = (hi_r, np.nan)
        out.append({**values, "n_chains": len(sub), "n_used": len(known), "n_collapsed": int(y.sum()),
                    "min_ratio": lo_r, "max_ratio": hi_r, "threshold": value, "ci_low": ci[0],
                    "ci_high": ci[1], "flag": flag, "text": _text(value, flag, ci, lo_r, hi_r)})
    return pd.DataFrame(out, columns=[*by, *COLUMNS])


def _text(value, flag, ci, lo_r, hi_r) -> str:
    if flag == "estimated":
        note = " (extrapolated)" if not lo_r <= value <= hi_r else ""
        interval = f" [{_g(ci[0])}, {_g(ci[1])}]" if ci[0] == ci[0] else ""
        return f"{value:.3g}{interval}{note}"
    return {"all_collapsed": f"<= {lo_r:g} (all collapsed)", "none_collapsed": f"> {hi_r:g} (none collapsed)",
            "not_increasing": "n/a (collapse not increasing with ratio)", "one_ratio": "n/a (one ratio)",
            "no_data": "n/a (no finished chains)"}[flag]


def _g(x: float) -> str:
    return "-inf" if x == -np.inf else "inf" if x == np.inf else f"{x:.3g}"
