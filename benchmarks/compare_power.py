"""Power of analysis/compare.py to tell two mitigations apart at a threshold shift of 0.2, by chains
per mitigation, on simulated chains (tests/simulated_chains.py: log FID climbs 0.6 per generation
per unit of ratio past the threshold, a seed effect shared by both mitigations, 6 generations).

Per sweep: 5 ratios (0, 0.25, ..., 1) x n seeds per mitigation, `none` (shift 0) and `accumulate`
(shift 0.2), criterion fid >= 2x; a sweep counts as told apart when compare's verdict is `later`
(the hazard model's seed sign-flip test at 5 %, Holm over its claims). Also the share under no
effect (both shift 0), which must stay near or under 5 %. Prints a Markdown table.

    .venv/bin/python benchmarks/compare_power.py [--sims 40] [--seeds 2 4 6 8 12]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from autophagy.analysis.compare import compare
from autophagy.analysis.time_to_collapse import time_to_collapse
from autophagy.config import CollapseConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from simulated_chains import simulate  # noqa: E402

FID = CollapseConfig(metric="fid", mode="relative", threshold=2.0, direction="up")
AXES = ["ratio", "seed", "mitigation"]
RATIOS = [0.0, 0.25, 0.5, 0.75, 1.0]
G = 6


def told_apart(n_seeds: int, shift: float, sims: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        rows = simulate(RATIOS, range(n_seeds), {"none": 0.0, "accumulate": shift}, G, rng)
        table = compare(rows, time_to_collapse(rows, FID, G, AXES), AXES, FID, G, baseline="none")
        hits += table.iloc[0]["verdict"] != "not told apart"
    return hits / sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 4, 6, 8, 12])
    args = parser.parse_args()
    print("| seeds | chains per mitigation | told apart at Δr* = 0.2 | under no effect |")
    print("|---|---|---|---|")
    for n in args.seeds:
        power, null = told_apart(n, 0.2, args.sims), told_apart(n, 0.0, args.sims, seed=1)
        print(f"| {n} | {n * len(RATIOS)} | {100 * power:.0f} % | {100 * null:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
