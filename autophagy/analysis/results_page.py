"""A finished sweep's rows as a Markdown page: each mitigation against `none`, and the papers' claims.

    autophagy results RUN_DIR [--out docs/results.md] [--notes NOTES.md] [--metric M ...]

Sections: the papers' findings (analysis/claims.py), each check tested over every chain of the
mitigation and `none` at a common seed and ratio; the comparisons (analysis/compare.py); the
thresholds; time to collapse per cell; the metrics at the last generation; healing's recovery.

Every claim rests on a test whose unit is the seed (chains of one seed share their real images
and noise streams, so the seed, not the chain, is the independent replicate): the seed-swap test
of the hazard model for `time`, the sign-flip test of the mean per-seed difference for a metric
and for healing's recovery. Holm's adjustment runs over every check on the page. A check "holds"
only at 5 % after it; with k seeds no p can fall below 2/2^k, so below 6 seeds the page says
"cannot yet be told" and how many seeds would tell. The per-cell tables are descriptive: per-seed
values, medians with the distribution-free 95 % interval (6 seeds at least), differences with the
sign-flip interval (likewise open below 6 seeds). A censored time (`6+`: no collapse within G)
enters at G + 1. Rebuilding over the same rows gives the same page; `--notes` appends hand-written
explanations so that a rebuild keeps them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autophagy.analysis.axes import cell_axes, groups, metric_columns
from autophagy.analysis.claims import CLAIMS, SELECTION
from autophagy.analysis.compare import ALPHA, holm, mean_difference, metric_difference, seeds_needed
from autophagy.analysis.criterion import describe_criterion, format_criterion
from autophagy.analysis.intervals import SEEDS_FOR_MEDIAN, median_interval, ratio_interval
from autophagy.analysis.report import comparisons_of, resolve_criterion
from autophagy.analysis.summary import format_ttc, summarize
from autophagy.analysis.margin import chain_margins
from autophagy.analysis.threshold import collapse_thresholds
from autophagy.analysis.time_to_collapse import time_to_collapse
from autophagy.metrics import registry
from autophagy.run_dir import load_run

BASELINE = "none"
DEFAULT_METRICS = ("fid", "kl", "recall", "precision", "entropy_train_pixels", "entropy_train",
                   "memorization_share", "generalization_score", "nearest_train_l2", "variance")
MAX_DEFAULT_METRICS = 7


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def _num(x: float) -> str:
    if x != x:
        return "-"
    if x in (np.inf, -np.inf):
        return "open"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _signed(x: float) -> str:
    if x != x or x in (np.inf, -np.inf):
        return _num(x)
    return f"{0.0 if abs(x) < 1e-9 else x:+.3g}"


def _interval(low: float, high: float) -> str:
    if low != low:
        return ""
    if low == -np.inf and high == np.inf:
        return f" [open: needs ≥ {SEEDS_FOR_MEDIAN} seeds]"
    return f" [{_num(low)}, {_num(high)}]"


def _mitigations(cfg) -> list[str]:
    return list(cfg.grid.get("mitigation", (BASELINE,)))


def _title(values: dict) -> str:
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items())


def _paired(values: pd.DataFrame, column: str, keys: list[str], mitigation: str) -> np.ndarray:
    """Per-seed differences mitigation - none of `column`, matched on `keys` (+ seed)."""
    a = values[values["mitigation"] == mitigation].set_index([*keys, "seed"])[column]
    b = values[values["mitigation"] == BASELINE].set_index([*keys, "seed"])[column]
    both = pd.concat([a.rename("m"), b.rename("b")], axis=1, join="inner").dropna()
    return (both["m"] - both["b"]).to_numpy(dtype=float)


# ------------------------------------------------------------------------------ the claims


def _checks(cfg, rows, ttc, crit, comparisons, axes) -> list[dict]:
    """Every check of every claim whose mitigation the sweep has: effect, interval, raw p, in words."""
    names, G = _mitigations(cfg), cfg.generations
    by_series = comparisons.set_index("series") if len(comparisons) else pd.DataFrame()
    out = []
    for i, claim in enumerate(CLAIMS):
        if claim.mitigation not in names or BASELINE not in names:
            continue
        for check in claim.checks:
            base = {"claim": i, "check": check}
            if check == "time" and claim.mitigation in by_series.index:
                c = by_series.loc[claim.mitigation]
                out.append({**base, "what": "hazard ratio of collapse", "estimate": c["hazard_ratio"],
                            "low": c["hr_low"], "high": c["hr_high"], "p": c["p_value"], "better": -1, "null": 1.0,
                            "seeds": c["n_seeds"], "spread": np.nan,
                            "extra": f"threshold shift {_signed(c['threshold_shift'])}"
                                     f" [{_signed(c['shift_low'])}, {_signed(c['shift_high'])}]"})
            elif check == "recovered":
                out += [{**base, **r} for r in _recovery_checks(cfg, rows, axes, crit.metric, claim.mitigation)]
            else:
                metric = crit.metric if check == "criterion" else check
                if metric not in rows.columns or (check in SELECTION and not rows[metric].notna().any()):
                    continue
                d = metric_difference(rows, ttc, axes, metric, G, {"mitigation": claim.mitigation},
                                      {"mitigation": BASELINE})
                criterion_better = -1 if crit.direction == "up" else 1  # the criterion's own direction
                better = criterion_better if check == "criterion" else registry.better_sign(metric) or criterion_better
                out.append({**base, "what": f"Δ {metric} at generation {G}", "estimate": d["estimate"],
                            "low": d["low"], "high": d["high"], "p": d["p"], "better": better, "null": 0.0,
                            "seeds": d["n"], "spread": d["spread"], "extra": ""})
    return out


def _recovery_checks(cfg, rows, axes, metric: str, mitigation: str) -> list[dict]:
    """Healing's recovered share, pooled over the cells with synthetic data (see recovery_table)."""
    table = recovery_table(cfg, rows, axes, metric)
    if table.empty or mitigation not in set(table["mitigation"]):
        return []
    sub = table[(table["mitigation"] == mitigation) & (table["ratio"] != 0)] if "ratio" in table else \
        table[table["mitigation"] == mitigation]
    per_seed = sub.groupby("seed")[["undone", "lost"]].mean()
    est, low, high = ratio_interval(per_seed["undone"], per_seed["lost"])
    test = mean_difference(per_seed["undone"].to_numpy())  # is any of the damage undone at all?
    return [{"what": f"share of the change in {metric} undone", "estimate": est, "low": low, "high": high,
             "p": test["p"], "better": 1, "null": 0.0, "seeds": len(per_seed), "spread": np.nan, "extra": ""}]


