"""Which mitigation holds collapse off longest: each series against a baseline, from every chain.

A *series* is every axis but seed and ratio (mitigation x extra axes). Series S is compared with
the baseline series B (mitigation `analysis.baseline`, the same extra-axis values) on the chains
of both, *paired* by (seed, ratio): the two chains of a pair share their real images, base model
and noise streams, so what differs between them is the mitigation. Three answers per series:

Time to collapse: a discrete-time hazard model. Each chain contributes one row per generation it
was at risk (from the first generation that can collapse up to its collapse or its censoring),
the outcome being "collapsed at this generation". A binomial GLM with a complementary log-log
link (statsmodels) is then a grouped proportional-hazards model:

    cloglog h(g) = alpha_g + beta * ratio + delta * [series S] + gamma_seed

exp(delta) is the hazard ratio of S against B (< 1: S collapses later), and -delta / beta the
shift of the collapse threshold in ratio (> 0: S tolerates that much more synthetic share for the
same chance of collapse). Both intervals are profile likelihood (chi-square, 1 d.f.) over a grid
of values, so a side the data cannot bound (S never collapses where B does: separation) stays
open instead of a Wald interval's nonsense.
The p-value is not the model's: with 2 seeds its likelihood-ratio test rejects 12-14 % of the time
under no effect (RESEARCH.md; simulated). It comes from a label swap: under no effect the two
series' chains of one seed are exchangeable, so swapping their labels for any subset of seeds
gives data as likely as the observed. The unit swapped is the seed, all its ratios at once, not
each (seed, ratio) pair: a seed's chains share their real images and their noise streams at every
ratio (seeding.py keys streams by seed, not ratio), so its pairs are not independent. Measured:
swapping (seed, ratio) pairs one by one rejected 4 of 20 relabelled gmm null sweeps at 2 seeds;
swapping seeds holds the level by construction. The statistic is the model's score for delta at
delta = 0 (the fit without the mitigation term, which no swap changes), so a swap only flips the
sign of a seed's share of it: an exact sign-flip test, every pattern enumerated up to 2^16 seeds,
else 20,000 seeded draws. It is valid at any number of seeds, and honest about few: with k seeds
the smallest two-sided p-value is 2 / 2^k, so 6 seeds are the fewest that can reach 5 % (7 or more
once Holm's adjustment divides it), and 2 seeds never can. A seed whose pairs all have the same
history on both sides adds nothing. Where the test does not reject, the two intervals are widened
to hold "no difference", so that an interval never says more than the valid test. The Wilcoxon
signed-rank test of the per-seed mean difference in time to collapse (censored = G + 1; scipy,
exact permutation) is the model-free companion, column `wilcoxon_p`.

The criterion's metric: per pair, S minus B at generation G (`metric_delta`), and the mean over
generations 1..G (`metric_delta_generations`), averaged over each seed's ratios, then over seeds.
The test is the sign-flip permutation test of that mean over seeds (as scipy's permutation_test),
valid at the number of seeds under no effect, and the interval inverts it (every shift it does not
reject): exact where the per-seed differences are symmetric about their centre, the one
assumption. With n seeds the smallest two-sided p-value is 2 / 2^n, so fewer than 6 seeds give no
95 % interval (open, written "open") and the table says so.

Holm's step-down adjustment runs over every test in the table (the hazard test and the metric
test of every series): a verdict is a claim, and the family is all the claims the page makes.
verdict (time): `later` or `sooner` where p_holm < 0.05, else `not told apart`; metric_verdict:
`better` or `worse` by the criterion's direction, likewise. Twins (rows marked `copy_of`: a chain
whose rows are another's, e.g. accumulate at ratio 0, which equals none) and pairs whose two chains
are the same chain's rows are no evidence of a difference and are left out of the pairs.
Where the answer is `not told apart`, `seeds_needed` says roughly how many seeds (each at the
ratios run) the observed metric difference would need for 80 % power at 5 % after Holm (a normal
approximation from the per-seed differences: an order of magnitude), and never fewer than the
sign-flip test needs to reach that level at all (7 for 2 claims, 9 for 12).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from autophagy.analysis.axes import label, metric_columns, series_axes
from autophagy.config import CollapseConfig

COLUMNS = ["series", "baseline", "n_pairs", "hazard_ratio", "hr_low", "hr_high", "threshold_shift", "shift_low",
           "shift_high", "metric_delta", "delta_low", "delta_high", "p_value", "p_holm", "verdict",
           "n_seeds", "n_informative", "wilcoxon_p", "metric", "metric_delta_generations", "generations_low",
           "generations_high", "metric_p", "metric_p_holm", "metric_verdict", "seeds_needed"]
LEVEL = 0.95
ALPHA = 0.05
EXACT_UP_TO = 16  # pairs: 2^16 sign patterns enumerated; beyond, seeded draws
DRAWS = 20_000
# How far the profile intervals are followed: log hazard ratio within +-8 (HR from 3e-4 to 3000),
# threshold shift within +-1.5 ratios; a side still inside there is reported as open.
LOG_HR_LIMIT = 8.0
SHIFT_LIMIT = 1.5


# ------------------------------------------------------------------------------ permutation tests


@functools.lru_cache(maxsize=64)
def _signs(n: int, seed: int = 0) -> np.ndarray:
    """Sign patterns for n pairs: all 2^n (the observed all-plus among them), or seeded draws.
    Cached: an interval's bisection asks for the same n some 60 times."""
    if n <= EXACT_UP_TO:
        return 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
    rng = np.random.default_rng(seed)
    return np.vstack([np.ones(n, int), rng.choice([-1, 1], size=(DRAWS, n))])


