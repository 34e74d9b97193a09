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
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import ray

from autophagy import config, grid, rows
from autophagy.chain import TIMINGS
from autophagy.orchestrator import assets, sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep")
    p.add_argument("--seeds", type=int, help="replace grid.seed by 0..SEEDS-1 (scales the chain count)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    args = p.parse_args()
    overrides = config.parse_set(args.set)
    if args.seeds:
        overrides["grid.seed"] = list(range(args.seeds))
    cfg = config.load(args.sweep, overrides)
    chains = len(grid.cells(cfg))
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    assets.load_or_prepare(cfg, log=lambda m: None)  # cached: the clock measures the sweep only
    with tempfile.TemporaryDirectory(prefix="autophagy-bench-") as tmp:
        start = time.perf_counter()
        results = sweep.run(cfg, Path(tmp) / "run", progress=False)
        wall = time.perf_counter() - start
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


if __name__ == "__main__":
    main()