def _judge(checks: list[dict]) -> None:
    """Holm over every check on the page, then each check's verdict in place."""
    adjusted = holm([c["p"] for c in checks]) if checks else []
    claims = len(checks)
    for c, p_holm in zip(checks, adjusted):
        c["p_holm"] = p_holm
        effect = (c["estimate"] - c["null"]) * c["better"]
        if p_holm < ALPHA and effect > 0:
            c["verdict"] = "holds"
        elif p_holm < ALPHA and effect < 0:
            c["verdict"] = "the opposite"
        else:
            c["verdict"] = "cannot yet be told"
        c["seeds_needed"] = seeds_needed(c["spread"], claims)


def _check_text(c: dict) -> str:
    p = f"p = {_num(c['p'])}, Holm {_num(c['p_holm'])}"
    numbers = f"{c['what']} {_signed(c['estimate']) if c['null'] == 0 else _num(c['estimate'])}" \
              f" [{_num(c['low'])}, {_num(c['high'])}]" + (f", {c['extra']}" if c["extra"] else "")
    text = f"**{c['verdict']}**: {numbers}; {p}; {int(c['seeds'])} seeds"
    if c["verdict"] == "cannot yet be told":
        need = c["seeds_needed"]
        floor = 2 / 2 ** int(c["seeds"]) if c["seeds"] else 1.0
        text += f" (p ≥ {_num(min(1.0, floor))} at best" + (f"; about {int(need)} seeds would tell)" if need == need
                                                           else ")")
    return text