def signflip_pvalue(parts) -> float:
    """Two-sided p of T = sum(parts) against sum(s * parts) over sign patterns s: the exact
    label-swap test when parts are the seeds' shares of a statistic."""
    parts = np.asarray(parts, dtype=float)
    if len(parts) == 0 or not np.any(parts):
        return 1.0
    null = _signs(len(parts)) @ parts
    observed = abs(parts.sum())
    return float(np.mean(np.abs(null) >= observed * (1 - 1e-9)))


def mean_test(d: np.ndarray, shift: float) -> float:
    """Sign-flip p-value of mean(d) = shift: the one-sample permutation test of the differences
    (what scipy's permutation_test with permutation_type="samples" computes). Through the cached
    sign patterns above rather than scipy: an interval inverts the test ~60 times, and scipy's
    per-call set-up took 7 s of a 2,050-chain report's comparisons (measured), this about 0.1 s."""
    return signflip_pvalue(np.asarray(d, dtype=float) - shift)


def mean_difference(d) -> dict:
    """Mean of per-seed differences, its sign-flip p-value and the interval that inverts the test."""
    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return {"estimate": np.nan, "low": np.nan, "high": np.nan, "p": np.nan, "n": 0}
    est, p = float(d.mean()), mean_test(d, 0.0)
    if 2.0 / 2 ** len(d) > ALPHA:  # no shift can be rejected: fewer than 6 seeds
        return {"estimate": est, "low": -np.inf, "high": np.inf, "p": p, "n": len(d)}
    low = _invert(lambda s: mean_test(d, s), est, float(d.min()))
    high = _invert(lambda s: mean_test(d, s), est, float(d.max()))
    return {"estimate": est, "low": low, "high": high, "p": p, "n": len(d)}


