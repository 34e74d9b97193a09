"""`autophagy validate | run | report`: the command line.

    autophagy validate SWEEP.yaml [--set KEY=VALUE ...] [--json]
    autophagy run SWEEP.yaml [--out DIR] [--set KEY=VALUE ...] [--address ADDR] [--resume]
    autophagy report DIR [--criterion TEXT]
    autophagy compare DIR [--baseline NAME] [--all] [--criterion TEXT] [--json]
    autophagy results DIR [--out PAGE.md] [--notes NOTES.md] [--metric M ...]
    autophagy status DIR [--watch [SECONDS]] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autophagy import config, grid, preflight, rows, run_dir, sweepfile


def _load(args) -> config.SweepConfig:
    """The sweep, validated, and preflighted: its data, pool and weights checked (preflight.py)."""
    cfg = sweepfile.load(args.sweep, sweepfile.parse_set(args.set))
    preflight.check(cfg, args.sweep)
    return cfg


def cmd_validate(args) -> int:
    cfg = _load(args)
    cells = grid.cells(cfg)
    if args.json:
        print(json.dumps({"config": cfg.to_dict(), "cells": [c.to_dict() for c in cells]}, indent=1))
        return 0
    r = cfg.resources
    print(f"{args.sweep}: valid")
    print(f"  sweep        {cfg.name} (backend {cfg.backend})")
    print(f"  grid         {' x '.join(f'{k} {len(v)}' for k, v in cfg.grid.items())} = {len(cells)} chains")
    if cfg.search.method == "threshold":
        s = cfg.search
        if s.target == "compare":
            print(f"  search       compare: the grid is round 0; then new seeds at {s.per_round} ratio(s) already run, "
                  f"for every series, until each comparison with {cfg.analysis.baseline} is decisive, at most "
                  f"{s.max_chains} chains")
        else:
            print(f"  search       threshold: the grid is round 0; then up to {s.per_round} ratios per series per "
                  f"round until its 95% interval is under {s.target_width:g}, at most {s.max_chains} chains")
    print(f"  generations  {cfg.generations} after generation 0, {cfg.images_per_generation} images each")
    print(f"  resources    {r.cpus:g} CPU + {r.gpus:g} GPU per chain, {cfg.retries} retries"
          + (f", at most {r.max_concurrent} at once" if r.max_concurrent else ""))
    print(f"  collapse     {cfg.collapse.metric} {cfg.collapse.mode} {cfg.collapse.threshold:g} "
          f"({cfg.collapse.direction} is worse), {cfg.collapse.persist} generation(s)"
          + ({"generation0": ", relative to the chain's generation 0", "control": ", relative to the ratio-0 control "
             "chain at the same generation"}[cfg.collapse.reference] if cfg.collapse.mode == "relative" else ""))
    for c in cells:
        print(f"  {c.chain_id}")
    return 0


def cmd_run(args) -> int:
    cfg = _load(args)
    out = Path(args.out or Path("runs") / cfg.name)
    from autophagy.orchestrator import disk, sweep

    try:
        sweep.run(cfg, out, address=args.address, resume=args.resume)
    except disk.DiskFull as err:  # a stop, resumable: orchestrator/disk.py
        print(f"autophagy: stopped: {err}", file=sys.stderr)
        return disk.EXIT_CODE
    got = rows.read_rows(out, rows.schema(cfg))
    code = _report(out, None, got)
    # Chains whose last row says failed: retries exhausted, or failed at once by an error a retry would repeat.
    last = got.groupby("chain_id").tail(1)
    return 1 if (last.status == "failed").any() else code


def cmd_report(args) -> int:
    if not (Path(args.dir) / "config.yaml").is_file():
        raise config.ConfigError(f"{args.dir}: not a sweep directory (no config.yaml)")
    return _report(Path(args.dir), args.criterion)


def cmd_compare(args) -> int:
    """comparisons.csv's table on the console (or as JSON), from the rows alone: no figure drawn."""
    from autophagy.analysis import compare, report
    from autophagy.analysis.time_to_collapse import time_to_collapse

    cfg, got = run_dir.load_run(Path(args.dir))
    crit = report.resolve_criterion(args.criterion, cfg, got)
    ttc = time_to_collapse(got, crit, cfg.generations, list(cfg.grid))
    table = report.comparisons_of(cfg, got, ttc, crit, baseline=args.baseline, pairs="all" if args.all else None)
    if args.json:
        print(table.to_json(orient="records", indent=1))
    else:
        print(compare.answer(table, args.baseline or cfg.analysis.baseline))
    return 0


