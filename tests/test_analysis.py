"""Time to collapse, survival, bootstrap, summaries and thresholds on synthetic rows with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from autophagy.analysis.intervals import median_interval, ratio_interval
from autophagy.analysis.summary import format_ttc, median_with_censoring, summarize, summary_table_text
from autophagy.analysis.survival import kaplan_meier, median_survival, survival_at, survival_table
from autophagy.analysis.threshold import collapse_thresholds
from autophagy.analysis.time_to_collapse import time_to_collapse
from autophagy.config import CollapseConfig

FID_DOUBLES = CollapseConfig(metric="fid", mode="relative", threshold=2.0, direction="up")
AXES = ["ratio", "seed", "mitigation"]


def chain(ratio, seed, values, mitigation="none", statuses=None, **extra):
    """Rows of one chain whose fid follows `values` (generation = position)."""
    statuses = statuses or ["ok"] * len(values)
    cid = f"{mitigation}-r{ratio}-s{seed}" + "".join(f"-{v}" for v in extra.values())
    return [{"chain_id": cid, "ratio": ratio, "seed": seed, "mitigation": mitigation, **extra, "generation": g,
             "status": s, "fid": v, "train_loss": 1.0, "seconds_build": 0.1}
            for g, (v, s) in enumerate(zip(values, statuses))]


def frame(*chains):
    return pd.DataFrame([row for c in chains for row in c])


# --------------------------------------------------------------------------- time to collapse


def test_censoring_never_collapsing_incomplete_and_collapsing_chains():
    rows = frame(chain(0.0, 0, [10, 11, 12, 13]),  # complete, never collapses
                 chain(0.5, 0, [10, 11]),  # still running
                 chain(1.0, 0, [10, 15, 21, 30]),  # collapses at 2
                 chain(1.0, 1, [10, 15, 21]))  # collapsed before finishing
    t = time_to_collapse(rows, FID_DOUBLES, generations=3).set_index("chain_id")
    assert list(t.columns) == ["ratio", "seed", "mitigation", "time_to_collapse", "censored", "collapsed",
                               "last_generation", "complete", "diverged", "failed"]
    never, running, fast, early = (t.loc[c] for c in ["none-r0.0-s0", "none-r0.5-s0", "none-r1.0-s0", "none-r1.0-s1"])
    assert (never.time_to_collapse, never.censored, never.complete) == (3, True, True)
    assert (running.time_to_collapse, running.censored, running.complete, running.last_generation) == (1, True, False, 1)
    assert (fast.time_to_collapse, fast.collapsed, fast.complete) == (2, True, True)
    assert (early.time_to_collapse, early.collapsed, early.complete) == (2, True, False)


def test_diverged_chain_both_ways():
    rows = frame(chain(1.0, 0, [10, 12, math.nan], statuses=["ok", "ok", "diverged"]))
    collapse = time_to_collapse(rows, FID_DOUBLES, 5).iloc[0]
    assert (collapse.time_to_collapse, collapse.collapsed, collapse.diverged, collapse.complete) == (2, True, True, False)
    censor = time_to_collapse(rows, CollapseConfig(metric="fid", diverged_is_collapse=False), 5).iloc[0]
    assert (censor.time_to_collapse, censor.censored, censor.diverged) == (2, True, True)


def test_failed_chain_is_censored_at_its_last_good_generation_and_unstarted_ones_absent():
    rows = frame(chain(0.5, 0, [10, 11, math.nan], statuses=["ok", "ok", "failed"]),
                 chain(0.5, 1, [math.nan], statuses=["failed"]))
    t = time_to_collapse(rows, FID_DOUBLES, 4)
    assert list(t["chain_id"]) == ["none-r0.5-s0"]
    assert (t.time_to_collapse[0], t.censored[0], t.failed[0], t.complete[0]) == (1, True, True, False)


def test_extra_axes_are_carried_and_rows_beyond_g_ignored():
    rows = frame(chain(1.0, 0, [10, 11, 12, 40], **{"sampling.cfg_scale": 3.0}))
    t = time_to_collapse(rows, FID_DOUBLES, generations=2)  # axes inferred: the dotted column is one
    assert t.loc[0, "sampling.cfg_scale"] == 3.0
    assert (t.time_to_collapse[0], t.censored[0], t.complete[0]) == (2, True, True)


def test_unknown_metric_and_empty_rows():
    with pytest.raises(ValueError, match="unknown metric column 'recall'.*fid"):
        time_to_collapse(frame(chain(0.0, 0, [1, 2])), CollapseConfig(metric="recall"), 1)
    empty = time_to_collapse(pd.DataFrame(columns=["chain_id", "generation"]), FID_DOUBLES, 3)
    assert empty.empty and "time_to_collapse" in empty.columns and "mitigation" in empty.columns


# --------------------------------------------------------------------------- Kaplan–Meier


def test_kaplan_meier_against_hand_computation():
    # times 1, 2, 2+, 3, 4+:  S(1) = 4/5 = 0.8;  S(2) = 0.8 * 3/4 = 0.6 (the censored 2 still at risk);
    # S(3) = 0.6 * 1/2 = 0.3;  S(4) = 0.3 (a censoring, no event)
    curve = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    assert curve["time"].tolist() == [1, 2, 3, 4]
    assert curve["at_risk"].tolist() == [5, 4, 2, 1]
    assert curve["events"].tolist() == [1, 1, 1, 0]
    assert curve["censored"].tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(curve["survival"], [0.8, 0.6, 0.3, 0.3])
    assert median_survival(curve) == 3
    assert survival_at(curve, 0) == 1.0 and survival_at(curve, 2.5) == pytest.approx(0.6)


def test_kaplan_meier_equals_the_product_limit_on_random_censored_samples():
    rng = np.random.default_rng(5)
    times = rng.integers(0, 12, 200).astype(float)
    events = rng.random(200) < 0.6
    curve = kaplan_meier(times, events)
    s, want = 1.0, []
    for t in np.unique(times):  # the product-limit estimator, written out
        s *= 1 - (events & (times == t)).sum() / (times >= t).sum()
        want.append(s)
    np.testing.assert_allclose(curve["survival"], want, rtol=0, atol=1e-15)
    inside = curve.dropna()
    assert ((inside["survival_low"] <= inside["survival"]) & (inside["survival"] <= inside["survival_high"])).all()


def test_kaplan_meier_without_events_never_reaches_the_median():
    curve = kaplan_meier([5, 5, 3], [False, False, False])
    assert curve["survival"].tolist() == [1.0, 1.0]
    assert math.isnan(median_survival(curve))


def test_survival_table_has_one_curve_per_cell():
    rows = frame(chain(0.0, 0, [10, 11, 12]), chain(0.0, 1, [10, 25, 30]), chain(1.0, 0, [10, 25, 30]))
    table = survival_table(time_to_collapse(rows, FID_DOUBLES, 2, AXES), AXES)
    assert list(table.columns) == ["ratio", "mitigation", "time", "at_risk", "events", "censored", "survival",
                                   "survival_low", "survival_high"]
    assert table[table.ratio == 0.0]["survival"].tolist() == [0.5, 0.5]


# --------------------------------------------------------------------------- intervals and medians


def test_median_interval_is_the_order_statistic_interval_and_open_below_six_seeds():
    # [x_(1), x_(6)] of 6 values covers 1 - 2/2^6 = 96.9 %; [x_(2), x_(9)] of 10 covers 97.9 %
    assert median_interval([5, 1, 4, 2, 6, 3]) == (1.0, 6.0)
    assert median_interval(range(10)) == (1.0, 8.0)
    assert median_interval([3, 5]) == (-np.inf, np.inf)  # 2 seeds: no 95 % interval exists
    assert median_interval([1, 2, 3, 4, 5]) == (-np.inf, np.inf)  # 1 - 2/32 = 93.75 % < 95 %
    assert all(math.isnan(v) for v in median_interval([]))


def test_median_interval_covers_at_its_level():
    rng = np.random.default_rng(0)
    hits = [lo <= 0 <= hi for lo, hi in (median_interval(rng.standard_cauchy(7)) for _ in range(2000))]
    assert np.mean(hits) >= 0.95 - 0.01  # 1 - 2/2^7 = 98.4 % by construction, whatever the law


def test_ratio_interval_inverts_the_sign_flip_test():
    bottom = np.array([2.0, 2.2, 1.8, 2.1, 1.9, 2.0, 2.3, 1.7])
    top = 0.5 * bottom + np.array([0.05, -0.04, 0.02, -0.03, 0.01, 0.04, -0.02, 0.0])
    est, low, high = ratio_interval(top, bottom)
    assert low < 0.5 < high and low < est < high and high - low < 0.1
    assert ratio_interval(top[:3], bottom[:3])[1:] == (-np.inf, np.inf)  # 3 seeds: p >= 2/8


@pytest.mark.parametrize("times, censored, median, lower_bound", [
    ([2, 3, 5], [False, False, True], 3.0, False),  # the censored one is above the median anyway
    ([2, 5, 5], [False, True, True], 5.0, True),
    ([3, 5], [False, True], 4.0, True),
    ([3, 4], [False, False], 3.5, False),
])
def test_median_with_censoring(times, censored, median, lower_bound):
    assert median_with_censoring(times, censored) == (median, lower_bound)


def test_summary_per_cell_with_missing_cells_and_text():
    rows = frame(chain(0.0, 0, [10, 11, 12]), chain(0.0, 1, [10, 11, 12]),
                 chain(1.0, 0, [10, 25, 30]), chain(1.0, 1, [10, 15, 30]))
    ttc = time_to_collapse(rows, FID_DOUBLES, 2, AXES)
    grid = {"ratio": (0.0, 0.5, 1.0), "seed": (0, 1), "mitigation": ("none",)}
    s = summarize(ttc, AXES, grid=grid).set_index("ratio")
    assert (s.loc[0.0, "median_ttc"], s.loc[0.0, "median_censored"], s.loc[0.0, "n_censored"]) == (2, True, 2)
    assert (s.loc[1.0, "median_ttc"], s.loc[1.0, "median_censored"], s.loc[1.0, "km_median"]) == (1.5, False, 1)
    assert s.loc[0.5, "n_chains"] == 0 and math.isnan(s.loc[0.5, "median_ttc"])
    assert (s.loc[1.0, "median_low"], s.loc[1.0, "median_high"]) == (-np.inf, np.inf)  # 2 seeds: open
    assert (s["n_expected"] == 2).all()
    text = summary_table_text(s.reset_index(), AXES)
    assert text.splitlines() == ["ratio  none", "    0    2+", "  0.5     -", "    1   1.5"]
    assert format_ttc(3.0, True) == "3+" and format_ttc(math.nan, False) == "-"


# --------------------------------------------------------------------------- collapse thresholds


def planted(threshold_ratio, ratios, seeds, mitigation="none", G=4):
    """Chains that collapse (fid x3 at generation 2) exactly when ratio > threshold_ratio."""
    out = []
    for r in ratios:
        for s in seeds:
            values = [10, 12, 30, 30, 30] if r > threshold_ratio else [10, 11, 12, 12, 12]
            out.append(chain(r, s, values[: G + 1], mitigation))
    return out


def test_threshold_lands_between_the_neighbouring_grid_ratios():
    ratios = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    rows = frame(*planted(0.2, ratios, range(4), "none"), *planted(0.4, ratios, range(4), "accumulate"))
    t = collapse_thresholds(time_to_collapse(rows, FID_DOUBLES, 4, AXES), AXES).set_index("mitigation")
    assert 0.2 < t.loc["none", "threshold"] < 0.3
    assert 0.4 < t.loc["accumulate", "threshold"] < 0.5
    assert (t["flag"] == "estimated").all()
    assert t.loc["none", "ci_low"] <= t.loc["none", "threshold"] <= t.loc["none", "ci_high"]
    again = collapse_thresholds(time_to_collapse(rows, FID_DOUBLES, 4, AXES), AXES)
    pd.testing.assert_frame_equal(t.reset_index(), again)


def test_threshold_with_noise_and_extra_axis():
    ratios = [0.0, 0.25, 0.5, 0.75, 1.0]
    rows = frame(*planted(0.5, ratios, range(3), "none"))
    # one seed at 0.5 collapses anyway, one at 0.75 does not: still between 0.25 and 1
    rows.loc[(rows.ratio == 0.5) & (rows.seed == 0) & (rows.generation >= 2), "fid"] = 30
    rows.loc[(rows.ratio == 0.75) & (rows.seed == 1) & (rows.generation >= 2), "fid"] = 12
    rows["sampling.cfg_scale"] = 2.0
    axes = AXES + ["sampling.cfg_scale"]
    t = collapse_thresholds(time_to_collapse(rows, FID_DOUBLES, 4, axes), axes)
    assert list(t.columns[:2]) == ["mitigation", "sampling.cfg_scale"]
    assert 0.5 < t.loc[0, "threshold"] < 0.75


def test_degenerate_thresholds_are_reported_as_open_bounds():
    ratios = [0.2, 0.6]
    rows = frame(*planted(-1, ratios, range(6), "none"), *planted(2, ratios, range(6), "accumulate"))
    t = collapse_thresholds(time_to_collapse(rows, FID_DOUBLES, 4, AXES), AXES).set_index("mitigation")
    assert t.loc["none", "flag"] == "all_collapsed" and math.isnan(t.loc["none", "threshold"])
    # 12 collapses of 12: the threshold cannot be above 0.6, but below 0.2 is open
    assert t.loc["none", "ci_low"] == -math.inf and t.loc["none", "ci_high"] == 0.2
    assert t.loc["none", "text"].endswith("exact 95% in [below the ratios swept, 0.2] (every chain collapsed)")
    assert t.loc["accumulate", "flag"] == "none_collapsed"
    assert (t.loc["accumulate", "ci_low"], t.loc["accumulate", "ci_high"]) == (0.6, math.inf)


def test_threshold_leaves_out_chains_censored_before_g():
    rows = frame(*planted(0.2, [0.0, 0.5], range(2)), chain(0.7, 0, [10, 11]))  # 0.7 still running
    t = collapse_thresholds(time_to_collapse(rows, FID_DOUBLES, 4, AXES), AXES)
    assert (t.loc[0, "n_chains"], t.loc[0, "n_used"], t.loc[0, "max_ratio"]) == (5, 4, 0.5)


# --------------------------------------------------------------------------- figures


def test_figures_draw_extra_axes_and_diverged_chains(tmp_path):
    from autophagy.analysis.plots.metric_curves import plot_metric_curves
    from autophagy.analysis.plots.phase_diagram import plot_phase_diagram

    axes = AXES + ["sampling.cfg_scale"]
    rows = frame(*(chain(r, s, [10, 12, 30] if r else [10, 11, 12], cfg_scale=c)
                   for r in (0.0, 1.0) for s in (0, 1) for c in (1.5, 3.0)),
                 chain(1.0, 2, [10, 12, math.nan], statuses=["ok", "ok", "diverged"], cfg_scale=1.5))
    rows = rows.rename(columns={"cfg_scale": "sampling.cfg_scale"})
    ttc = time_to_collapse(rows, FID_DOUBLES, 2, axes)
    summary = summarize(ttc, axes)
    for path in [plot_phase_diagram(ttc, summary, axes, 2, FID_DOUBLES, tmp_path / "phase.png"),
                 plot_metric_curves(rows, axes, "fid", tmp_path / "fid.png", FID_DOUBLES)]:
        assert path.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- reference: control


CONTROL = CollapseConfig(metric="fid", threshold=2.0, reference="control")


def test_control_reference_discounts_the_drift_of_real_only_finetuning():
    # the ratio-0 control drifts 10 -> 16 -> 22; the ratio-0.5 chain follows it at +20 %: against
    # generation 0 it "collapses" at 2 (22 >= 20), against the control it never does (26.4 < 44)
    control = chain(0.0, 0, [10, 16, 22])
    drifting = chain(0.5, 0, [10, 19.2, 26.4])
    damaged = chain(1.0, 0, [10, 33, 50])  # twice the control at generation 1
    rows = frame(control, drifting, damaged)
    own = time_to_collapse(rows, FID_DOUBLES, 2, AXES).set_index("ratio")
    vs_control = time_to_collapse(rows, CONTROL, 2, AXES).set_index("ratio")
    assert own.loc[0.5, "collapsed"] and own.loc[0.5, "time_to_collapse"] == 2
    assert not vs_control.loc[0.5, "collapsed"] and vs_control.loc[0.5, "complete"]
    assert vs_control.loc[1.0, "collapsed"] and vs_control.loc[1.0, "time_to_collapse"] == 1
    assert not vs_control.loc[0.0, "collapsed"]  # the control never collapses against itself


def test_control_reference_pairs_by_seed_and_series_and_censors_without_a_control():
    rows = frame(chain(0.0, 0, [10, 10, 10]), chain(0.0, 1, [10, 40, 40]),
                 chain(1.0, 0, [10, 25, 25]), chain(1.0, 1, [10, 25, 25]),
                 chain(0.0, 0, [10, 10], "accumulate"), chain(1.0, 0, [10, 25, 25], "accumulate"))
    t = time_to_collapse(rows, CONTROL, 2, AXES).set_index("chain_id")
    assert t.loc["none-r1.0-s0", "collapsed"]  # 25 >= 2 x 10 of seed 0's control
    assert not t.loc["none-r1.0-s1", "collapsed"]  # 25 < 2 x 40 of seed 1's control
    # accumulate's control stopped at generation 1: its chain is judged up to there, then censored
    assert t.loc["accumulate-r1.0-s0", "collapsed"] and t.loc["accumulate-r1.0-s0", "time_to_collapse"] == 1
    rows = frame(chain(0.0, 0, [10, 10]), chain(1.0, 0, [10, 11, 25]))
    t = time_to_collapse(rows, CONTROL, 2, AXES).set_index("ratio")
    assert not t.loc[1.0, "collapsed"] and not t.loc[1.0, "complete"] and t.loc[1.0, "last_generation"] == 1


@pytest.mark.parametrize("values, reference, word", [
    ([0.0, 0.0, 0.0], "generation0", "generation 0"),
    ([-1e-4, 0.1, 0.2], "generation0", "generation 0"),
    ([math.inf, 1, 1], "generation0", "generation 0"),
    ([0.0, 0.0, 0.0], "control", "control chains"),
])
def test_relative_criterion_on_a_zero_or_infinite_reference_is_refused(values, reference, word):
    rows = frame(chain(0.0, 0, values), chain(1.0, 0, [0.5, 1.0, 2.0])).rename(columns={"fid": "kid"})
    criterion = CollapseConfig(metric="kid", mode="relative", threshold=2.0, direction="up", reference=reference)
    with pytest.raises(ValueError, match=rf"kid is .* {word}.*absolute threshold"):
        time_to_collapse(rows, criterion, 2, AXES)
    absolute = CollapseConfig(metric="kid", mode="absolute", threshold=1.0, direction="up")
    assert len(time_to_collapse(rows, absolute, 2, AXES)) == 2  # an absolute one is fine
