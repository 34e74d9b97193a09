"""analysis/compare.py: the tests hold their level on null data, find a known effect, and say so."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from autophagy import cli
from autophagy.analysis import compare as C
from autophagy.analysis.time_to_collapse import time_to_collapse
from autophagy.config import CollapseConfig
from simulated_chains import relabelled_null, simulate

FID = CollapseConfig(metric="fid", mode="relative", threshold=2.0, direction="up")
AXES = ["ratio", "seed", "mitigation"]
RATIOS = [0.0, 0.25, 0.5, 0.75, 1.0]
G = 6


def _compare(rows, baseline="none"):
    return C.compare(rows, time_to_collapse(rows, FID, G, AXES), AXES, FID, G, baseline=baseline)


def test_signflip_pvalue_is_exact():
    assert C.signflip_pvalue([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)  # all-plus and all-minus
    assert C.signflip_pvalue([1.0, -1.0]) == 1.0
    assert C.signflip_pvalue([0.0, 0.0]) == 1.0
    # against a brute-force enumeration on unequal parts
    parts = np.array([0.3, -1.2, 2.0, 0.7, 0.1])
    signs = np.array(np.meshgrid(*[[-1, 1]] * 5)).reshape(5, -1).T
    want = np.mean(np.abs(signs @ parts) >= abs(parts.sum()) - 1e-12)
    assert C.signflip_pvalue(parts) == pytest.approx(want)


def test_mean_test_is_scipys_sign_flip_test():
    d = np.array([0.4, -1.1, 2.3, 0.9, 1.7, -0.2, 0.8])
    for shift in (0.0, 0.5, -0.3):
        want = stats.permutation_test((d - shift,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                      alternative="two-sided").pvalue
        assert C.mean_test(d, shift) == pytest.approx(want)


def test_wilcoxon_is_scipys_signed_rank_permutation_test():
    rng = np.random.default_rng(1)
    for n in (2, 3, 5, 8, 12):  # ties and zeros included: integer differences
        for _ in range(4):
            d = rng.integers(-3, 4, size=n).astype(float)
            if not d.any():
                continue
            want = stats.wilcoxon(d, method=stats.PermutationMethod(n_resamples=10_000)).pvalue  # exact: 2^n <= 10,000
            assert C._wilcoxon(d) == pytest.approx(want)
    assert C._wilcoxon(np.zeros(3)) == 1.0 and np.isnan(C._wilcoxon(np.array([np.nan])))


def test_mean_interval_inverts_the_test_and_is_open_with_few_seeds():
    d = np.array([-3.0, -2.5, -4.0, -1.0, -3.5, -2.0, -2.8])
    m = C.mean_difference(d)
    assert m["p"] == pytest.approx(2 / 2 ** 7)
    assert m["low"] < m["estimate"] < m["high"] < 0
    assert C.mean_test(d, m["low"]) <= 0.05 < C.mean_test(d, m["low"] + 0.05)
    assert C.mean_test(d, m["high"]) <= 0.05 < C.mean_test(d, m["high"] - 0.05)
    few = C.mean_difference(d[:5])  # 2 / 2^5 > 0.05: no shift can be rejected
    assert (few["low"], few["high"]) == (-np.inf, np.inf)


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, np.nan]
    got = C.holm(p)
    assert got[:3] == pytest.approx([0.03, 0.06, 0.06]) and np.isnan(got[3])


@pytest.mark.parametrize("shared", [True, False])
def test_relabelled_chains_are_not_told_apart(shared):
    """Null sweeps: one mitigation's chains under two names. Seeds carry a strong effect on every
    ratio (shared=False: not even shared by the two names, as when other seeds are relabelled),
    so testing (seed, ratio) pairs as independent would reject far more than 5 %; the seed-level
    test must not. 60 seeded sweeps at 7 seeds (the fewest that can reject after Holm): at most
    6 verdicts (5 % + 2 standard errors), for the time and for the metric."""
    rng = np.random.default_rng(7 if shared else 8)
    verdicts = metric_verdicts = small_p = 0
    for _ in range(60):
        if shared:
            rows = simulate(RATIOS, range(7), {"none": 0.0, "other": 0.0}, G, rng, seed_sd=0.5)
        else:
            rows = relabelled_null(RATIOS, 7, G, rng, seed_sd=0.5)
        c = _compare(rows).iloc[0]
        verdicts += c.verdict != "not told apart"
        metric_verdicts += c.metric_verdict != "not told apart"
        small_p += c.p_value < 0.05
    assert verdicts <= 6 and metric_verdicts <= 6 and small_p <= 6, (verdicts, metric_verdicts, small_p)


def test_a_known_effect_is_found_with_its_direction_and_size():
    rows = simulate(RATIOS, range(8), {"none": 0.0, "acc": 0.3}, G, np.random.default_rng(3))
    c = _compare(rows).iloc[0]
    assert c.series == "acc" and c.n_pairs == 40 and c.n_seeds == 8
    assert c.verdict == "later" and c.metric_verdict == "better", c.to_dict()
    assert c.hazard_ratio < c.hr_high < 1 and c.threshold_shift > c.shift_low > 0
    assert c.delta_high < 0 and c.p_holm < 0.05 and c.metric_p_holm < 0.05
    # the other way round, the same answer mirrored
    back = _compare(rows, baseline="acc").iloc[0]
    assert back.series == "none" and back.verdict == "sooner" and back.metric_verdict == "worse"
    assert back.hazard_ratio == pytest.approx(1 / c.hazard_ratio, rel=0.05)


def test_two_seeds_never_give_a_verdict_and_say_how_many_would():
    rows = simulate(RATIOS, range(2), {"none": 0.0, "acc": 0.5}, G, np.random.default_rng(0))
    c = _compare(rows).iloc[0]
    assert c.p_value >= 0.5 and c.verdict == "not told apart" and c.metric_verdict == "not told apart"
    assert (c.delta_low, c.delta_high) == (-np.inf, np.inf)
    assert c.hr_low <= 1 <= c.hr_high  # the interval never says more than the valid test
    assert c.seeds_needed >= 7  # 2 / 2^k < 0.05 / 2 claims needs k >= 7
    assert "2 seeds can give p >= 0.5 at best" in C.describe(c)


def test_twins_are_no_evidence():
    """A chain that is another's rows (marked copy_of, or equal at every generation) is not a pair."""
    rows = simulate([0.0, 1.0], range(3), {"none": 0.0, "acc": 0.3}, G, np.random.default_rng(1))
    at0 = rows["ratio"] == 0
    twin = rows[at0 & (rows.mitigation == "none")].assign(mitigation="acc")
    twin["chain_id"] = twin["chain_id"].str.replace("none", "acc")
    rows = pd.concat([rows[~(at0 & (rows.mitigation == "acc"))], twin], ignore_index=True)
    assert _compare(rows).iloc[0].n_pairs == 3  # ratio 1 only
    marked = rows.assign(copy_of="")
    marked.loc[marked.chain_id.str.startswith("acc-r1"), "fid"] *= 1.001  # no longer equal, but marked
    marked.loc[marked.chain_id.str.startswith("acc-r1"), "copy_of"] = marked.chain_id.str.replace("acc", "none")
    assert _compare(marked).iloc[0].n_pairs == 0  # ratio 0 equal, ratio 1 marked copies


