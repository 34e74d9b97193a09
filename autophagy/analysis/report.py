"""The analysis of a run directory, as files: `build_report(DIR)`, and a text table for the console.

Reads DIR/config.yaml and DIR/metrics (also mid-sweep) and writes

    DIR/analysis/time_to_collapse.csv   one row per chain (axes, time_to_collapse, censored, ...)
    DIR/analysis/summary.csv            one row per cell (every axis but seed), missing cells too
    DIR/analysis/thresholds.csv         collapse threshold per series (mitigation x extra axes)
    DIR/analysis/phase_boundary.csv     the threshold at every horizon t = 1..G (column horizon)
    DIR/analysis/survival.csv           Kaplan–Meier curve per cell
    DIR/analysis/*.png                  phase diagram, heatmaps, survival, metric curves, sample grids
    DIR/report.html                     all of it in one self-contained page

The collapse criterion is the sweep's own (`collapse:` in the config) unless one is given, as a
CollapseConfig or as text (see criterion.py). Nothing here is random except plot jitter, seeded,
so rebuilding a report over the same rows gives the same files.
A sweep run with `search.method: threshold` also has DIR/search.json (orchestrator/search.py):
the ratios each round added to each series, and why; the report shows it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from autophagy import config
from autophagy.analysis import report_html as H
from autophagy.analysis.axes import label, metric_columns
from autophagy.analysis.compare import answer, compare
from autophagy.analysis.criterion import describe_criterion, format_criterion, parse_criterion
from autophagy.analysis.plots.image_grids import plot_image_grids
from autophagy.analysis.plots.heatmaps import plot_metric_heatmap, plot_ttc_heatmap
from autophagy.analysis.plots.metric_curves import plot_metric_curves
from autophagy.analysis.plots.phase_diagram import plot_phase_diagram
from autophagy.analysis.plots.survival_curves import plot_survival
from autophagy.analysis.phase_boundary import phase_boundary
from autophagy.analysis.refine import MIN_SEEDS, SEED_SPAN
from autophagy.analysis.summary import summarize, summary_table_text
from autophagy.analysis.survival import survival_table
from autophagy.analysis.threshold import COLUMNS as THRESHOLD_COLUMNS
from autophagy.analysis.margin import chain_margins
from autophagy.analysis.threshold import collapse_thresholds
from autophagy.analysis.time_to_collapse import time_to_collapse
from autophagy.config import CollapseConfig
from autophagy.run_dir import load_run


def resolve_criterion(criterion: CollapseConfig | str | None, cfg: config.SweepConfig,
                      rows: pd.DataFrame) -> CollapseConfig:
    """The criterion to apply: given text or config, else the sweep's; checked against the rows."""
    axes = list(cfg.grid)
    metrics = metric_columns(rows, axes) if len(rows) else None  # no rows: nothing to check against
    if isinstance(criterion, str):
        return parse_criterion(criterion, metrics)
    chosen = cfg.collapse if criterion is None else criterion
    if metrics is not None and chosen.metric not in metrics:
        whose = "the sweep's collapse criterion" if criterion is None else "collapse criterion"
        raise ValueError(f"{whose}: unknown metric column {chosen.metric!r} (the rows have: {', '.join(metrics)})")
    return chosen


@dataclass(frozen=True)
class Analysis:
    """What a report and its console summary are made of, computed once from one read of the rows."""
    criterion: CollapseConfig
    ttc: pd.DataFrame  # time_to_collapse: one row per chain
    summary: pd.DataFrame  # one row per cell, missing cells too (with intervals)
    margins: pd.DataFrame | None  # margin.chain_margins, None without rows
    thresholds: pd.DataFrame
    boundary: pd.DataFrame
    comparisons: pd.DataFrame


def analyse(cfg: config.SweepConfig, rows: pd.DataFrame, criterion: CollapseConfig | str | None = None,
            search: dict | None = None) -> Analysis:
    """Every table of a report (see the module docstring) under `criterion` (default the sweep's)."""
    crit = resolve_criterion(criterion, cfg, rows)
    axes, G = list(cfg.grid), cfg.generations
    ttc = time_to_collapse(rows, crit, G, axes)
    margins = chain_margins(rows, crit, G, axes) if len(rows) else None
    thresholds = collapse_thresholds(ttc, axes, horizon=G, margins=margins)
    return Analysis(criterion=crit, ttc=ttc, summary=summarize(ttc, axes, grid=cfg.grid if search is None else None),
                    margins=margins, thresholds=thresholds,
                    boundary=phase_boundary(ttc, axes, G, margins=margins, at_last=thresholds),
                    comparisons=comparisons_of(cfg, rows, ttc, crit))


