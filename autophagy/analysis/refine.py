"""Where the next chains of a threshold search go: new ratios inside a series' 95 % interval.

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

from autophagy.analysis.threshold import width
from autophagy.counts import round_half_up


def decide(t: dict, ran, n: int, target_width: float, per_round: int, room: int) -> tuple[list[float], str]:
    """One series' next round: (new ratios, why). `t` is its threshold row (threshold.threshold),
    `ran` the ratios it has run, `room` how many more ratios its share of the budget pays for.
    No new ratios means the series is done, and `why` says why."""
    low, high = t["ci_low"], t["ci_high"]
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
