"""Coverage of the collapse threshold's 95 % interval on simulated sweeps with a known threshold.

A chain at ratio r collapses by G with probability sigmoid(s (r - r0)); r0 is drawn uniformly
from [0.15, 0.85] for each simulated sweep; the design fixes the ratios (evenly spaced on
[0, 1]), the seeds per ratio and the slope s. Prints, per design, the share of sweeps whose
interval holds r0, its mean width within [0, 1], and the share with an open side.

    .venv/bin/python benchmarks/threshold_coverage.py [--sims 1000]

tests/test_threshold.py runs the same designs with fewer simulations and asserts >= 93 %.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import expit

from autophagy.analysis.threshold import threshold, width

# (ratios, seeds per ratio, slope s): steep 5 x 2 is the demo's grid; 41 x 1 is many ratios x one
# seed; s = 10 rises from 0.2 to 0.8 over 0.28 of ratio, like the gmm test bed's gentle curve.
DESIGNS = [(5, 2, 60.0), (5, 4, 60.0), (11, 3, 60.0), (11, 3, 10.0), (41, 1, 30.0), (21, 2, 10.0)]


def simulate(ratios: int, seeds: int, slope: float, sims: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    grid = np.repeat(np.linspace(0.0, 1.0, ratios), seeds)
    covered, widths, open_side = [], [], []
    for _ in range(sims):
        r0 = rng.uniform(0.15, 0.85)
        t = threshold(grid, rng.random(len(grid)) < expit(slope * (grid - r0)))
        covered.append(t["ci_low"] <= r0 <= t["ci_high"])
        widths.append(width(t["ci_low"], t["ci_high"]))
        open_side.append(not np.isfinite([t["ci_low"], t["ci_high"]]).all())
    return {"coverage": float(np.mean(covered)), "mean_width": float(np.mean(widths)),
            "open": float(np.mean(open_side)), "sims": sims}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=1000)
    args = parser.parse_args()
    print("| ratios x seeds | slope s | sweeps | coverage | mean width | open side |")
    print("|---|---|---|---|---|---|")
    for ratios, seeds, slope in DESIGNS:
        r = simulate(ratios, seeds, slope, args.sims)
        print(f"| {ratios} x {seeds} | {slope:g} | {r['sims']} | {100 * r['coverage']:.1f} % | "
              f"{r['mean_width']:.3f} | {100 * r['open']:.0f} % |")


if __name__ == "__main__":
    main()
