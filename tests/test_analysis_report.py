"""build_report and summary_text on run directories written the way a sweep writes them."""

import base64
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from autophagy import grid, rows, sample_strips, sweepfile
from autophagy.analysis.report import build_report, summary_text

G = 4


def make_run(tmp_path, write=True, skip=(), stop_early=None, **collapse):
    """A gmm sweep 3 ratios x 2 seeds x 2 mitigations; under `none`, chains with ratio >= 0.5 see
    kl rise 0.5 per generation from 0.1 (kl >= 1 from generation 2); everything else stays at 0.1.
    Chains are named `none/1.0/s0` here: `skip` are left unstarted, `stop_early` maps a name to
    the last generation written. Returns (config, {name: chain_id})."""
    cfg = sweepfile.from_dict({
        "name": "t", "backend": "gmm", "generations": G, "images_per_generation": 10,
        "grid": {"ratio": [0.0, 0.5, 1.0], "seed": [0, 1], "mitigation": ["none", "accumulate"]},
        "collapse": {"metric": "kl", "mode": "absolute", "threshold": 1.0, "direction": "up", **collapse}})
    sweepfile.dump(cfg, tmp_path / "config.yaml")
    schema = rows.schema(cfg)
    ids = {f"{c.mitigation}/{c.ratio}/s{c.seed}": c.chain_id for c in grid.cells(cfg)}
    for name, cell in zip(ids, grid.cells(cfg)) if write else []:
        if name in skip:
            continue
        rising = cell.mitigation == "none" and cell.ratio >= 0.5
        for g in range((stop_early or {}).get(name, G) + 1):
            rows.write_row(tmp_path / "metrics", {
                **cell.to_dict(), "generation": g, "status": "ok", "n_real": 5, "n_synthetic": 5,
                "train_loss": 1.0, "kl": 0.1 + (0.5 * g if rising else 0.0), "variance": 1.0 - 0.1 * g}, schema)
    return cfg, ids


def test_report_on_a_partial_sweep(tmp_path):
    _, ids = make_run(tmp_path, skip=["accumulate/1.0/s1"], stop_early={"none/0.0/s1": 1})
    paths = build_report(tmp_path)

    for name in ["time_to_collapse", "summary", "thresholds", "survival", "phase_diagram", "ttc_heatmap",
                 "survival_plot", "heatmap_kl", "metric_kl", "metric_variance", "report"]:
        assert paths[name].is_file() and paths[name].stat().st_size > 0, name
    assert "metric_loglik" not in paths  # never written: nothing to plot

    ttc = pd.read_csv(paths["time_to_collapse"]).set_index("chain_id")
    assert list(ttc.columns[:4]) == ["ratio", "seed", "mitigation", "time_to_collapse"]
    assert {"censored", "collapsed", "last_generation", "complete", "diverged"} <= set(ttc.columns)
    assert len(ttc) == 11  # 12 cells, one not started
    running = ttc.loc[ids["none/0.0/s1"]]
    assert (running.time_to_collapse, running.censored, running.complete) == (1, True, False)
    assert ttc.loc[ids["none/1.0/s0"], "time_to_collapse"] == 2 and ttc.loc[ids["none/1.0/s0"], "collapsed"]
    assert ttc.loc[ids["accumulate/0.5/s0"], "time_to_collapse"] == G and ttc.loc[ids["accumulate/0.5/s0"], "censored"]

    summary = pd.read_csv(paths["summary"])
    assert list(summary.columns[:2]) == ["ratio", "mitigation"] and len(summary) == 6
    missing = summary[(summary.ratio == 1.0) & (summary.mitigation == "accumulate")].iloc[0]
    assert (missing.n_chains, missing.n_expected) == (1, 2)

    thresholds = pd.read_csv(paths["thresholds"]).set_index("mitigation")
    assert {"threshold", "ci_low", "ci_high", "flag", "text"} <= set(thresholds.columns)
    assert 0.0 < thresholds.loc["none", "threshold"] < 0.5
    assert thresholds.loc["accumulate", "flag"] == "none_collapsed"

    html = paths["report"].read_text(encoding="utf-8")
    assert paths["report"] == tmp_path / "report.html"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) >= 6 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "11 of 12 started" in html and "partial sweep" in html and "Collapse threshold" in html
    assert "kl&gt;=1" in html and "images_per_generation: 10" in html  # criterion and config shown