def _invert(pvalue, inside: float, outside: float, steps: int = 30) -> float:
    """The end of {shift: pvalue(shift) > ALPHA} between `inside` (kept) and `outside` (rejected:
    a shift beyond every difference leaves all signs equal, p = 2 / 2^n), by bisection. It returns
    the first rejected shift, so the closed interval holds every shift the test keeps."""
    if pvalue(outside) > ALPHA:
        return outside
    for _ in range(steps):
        mid = (inside + outside) / 2
        inside, outside = (mid, outside) if pvalue(mid) > ALPHA else (inside, mid)
    return outside


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (statsmodels' multipletests); NaN stays NaN, uncounted."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=ALPHA, method="holm")[1]
    return out


# ------------------------------------------------------------------------------ the hazard model


def person_periods(ttc: pd.DataFrame, criterion: CollapseConfig) -> pd.DataFrame:
    """One row per chain and generation at risk: chain_id, generation, event (collapsed then).
    In relative mode generation 0 is the reference and cannot collapse: risk starts at 1."""
    first = 1 if criterion.mode == "relative" else 0
    out = []
    for r in ttc.itertuples(index=False):
        end = int(r.time_to_collapse)
        for g in range(first, end + 1):
            out.append((r.chain_id, g, int(bool(r.collapsed) and g == end)))
    return pd.DataFrame(out, columns=["chain_id", "generation", "event"])


def _design(periods: pd.DataFrame, chains: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(y, nuisance design [generation dummies, seed dummies], ratio, z) of the person-period rows."""
    info = chains.set_index("chain_id")
    rows = periods.join(info[["ratio", "seed", "z"]], on="chain_id")
    gens = pd.get_dummies(rows["generation"].astype(int), prefix="g", dtype=float)
    seeds = pd.get_dummies(rows["seed"], prefix="s", drop_first=True, dtype=float)
    nuisance = np.hstack([gens.to_numpy(), seeds.to_numpy()])
    return (rows["event"].to_numpy(dtype=float), nuisance, rows["ratio"].to_numpy(dtype=float),
            rows["z"].to_numpy(dtype=float))


# A weak normal prior, sd 10 on the log-hazard scale, on every coefficient (Gelman et al. 2008's
# remedy for separation). With 2 seeds the chains often separate perfectly (none collapses at ratio
# 0.5 by generation 5, accumulate never does): the plain GLM's IRLS then diverges (measured on the
# demo: coefficients of 200, deviances of 2763 at one grid point and 0.4 at the next), and the
# profile means nothing. The prior keeps every fit finite; where the maximum likelihood exists it
# moves the estimates little (sd 10 against effects of a few units).
PRIOR_SD = 10.0


def _fit(y, exog, offset=None):
    """The penalized cloglog GLM (statsmodels' PenalizedMixin on GLM, an L2 penalty = the prior)."""
    from statsmodels.base._penalized import PenalizedMixin
    from statsmodels.base._penalties import L2
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.families.links import CLogLog
    from statsmodels.genmod.generalized_linear_model import GLM

    class PenalizedGLM(PenalizedMixin, GLM):
        pass

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model = PenalizedGLM(y, exog, family=Binomial(link=CLogLog()), offset=offset, pen_weight=1.0,
                             penal=L2(weights=np.full(exog.shape[1], 0.5 / PRIOR_SD ** 2)))
        return model.fit(method="newton", maxiter=100, disp=0)


def _deviance(y, exog, offset=None) -> float:
    """-2 x the penalized log likelihood at its maximum."""
    try:
        return float(-2 * _fit(y, exog, offset).llf)
    except (ValueError, np.linalg.LinAlgError):
        return np.nan


def _profile_interval(deviance, estimate: float, best: float, limit: float, step: float) -> tuple[float, float]:
    """The values whose profile deviance is within chi-square(1, 95 %) of the best: walk out from
    the estimate in `step`s to the first value outside, then bisect; a side still inside at
    +-`limit` is open (-inf / inf). Each end is the outer one of its last bracket: wide, not narrow."""
    cut = best + stats.chi2.ppf(LEVEL, 1)
    ends = []
    for direction in (-1, 1):
        inside, outside, x = estimate, None, estimate
        while outside is None and abs(x + direction * step) <= limit:
            x += direction * step
            if deviance(x) > cut:
                outside = x
            else:
                inside = x
        if outside is None:
            ends.append(direction * np.inf)
            continue
        for _ in range(7):  # to under 1 % of a step
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if deviance(mid) <= cut else (inside, mid)
        ends.append(outside)
    return ends[0], ends[1]


def hazard_comparison(ttc: pd.DataFrame, pairs: list[tuple], criterion: CollapseConfig) -> dict:
    """The hazard model of one series (z = 1) against its baseline (z = 0) over the chains of
    `ttc` (columns chain_id, ratio, seed, z, time_to_collapse, collapsed); `pairs` are
    (seed, series chain, baseline chain). Returns hazard ratio, threshold shift, their intervals,
    the seed-swap p-value and the number of informative seeds."""
    empty = {"hazard_ratio": np.nan, "hr_low": np.nan, "hr_high": np.nan, "threshold_shift": np.nan,
             "shift_low": np.nan, "shift_high": np.nan, "p_value": np.nan, "n_informative": 0}
    periods = person_periods(ttc, criterion)
    if not pairs or periods.empty or periods["event"].sum() == 0:
        return {**empty, "p_value": 1.0 if pairs else np.nan}
    y, nuisance, ratio, z = _design(periods, ttc)
    base = np.column_stack([nuisance, ratio])
    null = _fit(y, base)
    # the score for delta at delta = 0, per person-period, for a chain labelled S: (y - mu) e^eta / mu
    eta = np.clip(base @ null.params, -30, 30)
    mu = np.clip(-np.expm1(-np.exp(eta)), 1e-300, 1.0)
    score = pd.Series((y - mu) * np.exp(eta) / mu).groupby(periods["chain_id"].to_numpy()).sum()
    per_pair = pd.Series([score.get(a, 0.0) - score.get(b, 0.0) for _, a, b in pairs], dtype=float)
    shares = per_pair.groupby([s for s, _, _ in pairs]).sum().to_numpy()
    informative = int(np.sum(np.abs(shares) > 1e-9))
    p = signflip_pvalue(shares)

    full = _fit(y, np.column_stack([base, z]))
    delta, beta, best = float(full.params[-1]), float(full.params[-2]), float(-2 * full.llf)
    hr_lo, hr_hi = _profile_interval(lambda d: _deviance(y, base, d * z), delta, best, LOG_HR_LIMIT, 1.0)
    theta, sh_lo, sh_hi = np.nan, np.nan, np.nan
    if beta > 0:  # theta = -delta / beta: the model alpha_g + beta (ratio - theta z) + gamma_seed
        theta = -delta / beta
        sh_lo, sh_hi = _profile_interval(lambda t: _deviance(y, np.column_stack([nuisance, ratio - t * z])),
                                         theta, best, SHIFT_LIMIT, 0.25)
    if not p < ALPHA:  # the valid test does not reject: neither interval may exclude "no difference"
        hr_lo, hr_hi = min(hr_lo, 0.0), max(hr_hi, 0.0)
        if theta == theta:
            sh_lo, sh_hi = min(sh_lo, 0.0), max(sh_hi, 0.0)
    return {"hazard_ratio": math.exp(delta), "hr_low": _exp(hr_lo), "hr_high": _exp(hr_hi),
            "threshold_shift": theta, "shift_low": sh_lo, "shift_high": sh_hi, "p_value": p,
            "n_informative": informative}


def _exp(x: float) -> float:
    return 0.0 if x == -np.inf else np.inf if x == np.inf else math.exp(x)


# ------------------------------------------------------------------------------ pairing


def _twins(rows: pd.DataFrame, axes: list[str]) -> set[frozenset]:
    """Pairs of chains that are one chain's rows: marked (column copy_of, where the rows have it)
    or equal in every metric column at every generation (accumulate at ratio 0 is `none`)."""
    same = set()
    if "copy_of" in rows.columns:
        marked = rows.loc[rows["copy_of"].fillna("").astype(str) != "", ["chain_id", "copy_of"]]
        same |= {frozenset(p) for p in marked.drop_duplicates("chain_id").itertuples(index=False)}
    columns = metric_columns(rows, axes) if len(rows) else []
    if columns:
        # a chain's key: the bytes of its (generation, metric values) in generation order; hashing
        # them beats pandas' groupby of tuples (0.5 s of a 2,050-chain report, measured) by 10x
        ordered = rows.sort_values(["chain_id", "generation"], kind="stable")
        values = ordered[columns].to_numpy(dtype=float).round(12) + 0.0  # + 0.0: -0.0 is 0.0
        values[np.isnan(values)] = np.inf  # NaN == NaN for this purpose
        gens, ids = ordered["generation"].to_numpy(dtype=np.int64), ordered["chain_id"].to_numpy(dtype=object)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        chains: dict[bytes, list] = {}
        for start, end in zip(starts, [*starts[1:], len(ids)]):
            chains.setdefault(gens[start:end].tobytes() + values[start:end].tobytes(), []).append(ids[start])
        for same_ids in chains.values():
            same |= {frozenset(p) for p in itertools.combinations(same_ids, 2)}
    return same


def _pairs(series: pd.DataFrame, baseline: pd.DataFrame, extra: list[str], twins: set[frozenset]) -> list[tuple]:
    """(seed, series chain, baseline chain) at the same seed, ratio and extra axes, twins left out."""
    key = ["seed", "ratio", *extra]
    both = series.merge(baseline, on=key, suffixes=("", "_b"))[["seed", "chain_id", "chain_id_b"]]
    return [(s, a, b) for s, a, b in both.itertuples(index=False) if frozenset((a, b)) not in twins]


def _per_seed(pairs: list[tuple], diff: np.ndarray) -> np.ndarray:
    """The mean of each seed's finite pair differences (the seed is the independent unit)."""
    d = pd.Series(diff, index=[s for s, _, _ in pairs], dtype=float).dropna()
    return d.groupby(level=0).mean().to_numpy() if len(d) else np.zeros(0)


def _times(ttc: pd.DataFrame, G: int) -> pd.Series:
    """Time to collapse with censored-through-G chains at G + 1; NaN where censored earlier."""
    t = ttc["time_to_collapse"].astype(float).where(ttc["collapsed"].astype(bool), G + 1.0)
    known = ttc["collapsed"].astype(bool) | (ttc["last_generation"] >= G)
    return pd.Series(np.where(known, t, np.nan), index=ttc["chain_id"])


def _wilcoxon(diff: np.ndarray) -> float:
    """Wilcoxon's signed-rank test (zeros dropped, tied ranks averaged) as the sign-flip test of the
    signed ranks: the same p as scipy's `wilcoxon(method=PermutationMethod())` (equal to the last
    digit where both enumerate, tests/test_compare.py), through the cached sign patterns. scipy
    re-ranks every resample: 3.7 s of a 2,050-chain report (measured), this a few milliseconds."""
    diff = diff[np.isfinite(diff)]
    if not len(diff):
        return np.nan
    nonzero = diff[diff != 0]
    if not len(nonzero):
        return 1.0
    return signflip_pvalue(np.sign(nonzero) * stats.rankdata(np.abs(nonzero)))


def _metric_values(rows: pd.DataFrame, metric: str, G: int) -> tuple[pd.Series, pd.Series]:
    """Per chain: the metric at generation G, and its mean over generations 1..G ('ok' rows)."""
    ok = rows[(rows["status"] == "ok") & (rows["generation"] <= G)]
    at_g = ok[ok["generation"] == G].set_index("chain_id")[metric].astype(float)
    later = ok[ok["generation"] >= 1]
    complete = later.groupby("chain_id")["generation"].nunique() == G
    mean = later.groupby("chain_id")[metric].mean().where(complete)
    return at_g, mean


def relative_spread(parts: np.ndarray) -> float:
    """sd / |mean| of the per-seed differences (NaN where it cannot be told)."""
    parts = parts[np.isfinite(parts)]
    if len(parts) < 2 or parts.mean() == 0:
        return np.nan
    return float(parts.std(ddof=1) / abs(parts.mean()))


def seeds_needed(spread: float, claims: int) -> float:
    """Seeds for 80 % power at 5 % two-sided after Holm over `claims` tests, if the per-seed
    differences keep their spread relative to their mean (normal approximation), and never fewer
    than the sign-flip test needs to reach that level at all: 2 / 2^k < 0.05 / claims."""
    fewest = math.floor(math.log2(2 * max(claims, 1) / ALPHA)) + 1
    if spread != spread:
        return np.nan
    alpha = ALPHA / max(claims, 1)
    n = ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(0.8)) * spread) ** 2
    return float(max(fewest, math.ceil(n)))


# ------------------------------------------------------------------------------ the table


def compare(rows: pd.DataFrame, ttc: pd.DataFrame, axes: list[str], criterion: CollapseConfig, generations: int,
            baseline: str = "none", pairs: str = "baseline") -> pd.DataFrame:
    """comparisons.csv: one row per series (or per pair of series with pairs='all'), COLUMNS.
    `ttc` is time_to_collapse(rows, criterion, generations, axes); `rows` give the metric."""
    by = series_axes(axes)
    extra = [a for a in by if a != "mitigation"]
    all_series = [values for values, _ in _groups(ttc, by)]
    todo = _todo(all_series, extra, baseline, pairs)
    at_g, over_g = _metric_values(rows, criterion.metric, generations) if len(rows) else (pd.Series(), pd.Series())
    times = _times(ttc, generations) if len(ttc) else pd.Series(dtype=float)
    twins = _twins(rows, axes)
    out = []
    for s_values, b_values in todo:
        s_chains, b_chains = _select(ttc, s_values), _select(ttc, b_values)
        pair_ids = _pairs(s_chains, b_chains, extra, twins)
        chains = pd.concat([s_chains.assign(z=1.0), b_chains.assign(z=0.0)], ignore_index=True)
        hz = hazard_comparison(chains, pair_ids, criterion)
        a, b = [p[1] for p in pair_ids], [p[2] for p in pair_ids]
        d_time = _per_seed(pair_ids, times.reindex(a).to_numpy() - times.reindex(b).to_numpy())
        d_g = _per_seed(pair_ids, at_g.reindex(a).to_numpy() - at_g.reindex(b).to_numpy())
        d_all = _per_seed(pair_ids, over_g.reindex(a).to_numpy() - over_g.reindex(b).to_numpy())
        m_g, m_all = mean_difference(d_g), mean_difference(d_all)
        out.append({"series": label(s_values), "baseline": label(b_values), "n_pairs": len(pair_ids),
                    "n_seeds": len({p[0] for p in pair_ids}), **hz,
                    "metric_delta": m_g["estimate"], "delta_low": m_g["low"], "delta_high": m_g["high"],
                    "wilcoxon_p": _wilcoxon(d_time), "metric": criterion.metric,
                    "metric_delta_generations": m_all["estimate"], "generations_low": m_all["low"],
                    "generations_high": m_all["high"], "metric_p": m_g["p"],
                    "seeds_needed": relative_spread(d_g)})
    table = pd.DataFrame(out, columns=[c for c in COLUMNS if c not in ("p_holm", "verdict", "metric_p_holm",
                                                                        "metric_verdict")])
    return _verdicts(table, criterion).reindex(columns=COLUMNS)


def metric_difference(rows: pd.DataFrame, ttc: pd.DataFrame, axes: list[str], metric: str, generations: int,
                      series: dict, baseline: dict) -> dict:
    """`metric` at generation G, series minus baseline, paired by seed and ratio like `compare`
    (twins left out), as mean_difference over seeds: estimate, low, high, p, n, and spread (sd/|mean|
    of the per-seed differences, for seeds_needed)."""
    extra = [a for a in series_axes(axes) if a != "mitigation"]
    pair_ids = _pairs(_select(ttc, series), _select(ttc, baseline), extra, _twins(rows, axes))
    at_g, _ = _metric_values(rows, metric, generations)
    a, b = [p[1] for p in pair_ids], [p[2] for p in pair_ids]
    d = _per_seed(pair_ids, at_g.reindex(a).to_numpy() - at_g.reindex(b).to_numpy())
    return {**mean_difference(d), "spread": relative_spread(d)}


def _verdicts(table: pd.DataFrame, criterion: CollapseConfig) -> pd.DataFrame:
    n = len(table)
    claims = int(np.isfinite(table["p_value"].to_numpy(dtype=float)).sum()
                 + np.isfinite(table["metric_p"].to_numpy(dtype=float)).sum())
    table["seeds_needed"] = [seeds_needed(x, claims) for x in table["seeds_needed"]]
    adjusted = holm(np.concatenate([table["p_value"].to_numpy(dtype=float), table["metric_p"].to_numpy(dtype=float)]))
    table["p_holm"], table["metric_p_holm"] = adjusted[:n], adjusted[n:]
    told = table["p_holm"] < ALPHA
    table["verdict"] = np.where(told & (table["hazard_ratio"] < 1), "later",
                                np.where(told & (table["hazard_ratio"] > 1), "sooner", "not told apart"))
    worse = table["metric_delta"] > 0 if criterion.direction == "up" else table["metric_delta"] < 0
    m_told = table["metric_p_holm"] < ALPHA
    table["metric_verdict"] = np.where(m_told & worse, "worse", np.where(m_told & ~worse, "better", "not told apart"))
    return table


def _groups(ttc: pd.DataFrame, by: list[str]):
    if ttc.empty:
        return []
    if not by:
        return [({}, ttc)]
    return [(dict(zip(by, k if isinstance(k, tuple) else (k,))), sub) for k, sub in ttc.groupby(by, sort=True)]


def _select(ttc: pd.DataFrame, values: dict) -> pd.DataFrame:
    mask = np.ones(len(ttc), bool)
    for k, v in values.items():
        mask &= (ttc[k] == v).to_numpy()
    return ttc[mask]


def _todo(all_series: list[dict], extra: list[str], baseline: str, pairs: str) -> list[tuple[dict, dict]]:
    """(series, baseline series) to compare: each series against the baseline mitigation at the same
    extra-axis values, or (pairs='all') every pair of series at the same extra-axis values."""
    if pairs == "all":
        return [(a, b) for b, a in itertools.combinations(all_series, 2)
                if all(a[k] == b[k] for k in extra)]
    out = []
    for s in all_series:
        if s.get("mitigation") == baseline:
            continue
        b = {**s, "mitigation": baseline}
        if b in all_series:
            out.append((s, b))
    return out


# ------------------------------------------------------------------------------ in words


def describe(row: pd.Series) -> str:
    """One comparison in words, for the report's first lines."""
    head = f"{row['series']} vs {row['baseline']}"
    if row["n_pairs"] == 0:
        return f"{head}: no chains at a common seed and ratio yet"
    time_word = {"later": "collapses LATER", "sooner": "collapses SOONER",
                 "not told apart": "time to collapse not told apart"}[row["verdict"]]
    metric_word = {"better": "BETTER", "worse": "WORSE", "not told apart": "not told apart"}[row["metric_verdict"]]
    lines = [f"{head} ({row['n_pairs']} pairs over {row['n_seeds']} seeds): {time_word}, "
             f"hazard ratio {_num(row['hazard_ratio'])} [{_num(row['hr_low'])}, {_num(row['hr_high'])}], "
             f"threshold shift {_signed(row['threshold_shift'])} [{_signed(row['shift_low'])}, "
             f"{_signed(row['shift_high'])}], p = {_num(row['p_value'])} (Holm {_num(row['p_holm'])})",
             f"    {row['metric']} at G {metric_word}: {_signed(row['metric_delta'])} [{_signed(row['delta_low'])}, "
             f"{_signed(row['delta_high'])}], p = {_num(row['metric_p'])} (Holm {_num(row['metric_p_holm'])})"]
    if "not told apart" in (row["verdict"], row["metric_verdict"]):
        need = row["seeds_needed"]
        few = f"{row['n_seeds']} seeds can give p >= {_num(min(1.0, 2 / 2 ** row['n_seeds']))} at best"
        lines.append(f"    {few}" + (f"; about {int(need)} seeds would settle the {row['metric']} difference"
                                       if need == need else ""))
    return "\n".join(lines)


def _num(x: float) -> str:
    if x != x:
        return "n/a"
    if x == np.inf:
        return "open"
    if x == 0 or abs(x) >= 1e-3:
        return f"{x:.3g}"
    return "<0.001"


def _signed(x: float) -> str:
    if x != x:
        return "n/a"
    if x in (np.inf, -np.inf):
        return "open"
    return f"{x:+.3g}"


def answer(table: pd.DataFrame, baseline: str, level_note: bool = True) -> str:
    """The report's first lines: which series holds collapse off longest, test by test."""
    if table.empty:
        return (f"Which mitigation holds collapse off longest: nothing to compare (no series with a "
                f"`{baseline}` baseline at a common seed and ratio; analysis.baseline sets it)")
    later = table[table["verdict"] == "later"].sort_values("hazard_ratio")
    better = table[table["metric_verdict"] == "better"].sort_values("metric_delta")
    if len(later):
        head = f"holds collapse off longer than {baseline}: " + ", ".join(later["series"])
    elif len(better):
        head = (f"no series is told apart from {baseline} in time to collapse; better {table['metric'].iloc[0]} "
                f"at G: " + ", ".join(better["series"]))
    else:
        head = f"no series is told apart from {baseline} yet"
    lines = [f"Which mitigation holds collapse off longest? {head} (tests at 5 %, Holm over all "
             f"{2 * len(table)} claims; the seed is the unit)"]
    lines += [describe(r) for _, r in table.iterrows()]
    return "\n".join(lines)