def build_report(out_dir, criterion: CollapseConfig | str | None = None, *, seed: int = 0,
                 metrics: list[str] | None = None, rows: pd.DataFrame | None = None,
                 analysis: Analysis | None = None) -> dict[str, Path]:
    """Write the analysis of DIR (see the module docstring); returns {name: path} of what it wrote.
    `metrics`: which metrics get a curves figure (default: every metric column with any value;
    each figure costs about a second on a laptop core). `rows`: DIR's rows if already read (`load_run`);
    `analysis`: `analyse` of those rows under `criterion`, if already made."""
    out_dir = Path(out_dir)
    cfg, rows = load_run(out_dir, rows)
    axes, G = list(cfg.grid), cfg.generations
    unknown = sorted(set(metrics or []) - set(metric_columns(rows, axes))) if len(rows) else []
    if unknown:
        raise ValueError(f"build_report: unknown metric column(s) {unknown} "
                         f"(the rows have: {', '.join(metric_columns(rows, axes))})")
    dest = out_dir / "analysis"
    dest.mkdir(parents=True, exist_ok=True)
    n_cells = _n_cells(cfg.grid)

    search = read_search_log(out_dir)
    if search is not None:
        n_cells = len(search["chains"])
    a = analyse(cfg, rows, criterion, search) if analysis is None else analysis
    crit, ttc, summary, thresholds = a.criterion, a.ttc, a.summary, a.thresholds
    paths = {}
    for name, table in [("time_to_collapse", ttc), ("summary", summary), ("thresholds", thresholds),
                        ("comparisons", a.comparisons),
                        ("phase_boundary", a.boundary), ("survival", survival_table(ttc, axes))]:
        paths[name] = dest / f"{name}.csv"
        table.to_csv(paths[name], index=False)

    if ttc.empty:  # no rows, or only chains that failed before finishing generation 0
        body = [H.paragraph(f"No rows yet: {out_dir / 'metrics'} holds no finished generation. "
                            f"The sweep has {n_cells} chains; rebuild this report once they have started.")]
    else:
        paths.update(_figures(rows, ttc, summary, a.boundary, axes, G, crit, dest, seed, metrics))
        if (grid_png := plot_image_grids(out_dir, ttc, axes, dest / "samples.png")) is not None:
            paths["samples"] = grid_png
        body = [_answer_section(a.comparisons, cfg)] + _body(rows, ttc, summary, thresholds, axes, crit, n_cells, paths)
        if search is not None:
            body.insert(2, H.section("Adaptive refinement (search.method: threshold)",
                                     H.paragraph(_search_note(cfg), "note"), H.table(search_table(search))))
    body.append(H.section("Configuration", H.paragraph(f"{out_dir / 'config.yaml'}", "note"),
                          H.preformatted(yaml.safe_dump(cfg.to_dict(), sort_keys=False))))
    paths["report"] = out_dir / "report.html"
    paths["report"].write_text(H.page(f"Sweep {cfg.name}: model collapse ({cfg.backend})",
                                      [_header(cfg, crit, ttc, n_cells)] + body), encoding="utf-8")
    return paths


def summary_text(out_dir, criterion: CollapseConfig | str | None = None, rows: pd.DataFrame | None = None,
                 analysis: Analysis | None = None) -> str:
    """A few lines for the console: the comparisons' answer, median generation of collapse per ratio x
    series, thresholds. `analysis`: the `analyse` build_report just used for the same rows and
    criterion, so that nothing is computed twice (the comparisons are most of a report's time)."""
    cfg, rows = load_run(Path(out_dir), rows)
    a = analyse(cfg, rows, criterion, read_search_log(Path(out_dir))) if analysis is None else analysis
    crit, ttc, thresholds, comparisons, axes = a.criterion, a.ttc, a.thresholds, a.comparisons, list(cfg.grid)
    if ttc.empty:
        return f"{out_dir}: no rows yet (0 of {_n_cells(cfg.grid)} chains started)"
    summary = summarize(ttc, axes, interval=False)
    lines = [answer(comparisons, cfg.analysis.baseline), "",
             f"collapse: {format_criterion(crit)}  ({describe_criterion(crit)})",
             f"median generation of collapse over seeds (N+ = none seen by N: censored; G = {cfg.generations})",
             summary_table_text(summary, axes),
             "collapse threshold (ratio where P(collapse by G) = 1/2), model-based 95% interval; exact cross-check:"]
    lines += [f"  {_series_name(r, thresholds.columns)}: {r['text']}" for _, r in thresholds.iterrows()]
    if (search := read_search_log(Path(out_dir))) is not None:
        lines.append(f"adaptive refinement: {len(search['chains'])} chains in {_n_rounds(search)} rounds "
                     f"(search.json)")
        lines += [f"  {r['series']} round {r['round']}: "
                  + (f"seeds {r['seeds']} at {r['ratios']}" if r.get("seeds") else f"{r['ratios']}") + f": {r['why']}"
                  for r in search["rounds"] if r["round"] > 0]
    return "\n".join(lines)


