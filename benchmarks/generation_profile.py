"""Where a generation's seconds go: one chain of a sweep, driven directly (no Ray), one thread.

    .venv/bin/python benchmarks/generation_profile.py sweeps/demo.yaml [--ratio 1.0] [--threads 1]

Prints the shared-asset preparation time and, per generation, the seconds spent building the
training set, finetuning, sampling, evaluating and checkpointing, then the means and shares.
"""

from __future__ import annotations

import argparse
import time

import torch
from threadpoolctl import threadpool_limits

from autophagy import grid, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.rows import TIMINGS


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("sweep")
    p.add_argument("--ratio", type=float, default=1.0)
    p.add_argument("--mitigation", default="none")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # numpy's BLAS too, as Ray does for a chain (OMP_NUM_THREADS = its CPUs)
    cfg = sweepfile.load(args.sweep)
    cell = next(c for c in grid.cells(cfg) if c.ratio == args.ratio and c.mitigation == args.mitigation)
    cls = backend_class(cfg.backend)
    start = time.perf_counter()
    assets = cls.prepare(cfg)
    print(f"prepare (shared assets): {time.perf_counter() - start:.1f} s on {args.threads} thread(s)")
    start = time.perf_counter()
    cell_cfg = grid.cell_config(cfg, cell)
    chain = Chain(cell_cfg, cell, cls(cell_cfg, assets))
    print(f"chain start (backend + real data): {time.perf_counter() - start:.2f} s")
    rows = []
    while not chain.finished:
        row = chain.run_generation()
        t = time.perf_counter()
        chain.checkpoint_files()
        row["seconds_checkpoint"] = time.perf_counter() - t
        rows.append(row)
        print(f"gen {row['generation']}: " + "  ".join(f"{k[8:]} {row[k]:.2f}" for k in TIMINGS)
              + f"  | {cfg.collapse.metric} {row[cfg.collapse.metric]:.2f}")
    total = {k: sum(r[k] for r in rows) / len(rows) for k in TIMINGS}
    per_gen = sum(total.values())
    print(f"mean per generation: {per_gen:.2f} s  (" + ", ".join(
        f"{k[8:]} {v:.2f} s = {100 * v / per_gen:.0f}%" for k, v in total.items()) + ")")


if __name__ == "__main__":
    main()
