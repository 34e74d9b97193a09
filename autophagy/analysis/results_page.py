"""A finished sweep's rows as a Markdown page: each mitigation against `none`, with seeds and intervals.

    python -m autophagy.analysis.results_page RUN_DIR [--out docs/results.md] [--notes NOTES.md]

Sections: time to collapse per mitigation (per-seed times, median with a bootstrap interval,
Kaplan–Meier median, paired difference from `none`), the metrics at the last generation (mean over
seeds, interval, paired difference), healing's recovery, and the papers' findings checked against
the numbers. A difference is paired by seed: chains of one seed and ratio share their real images
and base model, so seed-to-seed noise cancels. Intervals are seeded percentile bootstraps over
seeds (with 3 seeds they are coarse: read them as the spread, not as a test). A censored time
(`6+`: no collapse within G) enters medians and differences at G, so a difference involving one
is a bound, marked `≥`/`≤` (`~`: no bound). Rebuilding over the same rows gives the same page. `--notes` appends
hand-written explanations (why a finding does not hold) so that a rebuild keeps them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from autophagy.analysis.axes import cell_axes, groups, label, metric_columns, series_axes
from autophagy.analysis.bootstrap import bootstrap_interval
from autophagy.analysis.criterion import describe_criterion, format_criterion
from autophagy.analysis.report import load_run, resolve_criterion
from autophagy.analysis.summary import format_ttc, summarize
from autophagy.analysis.threshold import collapse_thresholds
from autophagy.analysis.time_to_collapse import time_to_collapse

BASELINE = "none"
# Metrics shown by default where the rows have them, and which way is better (+1: higher).
BETTER = {"fid": -1, "kid": -1, "kl": -1, "precision": +1, "recall": +1, "class_agreement": +1,
          "loglik": +1, "variance": +1, "entropy_train": +1, "entropy_train_pixels": +1,
          "entropy_train_features": +1, "entropy_samples": +1, "entropy_samples_pixels": +1,
          "nearest_train_l2": +1, "generalization_score": +1, "memorization_share": -1, "pairwise_l2": +1}
DEFAULT_METRICS = ("fid", "kl", "recall", "precision", "entropy_train_pixels", "entropy_train",
                   "memorization_share", "generalization_score", "nearest_train_l2", "variance")
MAX_DEFAULT_METRICS = 7
# Shi et al.'s selection claim, in the rows' terms: training-set entropy up, copying down.
SELECTION_METRICS = ("entropy_train_pixels", "entropy_train_features", "entropy_train", "memorization_share",
                     "generalization_score", "nearest_train_l2")


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def _num(x: float) -> str:
    if x != x:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _signed(x: float) -> str:
    return f"{0.0 if abs(x) < 1e-9 else x:+.3g}"


def _interval(low: float, high: float) -> str:
    return "" if low != low else f" [{_num(low)}, {_num(high)}]"


def _paired(values: pd.DataFrame, column: str, keys: list[str], mitigation: str):
    """Per-seed differences mitigation - none of `column`, matched on `keys` (+ seed)."""
    a = values[values["mitigation"] == mitigation].set_index([*keys, "seed"])[column]
    b = values[values["mitigation"] == BASELINE].set_index([*keys, "seed"])[column]
    both = pd.concat([a.rename("m"), b.rename("b")], axis=1, join="inner").dropna()
    return (both["m"] - both["b"]).to_numpy(dtype=float), both.index


def _mitigations(cfg) -> list[str]:
    return list(cfg.grid.get("mitigation", (BASELINE,)))


def _title(values: dict) -> str:
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items())


def _comparable(values: dict) -> bool:
    """Whether a cell can tell mitigations apart: at ratio 0 no chain trains on a synthetic image."""
    return values.get("ratio", 1) != 0


# ------------------------------------------------------------------------------ sections


def _bound_mark(sub: pd.DataFrame, keys: list[str], index, mitigation: str) -> str:
    """How a paired difference of times read with censoring: a censored mitigation chain makes it
    a lower bound (≥), a censored `none` chain an upper bound (≤); both kinds, or a pair censored
    on both sides, leave no bound (~)."""
    by = sub.set_index(["mitigation", *keys, "seed"])["censored"]
    lower = upper = False
    for i in index:
        i = i if isinstance(i, tuple) else (i,)
        m_censored, b_censored = bool(by.get((mitigation, *i), False)), bool(by.get((BASELINE, *i), False))
        lower, upper = lower or m_censored, upper or b_censored
    return "~ " if lower and upper else "≥ " if lower else "≤ " if upper else ""


def ttc_section(ttc: pd.DataFrame, summary: pd.DataFrame, axes: list[str], cfg, n_boot: int, seed: int):
    """Markdown, and {(cell title, mitigation): (mean paired difference, low, high, bound mark)}."""
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    cells = {tuple(values.values()): row for values, row in groups(summary, [*keys, "mitigation"])}
    out, deltas = [], {}
    for values, sub in groups(ttc, keys):
        title = _title(values)
        body = []
        for m in _mitigations(cfg):
            chains = sub[sub["mitigation"] == m].sort_values("seed")
            s = cells.get((*values.values(), m))
            if chains.empty or s is None:
                body.append([f"`{m}`", "0", "-", "-", "-", "-", "-"])
                continue
            s = s.iloc[0]
            per_seed = ", ".join(format_ttc(t, c) for t, c in zip(chains["time_to_collapse"], chains["censored"]))
            median = format_ttc(s["median_ttc"], s["median_censored"]) + _interval(s["median_low"], s["median_high"])
            delta = "-"
            diff, index = _paired(sub, "time_to_collapse", keys, m) if m != BASELINE else ([], [])
            if len(diff):
                low, high = bootstrap_interval(diff, np.mean, n_boot, seed=seed)
                mark = _bound_mark(sub, keys, index, m)
                if _comparable(values):
                    deltas[(title, m)] = (float(diff.mean()), low, high, mark)
                delta = f"{mark}{_signed(diff.mean())}{_interval(low, high)}"
            body.append([f"`{m}`", f"{int(s['n_chains'])}", f"{int(s['n_collapsed'])}", per_seed, median,
                         format_ttc(s["km_median"], False), delta])
        out.append(f"**{title or 'all chains'}**\n\n" + _table(
            ["mitigation", "chains", "collapsed", "per seed", "median [95% CI]", "KM median",
             f"Δ vs `{BASELINE}` (mean over seeds) [95% CI]"], body))
    return "\n\n".join(out), deltas


def thresholds_section(ttc: pd.DataFrame, axes: list[str], cfg) -> str:
    """Each series' threshold (ratio where half collapse by G) and exact 95 % interval, against
    the baseline's: two mitigations are told apart only where their intervals do not overlap."""
    table = collapse_thresholds(ttc, axes, horizon=cfg.generations)
    by = series_axes(axes)
    base = table[table["mitigation"] == BASELINE] if "mitigation" in table else table.iloc[:0]
    body = []
    for _, r in table.iterrows():
        verdict = "-"
        if r.get("mitigation") != BASELINE and len(base):
            b = base.iloc[0]
            if r["ci_low"] > b["ci_high"]:
                verdict = f"higher than `{BASELINE}` (intervals apart)"
            elif r["ci_high"] < b["ci_low"]:
                verdict = f"lower than `{BASELINE}` (intervals apart)"
            else:
                verdict = "not told apart (intervals overlap)"
        body.append([label({k: r[k] for k in by}), r["text"], f"{int(r['n_collapsed'])}/{int(r['n_used'])}", verdict])
    note = ("Exact 95 % intervals under monotonicity alone (docs/thresholds.md); with few ratios or seeds "
            "they are wide, and a mitigation is said to move the threshold only where its interval and "
            f"`{BASELINE}`'s do not overlap.")
    return note + "\n\n" + _table(["series", "threshold, 95 % interval", "collapsed by G", "versus baseline"], body)