def test_report_on_an_empty_sweep(tmp_path):
    make_run(tmp_path, write=False)
    paths = build_report(tmp_path)
    html = paths["report"].read_text(encoding="utf-8")
    assert "No rows yet" in html and "12 chains" in html
    assert "phase_diagram" not in paths
    ttc = pd.read_csv(paths["time_to_collapse"])
    assert ttc.empty and {"chain_id", "ratio", "seed", "mitigation", "time_to_collapse", "censored"} <= set(ttc.columns)
    assert pd.read_csv(paths["summary"])["n_chains"].eq(0).all()  # every cell listed, none started
    assert "no rows yet (0 of 12 chains started)" in summary_text(tmp_path)


def test_summary_text_marks_censored_medians(tmp_path):
    make_run(tmp_path)
    text = summary_text(tmp_path)
    lines = text.splitlines()
    assert lines[0].startswith("Which mitigation holds collapse off longest? no series is told apart from none")
    start = lines.index("collapse: kl>=1  (kl ≥ 1)")
    table = lines[start + 2:start + 6]
    assert table[0].split() == ["ratio", "accumulate", "none"]
    assert table[1].split() == ["0", f"{G}+", f"{G}+"]
    assert table[3].split() == ["1", f"{G}+", "2"]
    assert "model); exact 0.25, 95% in [" in text  # the headline is the model's, the exact one follows
    assert "exact 95% in [0, above the ratios swept] (no chain collapsed)" in text


def test_criterion_override_and_errors(tmp_path):
    make_run(tmp_path)
    paths = build_report(tmp_path, "kl>=3x", metrics=["kl"])  # 3 x 0.1: from generation 1
    ttc = pd.read_csv(paths["time_to_collapse"])
    assert ttc[(ttc.mitigation == "none") & (ttc.ratio == 1.0)]["time_to_collapse"].tolist() == [1, 1]
    assert "kl ≥ 3 × generation 0" in paths["report"].read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="unknown metric column 'fid'"):
        build_report(tmp_path, "fid>=2x")
    with pytest.raises(ValueError, match="unknown metric column"):
        build_report(tmp_path, metrics=["nope"])
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        build_report(tmp_path / "elsewhere")


def test_report_when_the_only_chain_failed_before_generation_zero(tmp_path):
    cfg, ids = make_run(tmp_path, write=False)
    rows.write_row(tmp_path / "metrics", {**grid.cells(cfg)[0].to_dict(), "generation": 0, "status": "failed",
                                          "error": "boom"}, rows.schema(cfg))
    assert "No rows yet" in build_report(tmp_path)["report"].read_text(encoding="utf-8")
    assert "no rows yet" in summary_text(tmp_path)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (`make test` installs it where it can)")
def test_report_renders_in_headless_chromium(tmp_path):
    """The self-contained page, sample grids included, opens in a real browser and its embedded
    figures decode: a broken image would leave only grey alt text, never coloured pixels."""
    _, ids = make_run(tmp_path)
    strip = np.random.default_rng(0).integers(0, 256, (4, 1, 8, 8), dtype=np.uint8)
    for chain_id in ids.values():
        for g in range(G + 1):
            sample_strips.write(tmp_path, chain_id, g, sample_strips.encode(strip))
    page = build_report(tmp_path)["report"]
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,6000", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 60).mean()
    assert coloured > 0.01, f"only {coloured:.2%} coloured pixels: the figures did not render"
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    assert "Samples, generation by generation" in dom and dom.count("<img") >= 6


def test_figures_drawn_in_forked_processes_are_the_files_drawn_in_turn(tmp_path):
    """report._draw: with two cores and no Ray client in the process, every figure is submitted to the
    pool of forked workers, and the PNGs are byte for byte those drawn one after another. In a
    fresh interpreter: this test process may hold a Ray client, which is exactly where no fork happens."""
    (tmp_path / "a").mkdir()
    make_run(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    code = f"""
import os, sys
from autophagy.analysis import report
seen = []
real = report.ProcessPoolExecutor
class Spy(real):
    def submit(self, *a, **k):
        seen.append(a[0].__name__)
        return super().submit(*a, **k)
report.ProcessPoolExecutor = Spy
os.sched_getaffinity = lambda pid: {{0, 1}}
forked = report.build_report({str(tmp_path / 'a')!r})
assert len(seen) == len([p for p in forked.values() if p.suffix == ".png" and p.name != "samples.png"]), seen
seen.clear()
os.sched_getaffinity = lambda pid: {{0}}
in_turn = report.build_report({str(tmp_path / 'b')!r})
assert not seen
pngs = [n for n, p in forked.items() if p.suffix == ".png"]
assert len(pngs) >= 5, pngs
for name in pngs:
    assert forked[name].read_bytes() == in_turn[name].read_bytes(), name
print("ok", len(pngs))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-3000:]
