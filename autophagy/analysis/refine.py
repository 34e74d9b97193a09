"""Where the next chains of a search go: new ratios inside a series' 95 % interval
(`search.target: threshold`), or new seeds where the series differ most from the baseline
(`search.target: compare`, `compare_round` below).

Pure: the ratios already run, the interval and N in, new ratios out. Each new ratio is a new
training mix: r = k / N for a synthetic count k = round(r·N) that no ratio already run has (two
ratios with the same count train on the same mix, so a second one teaches nothing). Among the
free counts inside the interval (an open side ends at 0 or 1), each pick is the one farthest from
every ratio already run or picked: the midpoint of the widest gap, or an end of the interval no
chain has tried yet; ties go to the one nearest the estimate. That halves the gaps where the
threshold can still be, and puts the chains where the test that bounds the interval needs them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from autophagy.analysis.axes import series_axes
from autophagy.analysis.threshold import width
from autophagy.counts import round_half_up


def decide(t: dict, ran, n: int, target_width: float, per_round: int, room: int) -> tuple[list[float], str]:
    """One series' next round: (new ratios, why). `t` is its threshold row (threshold.threshold),
    `ran` the ratios it has run, `room` how many more ratios its share of the budget pays for.
    No new ratios means the series is done, and `why` says why."""
    low, high = t["ci_low"], t["ci_high"]
    if t.get("model_low", np.nan) == t.get("model_low", np.nan):  # the model-based interval drives it
        low, high = t["model_low"], t["model_high"]
    if low != low:
        return [], f"stopped: no interval ({t['text']})"
    wide = width(low, high)
    if wide < target_width:
        return [], f"done: threshold {t['text']}, narrower than {target_width:g}"
    new = next_ratios(ran, low, high, t["threshold"], n, min(per_round, room))
    if new:
        return new, f"threshold {t['text']}: {wide:.3g} wide, target {target_width:g}"
    return [], f"stopped at threshold {t['text']}: " + (
        "chain budget spent" if room < 1 else "no unused training mix left inside it")


def next_ratios(run, ci_low: float, ci_high: float, estimate: float, n: int, per_round: int) -> list[float]:
    """Up to `per_round` new ratios (fewer when the interval holds fewer unused training mixes)."""
    if not (ci_low == ci_low and ci_high == ci_high):  # no interval: nothing to refine
        return []
    lo, hi = max(ci_low, 0.0), min(ci_high, 1.0)
    known = {round_half_up(r * n) for r in run}
    free = [k for k in range(math.ceil(lo * n - 1e-9), math.floor(hi * n + 1e-9) + 1) if k not in known]
    centre = estimate if estimate == estimate else (lo + hi) / 2
    chosen: list[int] = []
    for _ in range(per_round):
        if not free:
            break
        taken = sorted(known | set(chosen))
        best = max(free, key=lambda k: (min(abs(k - t) for t in taken) if taken else n, -abs(k / n - centre)))
        chosen.append(best)
        free.remove(best)
    return sorted(k / n for k in chosen)


# ------------------------------------------------------------------ search.target: compare


def ratio_differences(ttc: pd.DataFrame, axes: list[str], baseline: str, generations: int,
                      rows: pd.DataFrame | None = None, metric: str | None = None) -> pd.Series:
    """Per ratio: how far the series are from the baseline there, paired by seed, ratio and extra
    axes: the mean over pairs of |Δ time to collapse| / (G + 1) (censored through G = G + 1), plus,
    with `rows` and `metric`, |Δ metric at G| / the baseline's mean |metric at G| — the two claims a
    comparison makes, each on a scale of about 0..1."""
    extra = [a for a in series_axes(axes) if a != "mitigation"]
    t = ttc.assign(time=ttc["time_to_collapse"].where(ttc["collapsed"].astype(bool), generations + 1.0))
    if rows is not None and metric in getattr(rows, "columns", ()):
        last = rows[(rows["generation"] == generations) & (rows["status"] == "ok")]
        t = t.merge(last[["chain_id", metric]].rename(columns={metric: "value"}), on="chain_id", how="left")
    else:
        t = t.assign(value=np.nan)
    key = ["seed", "ratio", *extra]
    base = t[t["mitigation"] == baseline][[*key, "time", "value"]]
    both = t[t["mitigation"] != baseline].merge(base, on=key, suffixes=("", "_b"))
    scale = float(np.nanmean(np.abs(both["value_b"]))) if both["value_b"].notna().any() else np.nan
    d_time = (both["time"] - both["time_b"]).abs() / (generations + 1.0)
    d_metric = ((both["value"] - both["value_b"]).abs() / scale).fillna(0.0) if scale and scale == scale else 0.0
    return (d_time + d_metric).groupby(both["ratio"]).mean().sort_index()


def seeds_to_decide(n_claims: int, alpha: float = 0.05) -> int:
    """The fewest seeds whose sign-flip test can reach `alpha` after Holm over `n_claims`: 2/2^k < alpha/claims."""
    return int(math.floor(math.log2(2 * max(n_claims, 1) / alpha)) + 1)


def compare_round(comparisons: pd.DataFrame, differences: pd.Series, seeds_run, per_seed: int, room: int,
                  n_series: int, must: tuple = ()) -> tuple[list[int], list[float], str]:
    """(new seeds, their ratios, why): whole new seeds, max(seed) + 1, ..., for every series at once
    (so every pair stays paired by seed), each at the `per_seed` ratios already run where the series
    differ most from the baseline (and at `must`: ratio 0 for a control reference). As many seeds at
    once as the open comparisons need before any of them could be decisive (a sign-flip test over k
    seeds has p >= 2/2^k), at least one, as far as `room` chains pay: they then run side by side.
    No seeds when the comparisons are decisive, there is no difference to buy, or no room."""
    if comparisons.empty:
        return [], [], "stopped: no series to compare with the baseline"
    undecided = (comparisons["verdict"] == "not told apart")
    if "metric_verdict" in comparisons:
        undecided |= comparisons["metric_verdict"] == "not told apart"
    open_ = comparisons[undecided]
    if open_.empty:
        return [], [], "done: every comparison decisive (" + ", ".join(
            f"{r.series}: {r.verdict}" for r in comparisons.itertuples()) + ")"
    if differences.empty:
        return [], [], "stopped: no paired chains to compare"
    informative = differences[differences > 0]  # a ratio where every pair agrees (twins at ratio 0) buys nothing
    ranked = (informative if len(informative) else differences).sort_values(ascending=False, kind="stable")
    ratios = sorted({*ranked.index[:max(per_seed, 1)].tolist(), *must})
    cost = len(ratios) * n_series
    if room < cost:
        return [], [], f"stopped: chain budget spent ({room} left, a new seed costs {cost})"
    have = len(set(seeds_run))
    claims = 2 * len(comparisons)  # time and metric per series, as compare's Holm family
    wanted = max(1, seeds_to_decide(claims) - have)
    n_new = min(wanted, room // cost)
    first = int(max(seeds_run)) + 1
    seeds = list(range(first, first + n_new))
    return seeds, [float(r) for r in ratios], (
        f"{len(open_)} comparison(s) not told apart ({', '.join(open_['series'])}); {have} seeds can give "
        f"p >= {min(1.0, 2 / 2 ** have):.3g} at best and {seeds_to_decide(claims)} could decide {claims} claims: "
        f"seed(s) {', '.join(map(str, seeds))} at the ratios differing most from the baseline: "
        + ", ".join(f"{r:g} ({differences[r]:.2f})" for r in ratios if r in differences))
