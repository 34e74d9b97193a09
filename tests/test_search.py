"""search.method: threshold — the Tune searcher that refines each series' ratios, through Ray."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from test_faults import _plan, held, wait_until

from autophagy import config, rows, sweepfile
from autophagy.analysis.report import build_report, summary_text
from autophagy.counts import round_half_up
from autophagy.orchestrator import search, sweep

ROOT = Path(__file__).resolve().parents[1]
# gmm chains of 40 points: ratio 1 collapses (kl >= 0.5) within a few generations, ratio 0 rarely
SETS = {"generations": 4, "grid.ratio": [0.0, 0.5, 1.0], "grid.seed": [0, 1, 2], "grid.mitigation": ["none", "accumulate"],
        "search.method": "threshold", "search.target_width": 0.1, "search.max_chains": 30, "search.per_round": 2}


def _cfg(**over):
    return sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {**SETS, **over})


@pytest.fixture(scope="module")
def searched(ray_local, tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "run"
    sweep.run(_cfg(), out, progress=False)
    return out


def test_rounds_add_new_training_mixes_with_every_seed_or_new_seeds_at_ratios_run(searched):
    cfg = sweepfile.load(searched / "config.yaml")
    log = json.loads((searched / "search.json").read_text())
    got = rows.read_rows(searched)
    assert not got.duplicated(rows.KEY).any()
    assert set(got["chain_id"]) == set(log["chains"])
    assert len(log["chains"]) <= cfg.search.max_chains
    assert len(got) == len(log["chains"]) * (cfg.generations + 1)  # every chain ran to the end
    later = [r for r in log["rounds"] if r["round"] > 0 and r["ratios"]]
    assert later, "the search never refined"
    for series in ("none", "accumulate"):
        mine = [rnd for rnd in log["rounds"] if rnd["series"] == series]
        ratios = [r for rnd in mine if not rnd.get("seeds") for r in rnd["ratios"]]
        counts = [round_half_up(r * cfg.images_per_generation) for r in ratios]
        assert len(counts) == len(set(counts)), f"{series}: a ratio repeated a training mix: {ratios}"
        theirs = got[got["mitigation"] == series]
        for rnd in mine:
            if rnd["round"] == 0 or not rnd["ratios"]:
                continue
            if rnd.get("seeds"):  # new seeds beyond the grid's, at ratios already run before
                earlier = {r for e in mine if e["round"] < rnd["round"] for r in e["ratios"]}
                assert min(rnd["seeds"]) > max(cfg.grid["seed"]) and set(rnd["ratios"]) <= earlier
                assert rnd["chains"] == len(rnd["seeds"]) * len(rnd["ratios"])
            else:  # new ratios, each with every grid seed
                assert rnd["chains"] == 3 * len(rnd["ratios"])
                for r in rnd["ratios"]:
                    assert set(cfg.grid["seed"]) <= set(theirs[theirs["ratio"] == r]["seed"])
    for rnd in later:
        assert "target 0.1" in rnd["why"]


def test_decide_adds_seeds_once_two_ratios_run_lie_inside_the_model_interval():
    from autophagy.analysis.refine import decide
    ran = [0.0, 0.25, 0.5, 0.75, 1.0]
    model = {"threshold": 0.45, "ci_low": 0.0, "ci_high": 1.0, "model_low": 0.2, "model_high": 0.6, "text": "0.45"}
    got = decide(model, ran, 128, 0.1, 2, room=100, grid_seeds=[0, 1], seeds_run=[0, 1, 2])
    assert got.seeds and min(got.seeds) == 3 and got.ratios == [0.25, 0.75]  # about 0.5 apart around 0.45
    assert len(got.seeds) <= 3  # at most doubling the seeds run
    # each seed costs 2 chains: a budget of 3 chains pays for one
    assert len(decide(model, ran, 128, 0.1, 2, room=3, grid_seeds=[0, 1], seeds_run=[0, 1, 2]).seeds) == 1
    # the model's own estimate places them, not the exact interval's (0.9 here)
    assert decide({**model, "threshold": 0.9, "threshold_model": 0.45}, ran, 128, 0.1, 2, room=100,
                  seeds_run=[0, 1, 2]).ratios == [0.25, 0.75]
    assert "budget" in decide(model, ran, 128, 0.1, 2, room=1, grid_seeds=[0, 1]).why
    # one ratio run inside: new ratios with the grid's seeds, as the exact interval always gets
    one = {**model, "model_low": 0.4, "model_high": 0.6}
    got = decide(one, ran, 128, 0.1, 2, room=100, grid_seeds=[0, 1])
    assert not got.seeds and got.ratios and all(0.4 <= r <= 0.6 and r not in ran for r in got.ratios)
    exact = {k: v for k, v in model.items() if not k.startswith("model")}
    exact.update(ci_low=0.3, ci_high=0.6)
    got = decide(exact, ran, 128, 0.1, 2, room=100, grid_seeds=[0, 1])
    assert not got.seeds and got.ratios
    narrow = {**model, "model_low": 0.44, "model_high": 0.5}
    assert decide(narrow, ran, 128, 0.1, 2, room=100, seeds_run=range(8)).why.startswith("done")
    # under the target with 3 seeds: topped up to MIN_SEEDS (8) before it may stop
    got = decide(narrow, ran, 128, 0.1, 2, room=100, grid_seeds=[0, 1], seeds_run=[0, 1, 2])
    assert got.seeds == [3, 4, 5, 6, 7] and "8" in got.why
    assert decide(narrow, ran, 128, 0.1, 2, room=1, seeds_run=[0, 1, 2]).why.startswith("done")


def test_report_of_a_search_says_what_each_round_added(searched):
    paths = build_report(searched, metrics=["kl"])
    html = paths["report"].read_text()
    assert "Adaptive refinement" in html and "round" in html
    text = summary_text(searched)
    assert "adaptive refinement:" in text and "round 1:" in text
    boundary = pd.read_csv(paths["phase_boundary"])
    assert sorted(boundary["horizon"].unique()) == [1, 2, 3, 4]


def test_search_refuses_a_budget_smaller_than_its_grid():
    with pytest.raises(config.ConfigError, match="search.max_chains: 5 is fewer than the 18 chains"):
        _cfg(**{"search.max_chains": 5})


def test_search_sigkilled_driver_resumes_where_it_stood(searched, _faults, tmp_path):
    """A real `autophagy run` of the same search, SIGKILLed while one chain of round 0 is held before
    its last generation and the others have finished, then `--resume`d: the same chains as the
    uninterrupted search, every row once, no finished chain run again."""
    out = tmp_path / "run"
    sets = [arg for k, v in SETS.items() for arg in ("--set", f"{k}={json.dumps(v)}")]
    cmd = [sys.executable, "-m", "autophagy", "run", str(ROOT / "sweeps" / "smoke.yaml"), "--out", str(out), *sets]
    env = {**os.environ, "RAY_ADDRESS": ""}
    round0 = search.round_zero(_cfg())
    _plan(_faults, [{"kind": "hold", "chain": round0[0].chain_id, "generation": 4}])
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def others_finished():
        got = rows.read_rows(out)
        ids = {c.chain_id for c in round0[1:]}
        return len(got) and ids <= set(got[got.generation == 4].chain_id)

    try:
        wait_until(held(_faults, 0).exists, "held chain", driver)
        wait_until(others_finished, "round 0's other chains finished", driver)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    before = rows.read_rows(out)
    n_chains = len(json.loads((searched / "search.json").read_text())["chains"])
    assert len(before) < n_chains * 5, "not killed mid-search"  # the held chain's last row is missing
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    after, want = rows.read_rows(out), rows.read_rows(searched)
    assert not after.duplicated(rows.KEY).any()
    assert sorted(after["chain_id"].unique()) == sorted(want["chain_id"].unique())
    cols = rows.KEY + ["ratio", "seed", "mitigation", "kl", "variance", "n_synthetic"]
    pd.testing.assert_frame_equal(after[cols], want[cols], check_dtype=False)
    # a chain whose every generation was written before the kill was not run again
    finished = before.groupby("chain_id")["generation"].max() == 4
    kept = before[before["chain_id"].isin(finished[finished].index)].set_index(rows.KEY)["finished_at"]
    again = after.set_index(rows.KEY).loc[kept.index, "finished_at"]
    assert (kept == again).all()


def test_target_compare_adds_whole_seeds_at_ratios_already_run(ray_local, tmp_path):
    """search.target: compare on gmm: round 0 is 2 ratios x 2 seeds x 2 series; round 1 adds new
    seeds (2, 3, ...) for both series at ratios already run, so every pair stays paired by seed, as
    many as the budget pays (4 seeds cannot make a sign-flip test decisive: 2 / 2^4 > 5 %)."""
    cfg = _cfg(**{"generations": 3, "grid.ratio": [0.5, 1.0], "grid.seed": [0, 1], "search.target": "compare",
                  "search.max_chains": 16, "analysis.baseline": "none"})
    out = tmp_path / "run"
    sweep.run(cfg, out, progress=False)
    log = json.loads((out / "search.json").read_text())
    got = rows.read_rows(out)
    assert set(got["chain_id"]) == set(log["chains"]) and len(log["chains"]) == 16
    cells = got.drop_duplicates("chain_id")
    assert sorted(cells["seed"].unique()) == [0, 1, 2, 3]
    assert set(cells["ratio"]) == {0.5, 1.0}  # no new ratio, only new seeds
    per_series = cells.groupby("mitigation").apply(lambda c: sorted(zip(c["seed"], c["ratio"])))
    assert per_series["none"] == per_series["accumulate"]  # paired: the same (seed, ratio) cells
    assert any("not told apart" in r["why"] for r in log["rounds"] if r["round"] > 0 and r["chains"])


def test_compare_round_adds_the_seeds_that_could_decide_or_stops():
    from autophagy.analysis.refine import compare_round, seeds_to_decide

    assert [seeds_to_decide(c) for c in (1, 2, 4, 13)] == [6, 7, 8, 10]
    open_ = pd.DataFrame({"series": ["accumulate"], "verdict": ["not told apart"], "metric_verdict": ["better"]})
    diffs = pd.Series([0.0, 2.0, 0.5, 1.0], index=[0.0, 0.25, 0.5, 1.0])
    seeds, ratios, why = compare_round(open_, diffs, [0, 1], 2, room=40, n_series=2)
    assert (seeds, ratios) == ([2, 3, 4, 5, 6], [0.25, 1.0]) and "not told apart" in why  # 7 seeds for 2 claims
    assert compare_round(open_, diffs, [0, 1], 1, room=40, n_series=2)[1] == [0.25]
    assert compare_round(open_, diffs, [0, 1], 2, room=10, n_series=2)[0] == [2, 3]  # as far as the budget pays
    assert compare_round(open_, diffs, [0, 1], 2, room=10, n_series=2, must=(0.0,))[1] == [0.0, 0.25, 1.0]
    assert compare_round(open_, diffs, [0, 1], 2, room=3, n_series=2)[0] == []
    assert "budget spent" in compare_round(open_, diffs, [0, 1], 2, room=3, n_series=2)[2]
    assert compare_round(open_, diffs, list(range(9)), 1, room=40, n_series=2)[0] == [9]  # at least one
    told = open_.assign(verdict="later")
    assert compare_round(told, diffs, [0, 1], 2, room=10, n_series=2)[:2] == ([], [])
    twins_only = pd.Series([0.0, 0.0], index=[0.0, 1.0])  # nothing differs anywhere: take what there is
    assert compare_round(open_, twins_only, [0, 1], 1, room=40, n_series=2)[1] == [0.0]

