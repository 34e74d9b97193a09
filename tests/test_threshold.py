"""The collapse threshold's exact interval, the phase boundary and the refinement's new ratios."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autophagy.analysis.phase_boundary import phase_boundary
from autophagy.analysis.refine import next_ratios
from autophagy.analysis.threshold import (collapse_thresholds, confidence_set, nested_pvalue, threshold,
                                          threshold_estimate)
from autophagy.counts import round_half_up

ROOT = Path(__file__).resolve().parents[1]
AXES = ["ratio", "seed", "mitigation"]


def _coverage_module():
    spec = importlib.util.spec_from_file_location("threshold_coverage", ROOT / "benchmarks" / "threshold_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ the exact test


def test_nested_pvalue_matches_monte_carlo():
    """The exact p-value of the nested min-p statistic, against 200,000 simulated null sweeps."""
    sizes, bad = np.array([2, 3, 1, 4]), np.array([2, 2, 1, 3])
    exact = nested_pvalue(bad, sizes)
    rng = np.random.default_rng(0)
    sims = rng.binomial(sizes, 0.5, size=(200_000, len(sizes)))
    from scipy.stats import binom

    def stat(b):
        return binom.sf(np.cumsum(b, axis=-1) - 1, np.cumsum(sizes), 0.5).min(axis=-1)

    mc = (stat(sims) <= stat(bad) * (1 + 1e-9)).mean()
    assert exact == pytest.approx(mc, abs=4 * math.sqrt(mc * (1 - mc) / len(sims)))
    assert exact > stat(bad)  # the minimum over four looks costs something
    assert nested_pvalue([6], [6]) == pytest.approx(1 / 64)  # one look: the binomial tail itself


def test_two_seeds_all_collapsed_allow_any_threshold():
    """4 collapses of 4 happen with probability 1/16 even at P = 1/2: the data cannot exclude
    a threshold above both ratios, and the interval says so instead of '<= 0.2'."""
    low, high = confidence_set([0.2, 0.2, 0.6, 0.6], [True] * 4)
    assert low == -np.inf and high == np.inf
    t = threshold([0.2, 0.2, 0.6, 0.6], [True] * 4)
    assert t["flag"] == "all_collapsed" and math.isnan(t["threshold"])
    assert "below the ratios swept" in t["text"] and "above the ratios swept" in t["text"]


def test_enough_chains_close_the_interval_between_the_flipping_ratios():
    r = np.repeat([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], 8)
    t = threshold(r, r > 0.25)
    assert (t["ci_low"], t["ci_high"]) == (0.2, 0.3)  # 8 of 8 at each side: rejected beyond
    assert t["threshold"] == pytest.approx(0.25) and t["flag"] == "estimated"


def test_interval_is_never_zero_width_and_holds_the_estimate():
    rng = np.random.default_rng(3)
    for _ in range(50):
        r = np.repeat(np.linspace(0, 1, rng.integers(2, 9)), rng.integers(1, 5))
        y = rng.random(len(r)) < r
        t = threshold(r, y)
        if t["flag"] == "not_increasing":
            continue
        assert t["ci_high"] > t["ci_low"]
        if t["flag"] == "estimated":
            assert t["ci_low"] <= t["threshold"] <= t["ci_high"]


def test_estimate_is_the_isotonic_crossing():
    # shares 0, 1/3, 2/3, 1 at ratios 0, .25, .5, .75: crossing halfway between .25 and .5
    r = np.repeat([0.0, 0.25, 0.5, 0.75], 3)
    y = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1], bool)
    assert threshold_estimate(r, y) == (pytest.approx(0.375), "estimated")
    # a violation is pooled: 2/3 at .25 then 1/3 at .5 pool to 1/2 over [.25, .5]: the midpoint
    y2 = np.array([0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1], bool)
    assert threshold_estimate(r, y2) == (pytest.approx(0.375), "estimated")
    assert threshold_estimate([0.5, 0.5], [True, False])[1] == "estimated"
    assert threshold_estimate([0.5, 0.5, 0.5], [True, True, False])[1] == "below_range"
    assert threshold_estimate([], [])[1] == "no_data"


@pytest.mark.parametrize("model, sims", [("exact", 60), ("firth", 60), ("margin", 150)])
def test_intervals_cover_a_known_threshold(model, sims):
    """Simulated sweeps with a known threshold (benchmarks/threshold_coverage.py): steep, shallow
    and floored curves at 5 x 2, 5 x 4 and 11 x 3 (ratios x seeds); each interval must cover the
    truth in >= 93 % of the sweeps of every cell (BENCHMARKS.md has the figures at 1,000 per cell).
    The margin model's chains carry a seed effect, which it pairs out; Firth's and the exact
    interval's chains are independent, as they assume."""
    bench = _coverage_module()
    for design in bench.DESIGNS:
        for curve in bench.CURVES:
            result = bench.coverage(*design, curve, sims, model, seed=11)
            assert result["coverage"] >= 0.93, (design, curve, result)


def test_margin_interval_is_the_narrower_one_on_a_steep_curve():
    bench = _coverage_module()
    margin, exact = (bench.coverage(5, 4, "steep", 40, m, seed=3)["mean_width"] for m in ("margin", "exact"))
    assert margin < exact / 3


# ------------------------------------------------------------------ tables