def final_metrics_section(rows: pd.DataFrame, axes: list[str], cfg, metrics: list[str], n_boot: int, seed: int):
    """Markdown, and {(group label, mitigation, metric): (mean paired difference, low, high)}."""
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    last = rows[(rows["generation"] == cfg.generations) & (rows["status"] == "ok")]
    out, deltas = [], {}
    for values, sub in groups(last, keys):
        title = _title(values)
        body = []
        for m in _mitigations(cfg):
            chains = sub[sub["mitigation"] == m]
            row = [f"`{m}`", f"{len(chains)}"]
            for metric in metrics:
                vals = chains[metric].dropna().to_numpy(dtype=float)
                if len(vals) == 0:
                    row.append("-")
                    continue
                low, high = bootstrap_interval(vals, np.mean, n_boot, seed=seed)
                cell = f"{_num(vals.mean())}{_interval(low, high)}"
                if m != BASELINE:
                    diff, _ = _paired(sub, metric, keys, m)
                    if len(diff):
                        d_low, d_high = bootstrap_interval(diff, np.mean, n_boot, seed=seed)
                        if _comparable(values):
                            deltas[(title, m, metric)] = (float(diff.mean()), d_low, d_high)
                        cell += f"<br>Δ {_signed(diff.mean())}{_interval(d_low, d_high)}"
                row.append(cell)
            body.append(row)
        out.append(f"**{title or 'all chains'}**\n\n" + _table(["mitigation", "chains", *metrics], body))
    return "\n\n".join(out), deltas


