"""Coverage of the collapse threshold's 95 % intervals on simulated sweeps with a known threshold.

Each chain has a margin M = s (r - r0) + u_seed + e (margin.py: the chain collapsed exactly when
M >= 0): e is standard logistic, u_seed a seed effect shared by a seed's chains (normal, sd
`seed_sd`), so P(collapse | r) rises like a logistic of slope s. A curve with a floor makes a share
`floor` of the chains collapse whatever the ratio (M = 3 + 3|z|), like the gmm test bed's
collapses at ratio 0. r0 is drawn uniformly from [0.15, 0.85] per sweep; the true threshold is
where P(collapse) = 1/2 over seeds. The design fixes the ratios (evenly spaced on [0, 1]) and the
seeds per ratio. Three intervals on the same sweeps:
  exact   the shape-free inverted exact tests (threshold.py), on collapsed-or-not
  firth   Firth logistic, profile likelihood (firth.py), on collapsed-or-not
  margin  the median margin's zero crossing, a t interval over seeds (margin.py), on M
Prints, per design, each interval's coverage and mean width within [0, 1].

    .venv/bin/python benchmarks/threshold_coverage.py [--sims 1000]

tests/test_threshold.py runs the same curves with fewer simulations and asserts >= 93 %.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from autophagy.analysis.firth import firth_threshold
from autophagy.analysis.margin import margin_threshold
from autophagy.analysis.threshold import _table, threshold, width

# name: (slope s, floor); steep rises from 0.2 to 0.8 over 0.05 of ratio, shallow over 0.28
CURVES = {"steep": (60.0, 0.0), "shallow": (10.0, 0.0), "floor": (30.0, 0.1)}
DESIGNS = [(5, 2), (5, 4), (11, 3)]  # (ratios, seeds per ratio); 5 x 2 is the demo's grid
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)


def true_threshold(r0: float, slope: float, floor: float, seed_sd: float) -> float:
    """Where floor + (1 - floor) P(s (r - r0) + u + e >= 0) = 1/2, u ~ N(0, seed_sd^2)."""
    def share(z):  # P(u + e <= z), Gauss-Hermite over u
        return float(np.sum(_WEIGHTS * expit(z - seed_sd * _NODES)) / np.sqrt(2 * np.pi))
    target = (0.5 - floor) / (1 - floor)
    return r0 + brentq(lambda z: share(z) - target, -50, 50) / slope


def sweeps(ratios: int, seeds: int, curve: str, sims: int, seed_sd: float, rng: np.random.Generator):
    """(ratio of each chain, seed of each chain, margins (sims x chains), true thresholds (sims,))."""
    slope, floor = CURVES[curve]
    r = np.repeat(np.linspace(0.0, 1.0, ratios), seeds)
    s = np.tile(np.arange(seeds), ratios)
    r0 = rng.uniform(0.15, 0.85, sims)
    margins = (slope * (r[None] - r0[:, None]) + rng.normal(0, seed_sd, (sims, seeds))[:, s]
               + rng.logistic(0, 1, (sims, len(r))))
    floored = rng.random(margins.shape) < floor
    margins = np.where(floored, 3 + 3 * np.abs(rng.normal(size=margins.shape)), margins)
    truth = np.array([true_threshold(t, slope, floor, seed_sd) for t in r0])
    return r, s, margins, truth


def coverage(ratios: int, seeds: int, curve: str, sims: int, model: str, seed: int = 0,
             seed_sd: float | None = None) -> dict:
    """Share of `sims` sweeps whose `model` interval (exact | firth | margin) holds the true
    threshold, and its mean width within [0, 1]. Default seed effect: sd 1 for the margin model
    (it pairs by seed), none for firth and exact (they take chains as independent)."""
    sd = (1.0 if model == "margin" else 0.0) if seed_sd is None else seed_sd
    r, s, margins, truth = sweeps(ratios, seeds, curve, sims, sd, np.random.default_rng(seed))
    collapsed = margins >= 0
    if model == "margin":
        ends = np.array([margin_threshold(r, m, s)[1:] for m in margins])
    elif model == "firth":
        x, n, _ = _table(r, collapsed[0])
        k = np.stack([_table(r, c)[2] for c in collapsed])
        ends = np.stack(firth_threshold(x, n, k)[1:], axis=1)
    else:
        ends = np.array([[(t := threshold(r, c))["ci_low"], t["ci_high"]] for c in collapsed])
    covered = (ends[:, 0] <= truth) & (truth <= ends[:, 1])
    return {"coverage": float(covered.mean()), "mean_width": float(np.mean([width(*e) for e in ends])),
            "sims": sims}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=1000)
    args = parser.parse_args()
    print("| ratios x seeds | curve | sweeps | exact: coverage, width | firth | margin |")
    print("|---|---|---|---|---|---|")
    for ratios, seeds in DESIGNS:
        for curve in CURVES:
            cells = [coverage(ratios, seeds, curve, args.sims, m) for m in ("exact", "firth", "margin")]
            print(f"| {ratios} x {seeds} | {curve} | {args.sims} | "
                  + " | ".join(f"{100 * c['coverage']:.1f} %, {c['mean_width']:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
