"""Disk per chain by generation, before and after samples were written once (samples.SampleStore),
and the seconds spent writing samples and checkpoints as a share of a generation. One chain per
mitigation, driven directly (no Ray), one thread.

    .venv/bin/python benchmarks/storage.py sweeps/demo.yaml --generations 30 [--set KEY=VALUE ...]

Before: every checkpoint kept, each holding the samples the policy may still need (inline).
After: DIR/samples/<chain>/genGGG.safetensors once per generation, plus `checkpoint_keep` checkpoints
of model state and references. "Before" sizes are measured by packing the same chain's
checkpoint the old way (the samples inline) at each generation.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from autophagy import grid, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.orchestrator import assets
from autophagy.samples import SampleStore


def _size(files: dict[str, bytes]) -> int:
    return sum(len(b) for b in files.values())


def run(cfg, mitigation: str, shared: dict[str, bytes], root: Path) -> list[dict]:
    cell = next(c for c in grid.cells(cfg) if c.mitigation == mitigation)
    cell_cfg = grid.cell_config(cfg, cell)
    store = SampleStore(root / cell.chain_id)
    chain = Chain(cell_cfg, cell, backend_class(cfg.backend)(cell_cfg, shared), store)
    out, before_total, after_ckpts = [], 0, []
    while not chain.finished:
        row = chain.run_generation()  # seconds_checkpoint: the samples' write
        start = time.perf_counter()
        files = chain.checkpoint_files()
        write = row["seconds_checkpoint"] + time.perf_counter() - start
        chain.store = None  # the old format: the samples inline
        start = time.perf_counter()
        inline = chain.checkpoint_files()
        before_write = time.perf_counter() - start
        chain.store = store
        before_total += _size(inline)
        after_ckpts = (after_ckpts + [_size(files)])[-cfg.checkpoint_keep:]
        samples = sum(p.stat().st_size for p in store.directory.iterdir())
        seconds = sum(v for k, v in row.items() if k.startswith("seconds_")) - row["seconds_checkpoint"]
        out.append({"generation": row["generation"], "ckpt_before": _size(inline), "disk_before": before_total,
                    "ckpt_after": _size(files), "disk_after": samples + sum(after_ckpts),
                    "share_before": before_write / (seconds + before_write), "share_after": write / (seconds + write)})
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("sweep")
    p.add_argument("--generations", type=int, default=30)
    p.add_argument("--set", action="append", default=[])
    args = p.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)
    cfg = sweepfile.load(args.sweep, {**sweepfile.parse_set(args.set), "generations": args.generations, "grid.ratio": [1.0]})
    cached = assets._read(assets.cache_dir() / assets.asset_id(cfg))
    shared = cached if cached is not None else backend_class(cfg.backend).prepare(cfg)
    with tempfile.TemporaryDirectory(prefix="autophagy-storage-") as tmp:
        for mitigation in cfg.grid["mitigation"]:
            rows = run(cfg, mitigation, shared, Path(tmp))
            print(f"{mitigation}: gen  ckpt before  disk before  ckpt after  disk after  write share before/after")
            for r in rows:
                if r["generation"] in (0, 1, 5, 10, 20, 30) or r is rows[-1]:
                    print(f"  {r['generation']:>3}  {r['ckpt_before'] / 1e3:9.0f} kB  {r['disk_before'] / 1e6:8.2f} MB"
                          f"  {r['ckpt_after'] / 1e3:8.0f} kB  {r['disk_after'] / 1e6:8.2f} MB"
                          f"  {100 * r['share_before']:5.1f}% / {100 * r['share_after']:4.1f}%")
            mean = sum(r["share_after"] for r in rows) / len(rows)
            print(f"  mean write share after: {100 * mean:.1f}% of a generation")


if __name__ == "__main__":
    main()