def healing_section(rows: pd.DataFrame, axes: list[str], cfg, metric: str, n_boot: int, seed: int):
    """The metric at generation 0, at h (before healing) and at h+k (after), and the share of the
    change from 0 to h undone by h+k (a ratio of means over seeds: per-seed ratios explode where a
    chain barely moved), for healing chains and, for contrast, `none` over the same generations."""
    h, k = cfg.mitigation_params.healing.after, cfg.mitigation_params.healing.generations
    end = min(h + k, cfg.generations)
    names = [m for m in _mitigations(cfg) if "healing" in m.split("+") or m == BASELINE]
    if not any("healing" in m.split("+") for m in names) or end <= h:
        return "", {}
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    ok = rows[(rows["status"] == "ok") & rows["generation"].isin([0, h, end]) & rows["mitigation"].isin(names)]
    at = ok.pivot_table(index=["mitigation", *keys, "seed"], columns="generation", values=metric).dropna().reset_index()
    if at.empty or not {0, h, end} <= set(at.columns):
        return "", {}
    body, recovered = [], {}
    for values, sub in groups(at, ["mitigation", *keys]):
        m = values.pop("mitigation")
        g0, gh, ge = (sub[g].to_numpy(dtype=float) for g in (0, h, end))

        def share(i):
            lost = gh[i].mean() - g0[i].mean()
            return (gh[i].mean() - ge[i].mean()) / lost if abs(lost) > 1e-12 else np.nan

        value = share(np.arange(len(sub)))
        low, high = bootstrap_interval(np.arange(len(sub)), lambda i: share(i.astype(int)), n_boot, seed=seed)
        if _comparable(values):
            recovered[(_title(values), m)] = (value, low, high)
        body.append([f"`{m}`", _title(values), f"{len(sub)}", _num(g0.mean()), _num(gh.mean()), _num(ge.mean()),
                     f"{_num(value)}{_interval(low, high)}"])
    span = f"generation {end}" if end == h + 1 else f"generations {h + 1}-{end}"
    text = (f"Healing chains train on real images only in {span}. Recovered: the share of "
            f"the change in `{metric}` from generation 0 to {h} undone by generation {end}, from the means over "
            f"seeds (1 = back at generation 0, 0 = no better than at {h}, < 0 = worse still); `{BASELINE}` "
            f"over the same generations for contrast.\n\n")
    return text + _table(["mitigation", "cell", "chains", f"{metric} gen 0", f"gen {h}", f"gen {end}",
                          "recovered [95% CI]"], body), recovered


