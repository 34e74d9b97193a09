"""autophagy.open and Run (api.py) on run directories written the way a sweep writes them: finished,
partial (a chain not started, one stopped early), and copied elsewhere; examples/explore_run.py on one."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import autophagy
from autophagy.analysis.report import build_report
from test_analysis_report import G, make_run

ROOT = Path(__file__).resolve().parents[1]


def test_a_finished_run_gives_what_the_report_writes(tmp_path):
    make_run(tmp_path)
    run = autophagy.open(tmp_path)
    assert isinstance(run, autophagy.Run) and run.config.generations == G
    assert len(run.rows) == 12 * (G + 1) and run.axes == ["ratio", "seed", "mitigation"]
    assert (run.chains["status"] == "done").all() and len(run.chains) == 12

    paths = build_report(tmp_path)
    on_disk = {name: pd.read_csv(paths[name]) for name in ["time_to_collapse", "thresholds", "comparisons"]}
    pd.testing.assert_frame_equal(run.time_to_collapse().reset_index(drop=True), on_disk["time_to_collapse"],
                                  check_dtype=False)
    pd.testing.assert_frame_equal(run.thresholds(), on_disk["thresholds"], check_dtype=False)
    got = run.compare(baseline="none")
    assert got["series"].tolist() == on_disk["comparisons"]["series"].tolist() == ["accumulate"]
    assert got["p_value"].tolist() == pytest.approx(on_disk["comparisons"]["p_value"].tolist())

    # kl rises 0.5 a generation from 0.1 under `none` at ratio >= 0.5: kl >= 2 first at generation 4
    late = run.time_to_collapse("kl>=2").set_index(["mitigation", "ratio"]).loc[("none", 1.0), "time_to_collapse"]
    assert late.tolist() == [4, 4]
    assert run.thresholds(horizon=1)["flag"].tolist() == ["none_collapsed", "none_collapsed"]


def test_figures_are_returned_not_written(tmp_path):
    make_run(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    run = autophagy.open(tmp_path)
    figures = [run.phase_diagram(), run.survival_plot(), run.metric_curves(), run.metric_curves("variance")]
    assert all(isinstance(f, Figure) and f.axes for f in figures)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    with pytest.raises(ValueError, match="unknown metric column 'fid'"):
        run.metric_curves("fid")


def test_a_partial_run_and_a_copied_one(tmp_path):
    (tmp_path / "a").mkdir()
    _, ids = make_run(tmp_path / "a", skip=["accumulate/1.0/s1"], stop_early={"none/0.0/s1": 1})
    run = autophagy.open(tmp_path / "a")
    chains = run.chains.set_index("chain_id")
    assert chains.loc[ids["accumulate/1.0/s1"], "status"] == "not started"
    assert (chains.loc[ids["none/0.0/s1"], ["status", "last_generation"]].tolist()) == ["running", 1]
    assert (chains["status"] == "done").sum() == 10
    assert len(run.time_to_collapse()) == 11

    # read on first need and kept: rows written after that appear on refresh()
    before = run.rows
    (tmp_path / "a" / "metrics" / f"{ids['none/0.0/s1']}.parquet").unlink()
    assert len(run.rows) == len(before) and len(run.chains) == 12
    assert len(run.refresh().rows) == len(before) - 2  # its generations 0 and 1
    assert run.chains.set_index("chain_id").loc[ids["none/0.0/s1"], "status"] == "not started"
    assert autophagy.open(tmp_path / "a").chains.equals(run.chains)  # the six-column read agrees

    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")  # nothing of the original left: the copy stands alone
    copied = autophagy.open(tmp_path / "b")
    pd.testing.assert_frame_equal(copied.chains, run.chains)
    pd.testing.assert_frame_equal(copied.thresholds(), run.thresholds())


def test_opening_what_is_no_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: not a sweep directory"):
        autophagy.open(tmp_path)


def test_import_autophagy_stays_light():
    code = ("import sys, autophagy; heavy = {'ray', 'pandas', 'matplotlib'} & set(sys.modules); "
            "assert not heavy, heavy; autophagy.open; assert 'ray' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_opening_a_run_and_counting_its_chains_loads_no_analysis_or_figures(tmp_path):
    """`autophagy.open(DIR).chains` and `autophagy status` import neither the analysis (statsmodels,
    scipy) nor matplotlib: on 2,050 chains that is a second of their two (BENCHMARKS.md)."""
    make_run(tmp_path)
    code = ("import sys, autophagy; from autophagy import cli, status; run = autophagy.open(sys.argv[1]); "
            "assert (run.chains['status'] == 'done').all(); assert status.status(run.path)['state'] == 'finished'; "
            "heavy = {m.split('.')[0] for m in sys.modules} & {'ray', 'matplotlib', 'statsmodels', 'scipy', 'torch'}; "
            "assert not heavy, heavy; run.thresholds(); assert 'statsmodels' in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_example_runs_on_a_finished_run(tmp_path):
    (tmp_path / "run").mkdir()
    make_run(tmp_path / "run")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "explore_run.py"), str(tmp_path / "run"),
                           str(tmp_path / "figures")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["metric_kl.png", "phase_diagram.png",
                                                                        "survival.png"]
    assert "accumulate" in done.stdout and "none" in done.stdout


def test_metric_curves_of_many_chains_draw_bands_and_say_what_they_are():
    from matplotlib.collections import LineCollection, PolyCollection

    from autophagy.analysis.plots.metric_curves import MANY_CHAINS, metric_curves_figure
    from simulated_chains import simulate

    rng = np.random.default_rng(0)
    axes = ["ratio", "seed", "mitigation"]
    few = simulate([0.0, 1.0], range(2), {"none": 0.0}, 3, rng)
    many = simulate([0.0, 1.0], range(MANY_CHAINS // 2 + 1), {"none": 0.0}, 3, rng)
    (ax_few,) = metric_curves_figure(few, axes, "fid").axes
    ax_many = metric_curves_figure(many, axes, "fid").axes[0]
    assert any(isinstance(c, LineCollection) for c in ax_few.collections)  # every chain drawn
    assert not any(isinstance(c, LineCollection) for c in ax_many.collections)
    bands = [c for c in ax_many.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1 + 1  # every ratio's band in one collection, and the legend's proxy
    assert len(bands[0].get_paths()) == 2  # a band per ratio
    assert "band: IQR over seeds" in [t.get_text() for t in ax_many.get_legend().get_texts()]
    # the band of ratio 1.0 at the last generation spans the middle half of its chains' values
    last = many[(many.ratio == 1.0) & (many.generation == 3)]["fid"]
    top = bands[0].get_paths()[1].vertices[:, 1]  # ratios in order
    assert top.max() == pytest.approx(last.quantile(0.75)) and top.min() <= last.quantile(0.25)
