"""Where the next chains of a search go: new ratios or new seeds where they narrow a series' 95 %
interval (`search.target: threshold`, `decide`), or new seeds where the series differ most from
the baseline (`search.target: compare`, `compare_round` below).

Pure: the ratios and seeds already run, the interval and N in, the next round out.

New ratios. Each is a new training mix: r = k / N for a synthetic count k = round(r·N) that no
ratio already run has (two ratios with the same count train on the same mix, so a second one
teaches nothing). Among the free counts inside the interval (an open side ends at 0 or 1), each
pick is the one farthest from every ratio already run or picked: the midpoint of the widest gap,
or an end of the interval no chain has tried yet; ties go to the one nearest the estimate. That
halves the gaps where the threshold can still be, and puts the chains where the test that bounds
the interval needs them. Each new ratio runs with every grid seed.

New seeds. The margin model's interval (analysis/margin.py) is a t interval over seeds: once two
ratios already run lie inside it, the lines it is made of are pinned about the threshold and what
is left of its width is the seed-to-seed spread, which only more seeds narrow (new ratios cannot:
measured in BENCHMARKS.md, "Threshold search driven by the margin model"). Then a round adds new
seeds, max(seed) + 1, ..., each at two ratios already run, those nearest the estimate -/+ 0.25
(SEED_SPAN): two points make a seed's line, and a line's slope is measured the better the farther
apart they are (a seed's slope error is sqrt(2)·sd/span). Two neighbours of the estimate, tried
first, gave slopes so noisy that the mean slope was not told from 0 and the interval opened to
[-inf, inf]; the ratios inside the interval, tried next, drift together as it narrows (figures in
BENCHMARKS.md, "Threshold search driven by the margin model"). 0.5 apart keeps both within the
span the grid swept, over which the model takes the margin as linear. How many:
the fewest whose predicted width, t(n'-1)·sqrt(n/n')/t(n-1) of today's, is under the target, at
most as many as have run (at most doubling, so the spread is measured again before more), as far
as the budget pays. An interval under the target with fewer than MIN_SEEDS seeds run tops them up
to MIN_SEEDS before the search may stop (optional stopping; see MIN_SEEDS).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from autophagy.analysis.axes import series_axes
from autophagy.analysis.threshold import width
from autophagy.counts import round_half_up


class Round(NamedTuple):
    """A series' next round. `seeds` empty: `ratios` are new training mixes, each run with every grid
    seed; else `seeds` are new seeds, each run at `ratios` (ratios already run). Nothing in either:
    the series is done, and `why` says why."""

    ratios: list[float]
    seeds: list[int]
    why: str

    def cells(self, grid_seeds) -> list[tuple[float, int]]:
        """The round's chains as (ratio, seed): each new seed at each of `ratios`, or each new ratio
        with every grid seed."""
        if self.seeds:
            return [(r, s) for s in self.seeds for r in self.ratios]
        return [(r, s) for r in self.ratios for s in grid_seeds]


def decide(t: dict, ran, n: int, target_width: float, per_round: int, room: int,
           grid_seeds=(0,), seeds_run=None) -> Round:
    """One series' next round. `t` is its threshold row (threshold.threshold), `ran` the ratios it
    has run, `room` how many more chains its share of the budget pays for, `grid_seeds` the seeds
    a new ratio runs with, `seeds_run` every seed it has run (default: the grid's)."""
    grid_seeds = list(grid_seeds)
    seeds_run = sorted(set(seeds_run if seeds_run is not None else grid_seeds))
    low, high = t["ci_low"], t["ci_high"]
    model = t.get("model_low", np.nan) == t.get("model_low", np.nan)  # the model-based interval drives it
    if model:  # its interval and estimate (the exact interval's estimate can lie far from it)
        low, high = t["model_low"], t["model_high"]
        if t.get("threshold_model", np.nan) == t.get("threshold_model", np.nan):
            t = {**t, "threshold": t["threshold_model"]}
    if low != low:
        return Round([], [], f"stopped: no interval ({t['text']})")
    wide = width(low, high)
    if wide < target_width:
        done = f"done: threshold {t['text']}, narrower than {target_width:g}"
        if model and len(seeds_run) < MIN_SEEDS:  # too few seeds to trust the stop (MIN_SEEDS)
            more = _seed_round(t, ran, wide, target_width, room, seeds_run, MIN_SEEDS - len(seeds_run))
            if not more.seeds:
                return Round([], [], f"{done}, but with {len(seeds_run)} seeds, fewer than the {MIN_SEEDS} "
                                     "that make a stop there trustworthy: chain budget spent")
            return more._replace(why=f"threshold {t['text']}: under the target {target_width:g} with "
                                     f"{len(seeds_run)} seeds; {len(more.seeds)} more to the {MIN_SEEDS} "
                                     "a stop needs")
        return Round([], [], done)
    inside = [r for r in ran if max(low, 0.0) <= r <= min(high, 1.0)]
    if model and len(inside) >= 2:  # pinned: only the seed spread is left
        return _seed_round(t, ran, wide, target_width, room, seeds_run)
    new = next_ratios(ran, low, high, t["threshold"], n, min(per_round, room // max(len(grid_seeds), 1)))
    if new:
        return Round(new, [], f"threshold {t['text']}: {wide:.3g} wide, target {target_width:g}")
    if model:
        return _seed_round(t, ran, wide, target_width, room, seeds_run)
    return Round([], [], f"stopped at threshold {t['text']}: " + (
        "chain budget spent" if room < len(grid_seeds) else "no unused training mix left inside it"))


# The margin interval may end a search only once this many seeds have run: stopping at the first
# round under the target picks the rounds whose few seeds happened to agree, and the interval then
# held the truth in 89 % of simulated shallow searches (target 0.2, 4 seeds); with at least 8 seeds,
# 94 % (BENCHMARKS.md, "Threshold search driven by the margin model").
MIN_SEEDS = 8
SEED_SPAN = 0.5  # how far apart a new seed's two ratios are, where the ratios run allow


def _seed_round(t: dict, ran, wide: float, target_width: float, room: int, seeds_run: list[int],
                at_least: int = 0) -> Round:
    """New seeds at two ratios already run about SEED_SPAN apart around the estimate (the module's
    docstring)."""
    estimate = t["threshold"] if t["threshold"] == t["threshold"] else float(np.mean(ran))
    ran = sorted(set(ran))
    pair = sorted({min(ran, key=lambda r: abs(r - (estimate - SEED_SPAN / 2))),
                   min(ran, key=lambda r: abs(r - (estimate + SEED_SPAN / 2)))})
    if len(pair) < 2:
        pair = [ran[0], ran[-1]]
    have = len(seeds_run)
    wanted = next((k for k in range(1, have + 1) if math.isfinite(wide) and
                   wide * stats.t.ppf(0.975, have + k - 1) / stats.t.ppf(0.975, have - 1) * math.sqrt(have / (have + k))
                   < target_width), have)
    k = min(max(wanted, at_least), room // 2)
    if k < 1:
        return Round([], [], f"stopped at threshold {t['text']}: chain budget spent")
    first = max(seeds_run) + 1
    seeds = list(range(first, first + k))
    return Round(sorted(pair), seeds, f"threshold {t['text']}: {wide:.3g} wide, target {target_width:g}; "
                 f"the seed spread is left: {k} new seed(s) at {pair[0]:g} and {pair[1]:g}")


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