def findings_section(cfg, checks: list[dict], axes: list[str]) -> str:
    names = _mitigations(cfg)
    lines = []
    for i, claim in enumerate(CLAIMS):
        head = f"- {claim.text} ({claim.source})"
        mine = [c for c in checks if c["claim"] == i]
        if claim.mitigation not in names:
            lines.append(f"{head}: not tested (the sweep has no `{claim.mitigation}` chains)")
            continue
        if not mine:
            lines.append(f"{head}: no comparable rows yet")
            continue
        verdicts = {c["verdict"] for c in mine}
        overall = ("holds" if verdicts == {"holds"} else "fails" if "the opposite" in verdicts
                   else "holds in part" if "holds" in verdicts else "cannot yet be told")
        lines.append(f"{head}: **{overall}**" + "".join(f"\n  - {c['check']}: {_check_text(c)}" for c in mine))
    if "sampling.cfg_scale" in axes:
        lines.append("- Higher CFG collapses sooner (Yoon et al. 2024): compare the `cfg_scale` cells of the "
                     "time-to-collapse tables")
    else:
        lines.append("- Higher CFG collapses sooner (Yoon et al. 2024): not tested (the sweep has one CFG scale; "
                     "rerun with `--set 'grid.sampling.cfg_scale=[1.5, 3.0]'`)")
    return "\n".join(lines) + (f"\n\nHolm's adjustment over all {len(checks)} checks above; the seed is the unit "
                               "of every test (analysis/compare.py, analysis/intervals.py).")


# ------------------------------------------------------------------------------ the per-cell tables


def comparisons_section(comparisons: pd.DataFrame) -> str:
    if comparisons.empty:
        return f"No series shares seeds and ratios with `{BASELINE}` yet."
    body = [[f"`{r.series}`", f"{int(r.n_pairs)} / {int(r.n_seeds)}",
             f"{_num(r.hazard_ratio)} [{_num(r.hr_low)}, {_num(r.hr_high)}]",
             f"{_signed(r.threshold_shift)} [{_signed(r.shift_low)}, {_signed(r.shift_high)}]",
             f"{_signed(r.metric_delta)} [{_signed(r.delta_low)}, {_signed(r.delta_high)}]",
             f"{_num(r.p_value)} ({_num(r.p_holm)})", r.verdict, r.metric_verdict]
            for r in comparisons.itertuples()]
    return _table(["series", "pairs / seeds", "hazard ratio [95 %]", "threshold shift [95 %]",
                   f"Δ {comparisons['metric'].iloc[0]} at G [95 %]", "p (Holm)", "time", "metric"], body)


def thresholds_section(ttc: pd.DataFrame, axes: list[str], cfg, margins: pd.DataFrame | None = None) -> str:
    table = collapse_thresholds(ttc, axes, horizon=cfg.generations, margins=margins)
    by = [a for a in cell_axes(axes) if a != "ratio"]
    body = [[", ".join(str(r[k]) for k in by), r["text"], f"{int(r['n_collapsed'])}/{int(r['n_used'])}"]
            for _, r in table.iterrows()]
    note = ("The ratio at which half the chains collapse by G: the model-based estimate and 95 % interval, "
            "then the exact interval under monotonicity alone as the shape-free cross-check (docs/thresholds.md). Whether a mitigation moves it is the comparisons' threshold shift above, "
            "from every chain's time; overlapping threshold intervals are no test.")
    return note + "\n\n" + _table(["series", "threshold, 95 % interval", "collapsed by G"], body)