def _verdict(delta, better: int, what: str) -> str:
    mean, low, high = delta[:3]
    numbers = f"{what} {delta[3] if len(delta) > 3 else ''}{_signed(mean)}{_interval(low, high)}"
    if low != low:
        return f"no interval ({numbers})"
    good_low, good_high = (low, high) if better > 0 else (-high, -low)
    if good_low > 0:
        return f"**holds** ({numbers})"
    if good_high < 0:
        return f"**does not hold: the opposite** ({numbers})"
    if low == high == 0:
        both_censored = len(delta) > 3 and delta[3] == "~ "
        return f"**not shown**: {'neither collapsed in time' if both_censored else 'no difference'} ({numbers})"
    return f"**not shown**: the interval spans 0 ({numbers})"


def findings_section(cfg, ttc_deltas, metric_deltas, recovered, crit, axes) -> str:
    """The papers' claims, each checked in every cell (ratio 0 excluded) that holds the chains it needs."""
    names, G = _mitigations(cfg), cfg.generations
    cells = list(dict.fromkeys([c for c, *_ in ttc_deltas] + [c for c, *_ in metric_deltas]))
    lines = []

    def claim(text, mitigation, checks):
        """checks: (label, delta key, which way is better), each looked up per cell."""
        if mitigation not in names:
            lines.append(f"- {text}: not tested (the sweep has no `{mitigation}` chains)")
            return
        found = []
        for cell in cells:
            verdicts = []
            for what, key, better in checks:
                table, full = (ttc_deltas, (cell, mitigation)) if key == ("ttc",) else (metric_deltas, (cell, mitigation, key[1]))
                if full in table:
                    verdicts.append(_verdict(table[full], better, what))
            if verdicts:
                found.append(f"{cell}: " + "; ".join(verdicts))
        lines.append(f"- {text}" + ("".join(f"\n  - {f}" for f in found) if found else ": no comparable rows yet"))

    ttc = [("Δ time to collapse", ("ttc",), +1)]
    tabulated = {key[2] for key in metric_deltas}
    final = [(f"Δ {crit.metric} at generation {G}", ("m", crit.metric), BETTER.get(crit.metric, -1))] \
        if crit.metric in tabulated else []
    selection = [(f"Δ {m} at generation {G}", ("m", m), BETTER[m]) for m in SELECTION_METRICS if m in tabulated]

    claim("Accumulating outlasts replacing (Gerstgrasser et al.; Shi et al.)", "accumulate", ttc + final)
    claim("Fresh real data each generation outlasts a fixed real set (Alemohammad et al.; at ratio 1 "
          "there is no real share to refresh)", "fresh_data", ttc + final)
    for sel in ("greedy", "threshold_decay", "accumulate+greedy"):
        claim(f"`{sel}` keeps the training set's entropy up and memorization down, and so delays collapse "
              "(Shi et al.)", sel, selection + ttc + final)
    claim("ReDiFine delays collapse (Yoon et al.)", "redifine", ttc + final)
    if "sampling.cfg_scale" in axes:
        lines.append("- Higher CFG collapses sooner (Yoon et al.): compare the `cfg_scale` cells of the "
                     "time-to-collapse tables")
    else:
        lines.append("- Higher CFG collapses sooner (Yoon et al.): not tested (the sweep has one CFG scale; "
                     "rerun with `--set 'grid.sampling.cfg_scale=[1.5, 3.0]'`)")
    heal = {key: v for key, v in recovered.items() if "healing" in key[1].split("+")}
    if heal:
        parts = []
        for (cell, m), (value, low, high) in heal.items():
            kind = ("not at all" if not value > 0.05 else "fully (within 5 %)" if value >= 0.95 else "partly")
            parts.append(f"{cell}, `{m}`: recovers {kind}: {_num(value)}{_interval(low, high)} of the change in "
                         f"`{crit.metric}`")
        lines.append("- Healing recovers partly (Bohacek & Farid)" + "".join(f"\n  - {p}" for p in parts))
    elif not any("healing" in n.split("+") for n in names):
        lines.append("- Healing recovers partly (Bohacek & Farid): not tested (the sweep has no `healing` chains)")
    return "\n".join(lines) + "\n\nRatio-0 cells are left out: no chain there trains on a synthetic image."


# ------------------------------------------------------------------------------ the page


