"""`autophagy report` on a wide sweep: the smoke sweep widened to 41 ratios x 25 seeds x 2 mitigations
(2,050 chains, 12,300 rows), its row files written synthetically with rows.py's writer (no Ray).

    .venv/bin/python benchmarks/report_scale.py DIR            # write DIR (config.yaml, metrics/)
    /usr/bin/time -v .venv/bin/python -m autophagy report DIR  # then time the report on it

Under `none` a chain's kl climbs 0.15 x ratio per generation from 0.1 plus noise (collapse, kl >= 0.5,
from a ratio of about 0.5 by G = 5); `accumulate` climbs a third as fast. Other metrics are noise.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from autophagy import grid, rows, sweepfile

ROOT = Path(__file__).resolve().parents[1]


def write_run(out: Path, n_ratios: int = 41, n_seeds: int = 25, seed: int = 0) -> int:
    """Write the sweep directory; returns the number of chains."""
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {
        "grid.ratio": [round(float(r), 3) for r in np.linspace(0.0, 1.0, n_ratios)],
        "grid.seed": list(range(n_seeds)), "grid.mitigation": ["none", "accumulate"]})
    out.mkdir(parents=True, exist_ok=True)
    sweepfile.dump(cfg, out / "config.yaml")
    schema, metrics = rows.schema(cfg), cfg.model.metric_names(cfg)
    rng = np.random.default_rng(seed)
    cells = grid.cells(cfg)
    for cell in cells:
        slope = 0.15 * cell.ratio * (1.0 if cell.mitigation == "none" else 1 / 3)
        chain = rows.ChainRows(out / "metrics", cell.chain_id, schema)
        chain.put(*[{
            **cell.to_dict(), "generation": g, "status": "ok", "worker": "127.0.0.1 cpu",
            "finished_at": datetime.now(timezone.utc), "n_real": 40, "n_synthetic": int(40 * cell.ratio),
            "train_loss": float(rng.normal(1.0, 0.1)),
            **{m: float(rng.normal(1.0, 0.1)) for m in metrics},
            "kl": 0.1 + slope * g + float(rng.normal(0, 0.05)),
            **{t: 0.01 for t in rows.TIMINGS}} for g in range(cfg.generations + 1)])
    return len(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--ratios", type=int, default=41)
    parser.add_argument("--seeds", type=int, default=25)
    args = parser.parse_args()
    print(f"{args.dir}: {write_run(args.dir, args.ratios, args.seeds)} chains written")


if __name__ == "__main__":
    main()