def comparisons_of(cfg: config.SweepConfig, rows: pd.DataFrame, ttc: pd.DataFrame, crit: CollapseConfig,
                   baseline: str | None = None, pairs: str | None = None) -> pd.DataFrame:
    """comparisons.csv (analysis/compare.py) under the sweep's analysis settings unless given."""
    return compare(rows, ttc, list(cfg.grid), crit, cfg.generations,
                   baseline=cfg.analysis.baseline if baseline is None else baseline,
                   pairs=cfg.analysis.pairs if pairs is None else pairs)


def read_search_log(out_dir: Path) -> dict | None:
    """DIR/search.json of a threshold search, or None for a grid sweep."""
    path = Path(out_dir) / "search.json"
    return json.loads(path.read_text()) if path.is_file() else None


def search_table(search: dict) -> pd.DataFrame:
    """One line per round: its ratios (new ones, or those its new seeds ran at) and its new seeds."""
    return pd.DataFrame([{"series": r["series"], "round": r["round"], "ratios": r["ratios"],
                          "seeds added": r.get("seeds", []), "chains": r["chains"], "why": r["why"]}
                         for r in search["rounds"]])


def _n_rounds(search: dict) -> int:
    return 1 + max((r["round"] for r in search["rounds"]), default=0)


def _search_note(cfg) -> str:
    s = cfg.search
    if s.target == "compare":
        return (f"Round 0 is the listed grid. Each later round adds, while a comparison with the baseline is "
                f"not told apart, whole new seeds for every series at once (pairs stay paired by seed), each "
                f"at the {s.per_round} ratios already run where the series differ most from the baseline; "
                f"at most {s.max_chains} chains in all.")
    return (f"Round 0 is the listed grid. Each later round adds, per series whose interval is still "
            f"{s.target_width:g} wide or more, up to {s.per_round} new ratios inside that interval (the "
            f"midpoints of its widest gaps, as new training mixes round(r·N)), each with every seed, or, "
            f"once two ratios already run lie inside the margin model's interval, new seeds at two "
            f"ratios already run about {SEED_SPAN:g} apart around the estimate (only more seeds narrow the "
            f"seed spread; a stop needs at least {MIN_SEEDS} seeds); at most {s.max_chains} chains in all.")


# ------------------------------------------------------------------------------- pieces


def _figures(rows, ttc, summary, boundary, axes, G, crit, dest: Path, seed: int, metrics) -> dict[str, Path]:
    jobs = {
        "phase_diagram": (plot_phase_diagram, (ttc, summary, axes, G, crit, dest / "phase_diagram.png"),
                          {"seed": seed, "boundary": boundary}),
        "ttc_heatmap": (plot_ttc_heatmap, (summary[summary["n_chains"] > 0], axes, G, crit, dest / "ttc_heatmap.png"), {}),
        "survival_plot": (plot_survival, (ttc, axes, G, crit, dest / "survival.png"), {}),
        f"heatmap_{crit.metric}": (plot_metric_heatmap, (rows, axes, crit.metric, dest / f"heatmap_{crit.metric}.png"), {}),
    }
    if metrics is None:
        metrics = [m for m in metric_columns(rows, axes) if rows[m].notna().any()]
    for metric in metrics:
        jobs[f"metric_{metric}"] = (plot_metric_curves, (rows, axes, metric, dest / f"metric_{metric}.png", crit), {})
    return dict(zip(jobs, _draw(list(jobs.values()))))