def build_page(run_dir, *, metrics: list[str] | None = None, n_boot: int = 2000, seed: int = 0,
               notes: str | None = None, command: str | None = None) -> str:
    cfg, rows = load_run(Path(run_dir))
    crit = resolve_criterion(None, cfg, rows)
    axes = list(cfg.grid)
    if rows.empty:
        return f"# Results: sweep `{cfg.name}`\n\nNo rows yet in {run_dir}/metrics.\n"
    available = metric_columns(rows, axes)
    if metrics is None:
        metrics = [m for m in (crit.metric, *DEFAULT_METRICS) if m in available]
        metrics = list(dict.fromkeys(metrics))[:MAX_DEFAULT_METRICS]
    unknown = sorted(set(metrics) - set(available))
    if unknown:
        raise ValueError(f"results page: unknown metric column(s) {unknown} (the rows have: {', '.join(available)})")
    ttc = time_to_collapse(rows, crit, cfg.generations, axes)
    summary = summarize(ttc, axes, grid=cfg.grid, n_boot=n_boot, seed=seed)
    ttc_md, ttc_deltas = ttc_section(ttc, summary, axes, cfg, n_boot, seed)
    final_md, metric_deltas = final_metrics_section(rows, axes, cfg, metrics, n_boot, seed)
    heal_md, recovered = healing_section(rows, axes, cfg, crit.metric, n_boot, seed)
    seeds = sorted(rows["seed"].unique().tolist())
    n_chains = rows["chain_id"].nunique()
    parts = [
        f"# Results: mitigations versus `{BASELINE}` (sweep `{cfg.name}`, backend `{cfg.backend}`)",
        f"Made from the rows of `{run_dir}` by\n\n```\n{command or f'python -m autophagy.analysis.results_page {run_dir}'}\n```\n\n"
        f"{n_chains} chains, seeds {seeds}, {cfg.generations} generations after generation 0, "
        f"N = {cfg.images_per_generation} images per training set (`mixing: {cfg.mixing}`). "
        f"Collapse: `{format_criterion(crit)}` ({describe_criterion(crit)}). Intervals: 95 % percentile "
        f"bootstrap over seeds ({n_boot} resamples, seed {seed}); Δ: mitigation minus `{BASELINE}`, paired by "
        f"seed and cell. `{cfg.generations}+`: not collapsed by generation {cfg.generations} (censored); a Δ "
        f"of times involving such a chain is a bound: ≥ (the mitigation's chain censored), ≤ (`{BASELINE}`'s), "
        f"or ~ (both: no bound).",
        "## The papers' findings, checked on these rows",
        findings_section(cfg, ttc_deltas, metric_deltas, recovered, crit, axes),
        "## Collapse thresholds",
        thresholds_section(ttc, axes, cfg),
        "## Time to collapse",
        ttc_md,
        f"## Metrics at generation {cfg.generations}",
        "Mean over seeds [95% CI], and below it Δ versus `none` [95% CI]. Which way is better: "
        + ", ".join(f"`{m}` {'higher' if BETTER.get(m, 1) > 0 else 'lower'}" for m in metrics) + ".",
        final_md,
    ]
    if heal_md:
        parts += ["## Healing", heal_md]
    parts += ["## Notes", notes.strip() if notes else
              "No notes yet. Where a finding does not hold, explain why here (`--notes FILE`)."]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autophagy.analysis.results_page", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", default="docs/results.md")
    parser.add_argument("--notes", help="a Markdown file appended as the Notes section")
    parser.add_argument("--metric", action="append", dest="metrics", help="a metric column to tabulate (repeatable)")
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args(argv)
    command = " ".join(["python -m autophagy.analysis.results_page", args.run_dir, "--out", args.out]
                       + (["--notes", args.notes] if args.notes else [])
                       + [f"--metric {m}" for m in args.metrics or []])
    try:
        notes = Path(args.notes).read_text() if args.notes else None
        page = build_page(args.run_dir, metrics=args.metrics, n_boot=args.n_boot, notes=notes, command=command)
    except (ValueError, FileNotFoundError) as err:
        print(f"results_page: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