def _ttc(spec, G=4):
    """time_to_collapse rows from (ratio, seed, generation of collapse or None)."""
    return pd.DataFrame([{"chain_id": f"c{r}-{s}", "ratio": r, "seed": s, "mitigation": "none",
                          "time_to_collapse": G if t is None else t, "censored": t is None,
                          "collapsed": t is not None, "last_generation": G if t is None else t,
                          "complete": t is None, "diverged": False, "failed": False} for r, s, t in spec])


def test_phase_boundary_moves_left_as_the_horizon_grows():
    # at ratio r, chains collapse at generation round(4 - 4r) + 1 ... later at smaller ratios
    spec = [(r, s, int(5 - 4 * r) if r > 0 else None) for r in np.linspace(0, 1, 9) for s in range(8)]
    table = phase_boundary(_ttc(spec), AXES, 4)
    assert list(table["horizon"]) == [1, 2, 3, 4]
    estimates = table["threshold"].to_numpy()
    assert np.all(np.diff(estimates[np.isfinite(estimates)]) < 0)
    last = collapse_thresholds(_ttc(spec), AXES, horizon=4).iloc[0]
    assert table.iloc[-1]["threshold"] == last["threshold"]


def test_chains_not_seen_through_the_horizon_are_left_out():
    spec = [(0.0, 0, None), (1.0, 0, 1)]
    ttc = _ttc(spec)
    running = ttc.iloc[[0]].assign(chain_id="run", ratio=0.5, last_generation=2, time_to_collapse=2, complete=False)
    t = collapse_thresholds(pd.concat([ttc, running]), AXES, horizon=4).iloc[0]
    assert (t["n_chains"], t["n_used"]) == (3, 2)
    t2 = collapse_thresholds(pd.concat([ttc, running]), AXES, horizon=2).iloc[0]
    assert t2["n_used"] == 3  # seen through generation 2


# ------------------------------------------------------------------ where the next ratios go


def test_next_ratios_are_new_training_mixes_inside_the_interval():
    n = 40
    run = [0.0, 0.25, 0.5, 0.75, 1.0]
    new = next_ratios(run, 0.25, 0.75, 0.4, n, per_round=2)
    assert len(new) == 2 and all(0.25 < r < 0.75 for r in new)
    counts = {round_half_up(r * n) for r in run}
    assert all(round_half_up(r * n) not in counts for r in new)
    assert len({round_half_up(r * n) for r in new}) == 2
    assert new[0] == pytest.approx(0.375) or new[1] == pytest.approx(0.375)  # the gap's midpoint first


def test_next_ratios_never_repeat_a_count_even_on_a_fine_grid():
    n, run = 10, [0.0, 0.1, 0.2, 0.3]
    new = next_ratios(run, 0.1, 0.3, 0.2, n, per_round=5)
    assert new == []  # every mix between 1 and 3 synthetic images of 10 already ran
    # a ratio that rounds to a count already run is no new mix: 0.26 * 10 rounds to 3
    assert round_half_up(0.26 * n) == 3 and next_ratios([0.26], 0.2, 0.4, 0.3, n, 3) == [0.2, 0.4]


def test_next_ratios_try_an_open_side_at_the_domain_edge():
    new = next_ratios([0.25, 0.5], -np.inf, 0.5, float("nan"), 100, per_round=1)
    assert new == [0.0]


# ------------------------------------------------------------------ the margin, from rows


@pytest.mark.parametrize("text", ["fid>=2x", "fid>=1.5x:persist=2", "fid>=20", "fid>=2x:reference=control"])
def test_margin_is_nonnegative_exactly_when_the_chain_collapsed_by_the_horizon(text):
    from autophagy.analysis.criterion import parse_criterion
    from autophagy.analysis.margin import chain_margins
    from autophagy.analysis.threshold import known_by
    from autophagy.analysis.time_to_collapse import time_to_collapse
    from simulated_chains import simulate

    rows = simulate([0.0, 0.25, 0.5, 0.75, 1.0], range(3), {"none": 0.0}, 5, np.random.default_rng(2))
    lost = rows["chain_id"] == "none-r1-s0"  # one chain diverges at generation 3
    rows = rows[~lost | (rows["generation"] <= 3)].copy()
    rows.loc[lost & (rows["generation"] == 3), ["status", "fid"]] = ["diverged", np.nan]
    crit = parse_criterion(text)
    ttc = time_to_collapse(rows, crit, 5, AXES)
    margins = chain_margins(rows, crit, 5, AXES)
    for t in range(1, 6):
        known, hit = known_by(ttc, t)
        assert list(margins.loc[known["chain_id"], t] >= 0) == list(hit), (text, t)
    table = collapse_thresholds(ttc, AXES, horizon=5, margins=margins).iloc[0]
    assert table["model"] == "margin" and "margin model" in table["text"]
    assert collapse_thresholds(ttc, AXES, horizon=5).iloc[0]["model"] == "firth"


def test_a_model_bound_past_the_ratio_domain_reads_as_its_edge():
    from autophagy.analysis.threshold import _model_text
    text = _model_text({"model": "margin", "threshold_model": 0.7, "model_low": -3.2, "model_high": 100.0})
    assert text == "0.7, 95% in [below 0, above 1] (margin model)"
    assert _model_text({"model": "firth", "threshold_model": 0.5, "model_low": 0.25, "model_high": np.inf}) == \
        "0.5, 95% in [0.25, above the ratios swept] (firth model)"
