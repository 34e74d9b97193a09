"""How well the orchestration uses the machine: a whole sweep through Ray Tune, timed.

    .venv/bin/python benchmarks/sweep_efficiency.py sweeps/smoke.yaml --seeds 84   # 1,008 gmm chains
    .venv/bin/python benchmarks/sweep_efficiency.py sweeps/demo.yaml               # the digits demo

Runs the sweep into a fresh temporary directory (shared assets prepared before the clock starts)
and prints, from the rows it wrote:
  chains/s            chains finished per second of wall time
  compute             the sum over generations of the chains' own seconds (build, finetune,
                      sample, evaluate, checkpoint), i.e. what a perfect scheduler must spend
  slots               chains that can run at once: min(chains, cluster CPUs / resources.cpus)
  efficiency          compute / (wall x slots); 1.0 = no orchestration cost at all
  overhead/gen        (wall x slots - compute) / generations: what each generation costs on top
                      of its own work (process and actor start-up, Tune, checkpoint and row I/O)
  driver peak RSS     the driver process's peak memory
and splits the overhead, from the rows' `finished_at` and `seconds_*`, into
  start-up            slot-seconds before each of the first chains' first generation starts
                      (Tune, the trainable and chain actor processes, imports, the first model)
  tail                slot-seconds after each of the last chains' last generation ends
                      (slots idle while the last chains finish, Tune's shutdown)
  steady              the rest, per generation: what a generation costs in a long sweep
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import ray

from autophagy import grid, rows, sweepfile
from autophagy.rows import TIMINGS
from autophagy.orchestrator import assets, sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep")
    p.add_argument("--seeds", type=int, help="replace grid.seed by 0..SEEDS-1 (scales the chain count)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = p.parse_args()
    overrides = sweepfile.parse_set(args.set)
    if args.seeds:
        overrides["grid.seed"] = list(range(args.seeds))
    cfg = sweepfile.load(args.sweep, overrides)
    chains = len(grid.cells(cfg))
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    assets.load_or_prepare(cfg, log=lambda m: None)  # cached: the clock measures the sweep only
    with tempfile.TemporaryDirectory(prefix="autophagy-bench-") as tmp:
        began = datetime.now(timezone.utc)
        start = time.perf_counter()
        results = sweep.run(cfg, Path(tmp) / "run", progress=False)
        wall = time.perf_counter() - start
        ended = datetime.now(timezone.utc)
        df = rows.read_rows(Path(tmp) / "run")
    errors = sum(r.error is not None for r in results)
    compute = float(df[list(TIMINGS)].sum().sum())
    slots = min(chains, int(args.cpus / cfg.resources.cpus))
    generations = len(df)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sweep {cfg.name}: {chains} chains x {cfg.generations + 1} generations = {generations} rows "
          f"({errors} failed chains), {args.cpus} CPUs, {cfg.resources.cpus:g} CPU per chain -> {slots} slots")
    print(f"wall {wall:.1f} s   chains/s {chains / wall:.2f}   compute {compute:.1f} s   "
          f"efficiency {compute / (wall * slots):.3f}   overhead/gen {1000 * (wall * slots - compute) / generations:.0f} ms   "
          f"mean compute/gen {1000 * compute / generations:.1f} ms   driver peak RSS {peak_mb:.0f} MB")
    startup, tail = ends(df, began, ended, slots)
    steady = (wall * slots - compute - startup - tail) / generations
    print(f"overhead split: start-up {startup:.1f} slot-s ({startup / slots:.1f} s per slot)   tail {tail:.1f} slot-s   "
          f"steady {1000 * steady:.0f} ms/gen = {100 * steady * generations / compute:.1f} % of a generation")


def ends(df, began: datetime, ended: datetime, slots: int) -> tuple[float, float]:
    """(start-up, tail) in slot-seconds: before the first `slots` chains' first generations start,
    after the last `slots` chains' last generations end."""
    started = df.finished_at - pd.to_timedelta(df[list(TIMINGS)].sum(axis=1), unit="s")
    first = started.groupby(df.chain_id).min().sort_values().iloc[:slots]
    last = df.finished_at.groupby(df.chain_id).max().sort_values().iloc[-slots:]
    return (float(sum((t - began).total_seconds() for t in first)),
            float(sum((ended - t).total_seconds() for t in last)))


if __name__ == "__main__":
    main()