def ttc_section(ttc: pd.DataFrame, summary: pd.DataFrame, axes: list[str], cfg) -> str:
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    cells = {tuple(values.values()): row for values, row in groups(summary, [*keys, "mitigation"])}
    G = cfg.generations
    out = []
    for values, sub in groups(ttc, keys):
        sub = sub.assign(t=sub["time_to_collapse"].astype(float).where(~sub["censored"].astype(bool), G + 1.0))
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
            if m != BASELINE:
                d = mean_difference(_paired(sub, "t", keys, m))
                if d["n"]:
                    delta = f"{_signed(d['estimate'])}{_interval(d['low'], d['high'])}"
            body.append([f"`{m}`", f"{int(s['n_chains'])}", f"{int(s['n_collapsed'])}", per_seed, median,
                         format_ttc(s["km_median"], False), delta])
        out.append(f"**{_title(values) or 'all chains'}**\n\n" + _table(
            ["mitigation", "chains", "collapsed", "per seed", "median [95% CI]", "KM median",
             f"Δ vs `{BASELINE}` (mean over seeds, censored at G + 1) [95% CI]"], body))
    return "\n\n".join(out)


def final_metrics_section(rows: pd.DataFrame, axes: list[str], cfg, metrics: list[str]) -> str:
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    last = rows[(rows["generation"] == cfg.generations) & (rows["status"] == "ok")]
    out = []
    for values, sub in groups(last, keys):
        body = []
        for m in _mitigations(cfg):
            chains = sub[sub["mitigation"] == m]
            row = [f"`{m}`", f"{len(chains)}"]
            for metric in metrics:
                vals = chains[metric].dropna().to_numpy(dtype=float)
                if len(vals) == 0:
                    row.append("-")
                    continue
                cell = f"{_num(float(np.median(vals)))}{_interval(*median_interval(vals))}"
                if m != BASELINE:
                    d = mean_difference(_paired(sub, metric, keys, m))
                    if d["n"]:
                        cell += f"<br>Δ {_signed(d['estimate'])}{_interval(d['low'], d['high'])}"
                row.append(cell)
            body.append(row)
        out.append(f"**{_title(values) or 'all chains'}**\n\n" + _table(["mitigation", "chains", *metrics], body))
    return "\n\n".join(out)


def recovery_table(cfg, rows: pd.DataFrame, axes: list[str], metric: str) -> pd.DataFrame:
    """Per healing (or `none`) chain: the metric at generation 0, at h (before healing) and at h+k
    (after), `lost` = at h - at 0 and `undone` = at h - at h+k (signed so that undoing damage is
    positive whichever way the metric worsens)."""
    h, k = cfg.mitigation_params.healing.after, cfg.mitigation_params.healing.generations
    end = min(h + k, cfg.generations)
    names = [m for m in _mitigations(cfg) if "healing" in m.split("+") or m == BASELINE]
    if not any("healing" in m.split("+") for m in names) or end <= h:
        return pd.DataFrame()
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    ok = rows[(rows["status"] == "ok") & rows["generation"].isin([0, h, end]) & rows["mitigation"].isin(names)]
    at = ok.pivot_table(index=["mitigation", *keys, "seed"], columns="generation", values=metric).dropna().reset_index()
    if at.empty or not {0, h, end} <= set(at.columns):
        return pd.DataFrame()
    return at.assign(lost=at[h] - at[0], undone=at[h] - at[end], h=h, end=end)