def _draw(jobs: list[tuple]) -> list:
    """Each (plot function, args, kwargs)'s result, in order. A report's figures are most of its time
    (0.3-0.4 s each, nearly all of it matplotlib's draw; 14 of them on a 2,050-chain sweep), and
    they are independent: on Linux with more than one core they are drawn in forked processes, one
    per core. Not where a Ray client lives in this process (the end of `autophagy run`, a test's
    cluster): gRPC's threads do not survive a fork, so there they are drawn in turn."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    ray_client = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    if cores < 2 or len(jobs) < 2 or ray_client or not sys.platform.startswith("linux"):
        return [function(*args, **kwargs) for function, args, kwargs in jobs]
    with ProcessPoolExecutor(min(cores, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(function, *args, **kwargs) for function, args, kwargs in jobs]
        return [f.result() for f in futures]


def _answer_section(comparisons: pd.DataFrame, cfg) -> str:
    lines = answer(comparisons, cfg.analysis.baseline).split("\n")
    note = ("Each series against the baseline on every chain, paired by seed and ratio. Time to collapse: a "
            "discrete-time hazard model (cloglog GLM with generation, ratio, series and seed terms); hazard ratio "
            "< 1 and a positive threshold shift mean later collapse. p comes from swapping the two series' labels "
            "seed by seed (exact, valid at any number of seeds; with k seeds p >= 2/2^k, so 2 seeds can never "
            "reach 5 %). The criterion's metric: the paired difference at the last generation, mean over seeds, "
            "sign-flip test and the interval that inverts it. Holm's adjustment over every claim. "
            "analysis/compare.py says what each assumes.")
    return H.section("Which mitigation holds collapse off longest?", H.paragraph(lines[0]),
                     H.preformatted("\n".join(lines[1:])), H.paragraph(note, "note"), H.table(comparisons))


def _header(cfg, crit, ttc, n_cells) -> str:
    started = len(ttc)
    complete = int(ttc["complete"].astype(bool).sum()) if started else 0
    failed = int(ttc["failed"].astype(bool).sum()) if started else 0
    text = (f"Backend {cfg.backend}, {cfg.generations} generations after generation 0. "
            f"Collapse criterion: {format_criterion(crit)} ({describe_criterion(crit)}). "
            f"Chains: {started} of {n_cells} started, {complete} complete")
    if failed:
        text += f", {failed} failed (software errors, censored where they stopped; see `autophagy run --resume`)"
    if started < n_cells or complete < started:
        text += (" — a partial sweep: a chain not yet finished counts as censored at its last "
                 "observed generation, and the numbers below will move as the sweep goes on")
    return H.paragraph(text + ".")


def _body(rows, ttc, summary, thresholds, axes, crit, n_cells, paths) -> list[str]:
    metric_images = [H.image(p, name) for name, p in paths.items() if name.startswith("metric_")]
    return [
        H.section("Collapse threshold",
                  H.paragraph("The synthetic ratio at which half the chains collapse within G generations. Headline "
                              "(threshold_model, model_low, model_high): a model of every chain's continuous margin "
                              "to the criterion where it is a metric (model margin: where the median margin crosses "
                              "0, a t interval over seeds), else Firth's penalized logistic regression with a "
                              "profile-likelihood interval (model firth). Cross-check (threshold, ci_low, ci_high): "
                              "an isotonic fit and the interval of every ratio an exact binomial test does not "
                              "reject, assuming only that collapse does not get less likely as the ratio grows; its "
                              "ends are ratios swept, or open. docs/thresholds.md states each one's assumptions.",
                              "note"),
                  H.table(thresholds)),
        H.section("Time to collapse", H.image(paths["phase_diagram"], "phase diagram"),
                  H.image(paths["ttc_heatmap"], "median time to collapse"),
                  H.preformatted(summary_table_text(summary, axes))),
        H.section("Survival", H.image(paths["survival_plot"], "Kaplan–Meier survival")),
        H.section("Summary per cell",
                  H.paragraph("median_ttc counts censored chains at their censoring time; median_censored marks "
                              "when it is only a lower bound. km_median is the Kaplan–Meier median (– while "
                              "fewer than half have collapsed).", "note"),
                  H.table(summary)),
        H.section("Metrics", H.image(paths[f"heatmap_{crit.metric}"], f"{crit.metric} heatmap"), *metric_images),
        *([H.section("Samples, generation by generation", H.image(paths["samples"], "sample grids"))]
          if "samples" in paths else []),
        H.section("Chains", H.table(ttc)),
    ]


def _n_cells(grid: dict) -> int:
    return math.prod(len(values) for values in grid.values())


def _series_name(row: pd.Series, columns) -> str:
    return label({k: row[k] for k in columns if k not in THRESHOLD_COLUMNS})