def cmd_results(args) -> int:
    """The results page (analysis/results_page.py): the papers' claims tested on a run's rows."""
    from autophagy.analysis import results_page

    if not (Path(args.dir) / "config.yaml").is_file():
        raise config.ConfigError(f"{args.dir}: not a sweep directory (no config.yaml)")
    print(f"wrote {results_page.write_page(args.dir, args.out, metrics=args.metrics, notes_path=args.notes)}")
    return 0


def cmd_status(args) -> int:
    """Where the sweep in DIR stands (status.py): read-only, from DIR alone; --watch redraws until it ends."""
    import time

    from autophagy import status

    while True:
        now = status.status(Path(args.dir))
        print(json.dumps(now, indent=1, default=str) if args.json else status.format_status(now), flush=True)
        if args.watch is None or now["state"] != "running":
            return 0
        time.sleep(args.watch)
        print()


def _report(out: Path, criterion: str | None, got=None) -> int:
    """Build DIR's report and print its summary, from one read of the rows and one analysis."""
    from autophagy.analysis import report

    cfg, got = run_dir.load_run(out, got)
    made = report.analyse(cfg, got, criterion, report.read_search_log(out))
    paths = report.build_report(out, criterion, rows=got, analysis=made)
    print(report.summary_text(out, criterion, rows=got, analysis=made))
    for name, path in paths.items():
        print(f"  {name:<20} {path}")
    trackers = [name for name in ("mlflow", "wandb") if name in cfg.loggers]
    if trackers:  # the sweep's answer beside its chains' runs
        from autophagy.orchestrator import sweep_tracking

        tables = {"thresholds": made.thresholds, "comparisons": made.comparisons}  # as their CSVs hold them
        if "mlflow" in trackers:
            run_id = sweep_tracking.log_sweep(cfg, out, paths, tables)
            print(f"  {'mlflow run':<20} {run_id} ({sweep_tracking.mlflow_uri(out)})")
        if "wandb" in trackers:
            run_id = sweep_tracking.log_sweep_wandb(cfg, out, paths, tables)
            print(f"  {'wandb run':<20} {run_id} ({out / 'wandb'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autophagy", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate a sweep file and print its grid")
    p.add_argument("sweep")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field (YAML value)")
    p.add_argument("--json", action="store_true", help="print the resolved config and cells as JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run (or resume) a sweep, then build its report")
    p.add_argument("sweep")
    p.add_argument("--out", help="run directory (default runs/<name>)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field (YAML value)")
    p.add_argument("--address", help="join this Ray cluster (default: start a local Ray)")
    p.add_argument("--resume", action="store_true", help="continue the sweep already in --out")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="rebuild the analysis of a run directory (also mid-sweep)")
    p.add_argument("dir")
    p.add_argument("--criterion", help="a collapse criterion overriding the sweep's (see README)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="each series against the baseline: verdicts, effects, intervals, p")
    p.add_argument("dir")
    p.add_argument("--baseline", help="the series compared with (default: the sweep's analysis.baseline)")
    p.add_argument("--all", action="store_true", help="every pair of series, not only against the baseline")
    p.add_argument("--criterion", help="a collapse criterion overriding the sweep's (see README)")
    p.add_argument("--json", action="store_true", help="the table as JSON records (comparisons.csv's columns)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("results", help="the papers' claims tested on a run's rows, as a Markdown page")
    p.add_argument("dir")
    p.add_argument("--out", default="docs/results.md", help="the page to write (default docs/results.md)")
    p.add_argument("--notes", help="a Markdown file appended as the Notes section")
    p.add_argument("--metric", action="append", dest="metrics", help="a metric column to tabulate (repeatable)")
    p.set_defaults(func=cmd_results)
    p = sub.add_parser("status", help="where a sweep stands, from its directory alone (never writes)")
    p.add_argument("dir")
    p.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS",
                   help="print again every SECONDS (default 10) while the sweep runs")
    p.add_argument("--json", action="store_true", help="the same as JSON, with a top-level state")
    p.set_defaults(func=cmd_status)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:  # ConfigError, CriterionError, DataError, ...
        print(f"autophagy: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