def healing_section(cfg, rows: pd.DataFrame, axes: list[str], metric: str) -> str:
    table = recovery_table(cfg, rows, axes, metric)
    if table.empty:
        return ""
    h, end = int(table["h"].iloc[0]), int(table["end"].iloc[0])
    keys = [a for a in cell_axes(axes) if a != "mitigation"]
    body = []
    for values, sub in groups(table, ["mitigation", *keys]):
        m = values.pop("mitigation")
        per_seed = sub.groupby("seed")[["undone", "lost"]].mean()
        est, low, high = ratio_interval(per_seed["undone"], per_seed["lost"])
        body.append([f"`{m}`", _title(values), f"{len(sub)}", _num(sub[0].mean()), _num(sub[h].mean()),
                     _num(sub[end].mean()), f"{_num(est)}{_interval(low, high)}"])
    span = f"generation {end}" if end == h + 1 else f"generations {h + 1}-{end}"
    text = (f"Healing chains train on real images only in {span}. Recovered: the share of the change in "
            f"`{metric}` from generation 0 to {h} undone by generation {end}, a ratio of sums over seeds "
            f"(1 = back at generation 0, 0 = no better than at {h}, < 0 = worse still), with the interval that "
            f"inverts the sign-flip test (analysis/intervals.py); `{BASELINE}` over the same generations for "
            f"contrast.\n\n")
    return text + _table(["mitigation", "cell", "chains", f"{metric} gen 0", f"gen {h}", f"gen {end}",
                          "recovered [95% CI]"], body)


# ------------------------------------------------------------------------------ the page


def build_page(run_dir, *, metrics: list[str] | None = None, notes: str | None = None,
               command: str | None = None) -> str:
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
    summary = summarize(ttc, axes, grid=cfg.grid)
    comparisons = comparisons_of(cfg, rows, ttc, crit, baseline=BASELINE, pairs="baseline")
    checks = _checks(cfg, rows, ttc, crit, comparisons, axes)
    _judge(checks)
    seeds = sorted(rows["seed"].unique().tolist())
    parts = [
        f"# Results: mitigations versus `{BASELINE}` (sweep `{cfg.name}`, backend `{cfg.backend}`)",
        f"Made from the rows of `{run_dir}` by\n\n```\n{command or f'autophagy results {run_dir}'}\n```\n\n"
        f"{rows['chain_id'].nunique()} chains, seeds {seeds}, {cfg.generations} generations after generation 0, "
        f"N = {cfg.images_per_generation} images per training set (`mixing: {cfg.mixing}`). "
        f"Collapse: `{format_criterion(crit)}` ({describe_criterion(crit)}). Δ: mitigation minus `{BASELINE}`, "
        f"paired by seed and cell. `{cfg.generations}+`: not collapsed by generation {cfg.generations} (censored). "
        f"Intervals are exact or conservative at the number of seeds, and open where it is too small "
        f"(analysis/intervals.py).",
        "## The papers' findings, checked on these rows",
        findings_section(cfg, checks, axes),
        f"## Each mitigation against `{BASELINE}`",
        comparisons_section(comparisons),
        "## Collapse thresholds",
        thresholds_section(ttc, axes, cfg, chain_margins(rows, crit, cfg.generations, axes)),
        "## Time to collapse",
        ttc_section(ttc, summary, axes, cfg),
        f"## Metrics at generation {cfg.generations}",
        "Median over seeds [95% CI], and below it Δ versus `none`, mean over seeds [95% CI]. Which way is "
        "better (metrics/registry.py): " + ", ".join(f"`{m}` {_better_word(m)}" for m in metrics) + ".",
        final_metrics_section(rows, axes, cfg, metrics),
    ]
    heal = healing_section(cfg, rows, axes, crit.metric)
    if heal:
        parts += ["## Healing", heal]
    parts += ["## Notes", notes.strip() if notes else
              "No notes yet. Where a finding does not hold, explain why here (`--notes FILE`)."]
    return "\n\n".join(parts) + "\n"


def write_page(run_dir, out, *, metrics: list[str] | None = None, notes_path=None) -> Path:
    """`autophagy results`: build the page and write it to `out`."""
    command = " ".join(["autophagy results", str(run_dir), "--out", str(out)]
                       + (["--notes", str(notes_path)] if notes_path else [])
                       + [f"--metric {m}" for m in metrics or []])
    notes = Path(notes_path).read_text() if notes_path else None
    page = build_page(run_dir, metrics=metrics, notes=notes, command=command)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def _better_word(metric: str) -> str:
    return {1: "higher", -1: "lower", 0: "neither way"}[registry.better_sign(metric)]