def test_report_and_cli_lead_with_the_answer(tmp_path, capsys):
    from test_analysis_report import make_run
    from autophagy.analysis.report import build_report, summary_text

    make_run(tmp_path)
    paths = build_report(tmp_path)
    table = pd.read_csv(paths["comparisons"])
    assert list(table.columns[:15]) == ["series", "baseline", "n_pairs", "hazard_ratio", "hr_low", "hr_high",
                                        "threshold_shift", "shift_low", "shift_high", "metric_delta", "delta_low",
                                        "delta_high", "p_value", "p_holm", "verdict"]
    row = table.iloc[0]
    assert (row.series, row.baseline, row.n_pairs, row.verdict) == ("accumulate", "none", 4, "not told apart")
    assert row.metric_delta < 0  # none's kl rises at ratios 0.5 and 1, accumulate's does not
    assert summary_text(tmp_path).startswith("Which mitigation holds collapse off longest?")
    assert "Which mitigation holds collapse off longest?" in paths["report"].read_text()
    assert cli.main(["compare", str(tmp_path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got[0]["series"] == "accumulate" and got[0]["verdict"] == "not told apart"
    assert cli.main(["compare", str(tmp_path), "--baseline", "accumulate"]) == 0
    assert "none vs accumulate" in capsys.readouterr().out
    assert cli.main(["compare", str(tmp_path / "nope")]) == 2
