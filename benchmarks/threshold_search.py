"""Chains needed for a narrow collapse-threshold interval: adaptive refinement vs a uniform grid.

The test bed is the gmm backend (sweeps/smoke.yaml) with a sharp transition: 128 points per
generation, 30 generations, collapse = KL >= 0.5 by generation 30. Every chain (ratio, seed)
runs once in this process and its outcome is cached, so all designs read the same chains:
  truth     the isotonic crossing of a dense uniform sweep (65 ratios x 16 seeds)
  uniform   K evenly spaced ratios x 8 seeds, K = 5, 9, 17, 33, 65 (each grid inside the next)
  adaptive  the threshold search's own decisions (analysis/refine.decide on analysis/threshold),
            round 0 = 5 ratios x 8 seeds, 2 new ratios per round, until the interval is under
            the target width. Tune only schedules chains, so replaying the search here, without
            Ray, gives the chain counts `search.method: threshold` spends.
Prints a Markdown table (chains, interval, whether it holds the truth) per design.

    .venv/bin/python benchmarks/threshold_search.py [--targets 0.2 0.1 ...] [--cache /tmp/gmm_outcomes.json]

`--simulated`: instead, the same searcher's decisions on simulated chains with a continuous margin
(benchmarks/threshold_coverage.py's model: seed effect sd 1, 4 seeds, N = 128), driven by today's
rule (the exact interval) or by the margin model's interval (search.target: threshold now):
chains spent until the interval is under the target, and whether the final one holds the truth.

    .venv/bin/python benchmarks/threshold_search.py --simulated [--sims 100] [--targets 0.1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from autophagy import grid, sweepfile
from autophagy.analysis.refine import decide
from autophagy.analysis.threshold import threshold, threshold_estimate, width
from autophagy.analysis.time_to_collapse import time_to_collapse
from autophagy.backends import backend_class
from autophagy.chain import Chain

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"generations": 30, "images_per_generation": 128, "grid.mitigation": ["none"], "grid.seed": [0],
            "grid.ratio": [0.0], "collapse.threshold": 0.5, "checkpoint_interval_s": 0}


class Outcomes:
    """collapsed-by-G of chain (ratio, seed), run on first use and cached to a JSON file."""

    def __init__(self, cfg, cache: Path):
        self.cfg, self.cache = cfg, cache
        self.known = json.loads(cache.read_text()) if cache.is_file() else {}
        self.ran = 0

    def __call__(self, ratio: float, seed: int) -> bool:
        key = f"{ratio:.6f}/{seed}"
        if key not in self.known:
            cell = grid.make_cell({"ratio": ratio, "seed": seed, "mitigation": "none"})
            chain = Chain(self.cfg, cell, backend_class(self.cfg.backend)(self.cfg, {}))
            out = []
            while not chain.finished:
                out.append(chain.run_generation())
            ttc = time_to_collapse(pd.DataFrame(out), self.cfg.collapse, self.cfg.generations, ["ratio", "seed", "mitigation"])
            self.known[key] = bool(ttc["collapsed"].iloc[0])
            self.ran += 1
            if self.ran % 50 == 0:
                self.cache.write_text(json.dumps(self.known))
        return self.known[key]

    def table(self, ratios, seeds) -> tuple[np.ndarray, np.ndarray]:
        r = np.array([x for x in ratios for _ in seeds], dtype=float)
        return r, np.array([self(x, s) for x in ratios for s in seeds])


def adaptive(outcomes: Outcomes, seeds, n: int, target: float, per_round: int = 2, budget: int = 1000):
    ran = list(np.linspace(0, 1, 5))
    rounds = 0
    while True:
        t = threshold(*outcomes.table(ran, seeds))
        new, _, why = decide(t, ran, n, target, per_round, budget - len(ran) * len(seeds), seeds)
        if not new:  # the exact interval drives it: new ratios only
            return t, len(ran) * len(seeds), rounds, why
        ran += new
        rounds += 1


def simulated(model: str, curve: str, target: float, sims: int, seeds: int = 4, n: int = 128,
              budget: int = 1000, seed: int = 0) -> dict:
    import importlib.util
    from autophagy.analysis.margin import margin_threshold

    spec = importlib.util.spec_from_file_location("threshold_coverage", ROOT / "benchmarks" / "threshold_coverage.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    slope, floor = bench.CURVES[curve]
    rng = np.random.default_rng(seed)
    chains, reached, covered, added = [], [], [], []
    for _ in range(sims):
        r0 = rng.uniform(0.15, 0.85)
        truth = bench.true_threshold(r0, slope, floor, 1.0)
        u: dict = {}  # seed effects, drawn as seeds join
        margins: dict = {}

        def margin(r, s):
            if s not in u:
                u[s] = rng.normal(0, 1.0)
            if (r, s) not in margins:
                m = slope * (r - r0) + u[s] + rng.logistic()
                margins[(r, s)] = 3 + 3 * abs(rng.normal()) if rng.random() < floor else m
            return margins[(r, s)]
        grid_seeds = list(range(seeds))
        cells = [(r, s) for r in np.linspace(0, 1, 5) for s in grid_seeds]
        while True:
            x, sd = (np.array(v) for v in zip(*cells))
            m = np.array([margin(r, s) for r, s in cells])
            if model == "exact":
                t = threshold(x, m >= 0)
            else:
                est, lo, hi = margin_threshold(x, m, sd)
                t = {"threshold": est, "ci_low": lo, "ci_high": hi, "model_low": lo, "model_high": hi,
                     "text": f"[{lo:.3g}, {hi:.3g}]"}
            plan = decide(t, sorted(set(x)), n, target, 2, budget - len(cells), grid_seeds, set(sd))
            if not plan.ratios:
                break
            cells += plan.cells(grid_seeds)
        chains.append(len(cells))
        added.append(len(set(sd)) - seeds)
        reached.append(width(t["ci_low"], t["ci_high"]) < target)
        covered.append(t["ci_low"] <= truth <= t["ci_high"])
    return {"chains": float(np.mean(chains)), "reached": float(np.mean(reached)), "covered": float(np.mean(covered)),
            "seeds_added": float(np.mean(added))}


def main_simulated(targets, sims: int) -> None:
    print("| curve | target width | exact (today's rule): chains, reached, holds truth | "
          "margin model, new ratios then new seeds: chains, reached, holds truth, seeds added | fewer chains |\n"
          "|---|---|---|---|---|")
    for curve in ("steep", "shallow"):
        for target in targets:
            e, m = (simulated(model, curve, target, sims) for model in ("exact", "margin"))
            print(f"| {curve} | {target:g} | {e['chains']:.0f}, {100 * e['reached']:.0f} %, {100 * e['covered']:.0f} % | "
                  f"{m['chains']:.0f}, {100 * m['reached']:.0f} %, {100 * m['covered']:.0f} %, {m['seeds_added']:.1f} | "
                  + (f"{e['chains'] / m['chains']:.1f}x |" if e["reached"] >= 0.5 else
                     f"today's rule reaches it {100 * e['reached']:.0f} % of the time |"), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=float, nargs="+", default=[0.2, 0.15, 0.1, 0.075, 0.05])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/autophagy_gmm_outcomes.json"))
    parser.add_argument("--simulated", action="store_true")
    parser.add_argument("--sims", type=int, default=100)
    args = parser.parse_args()
    if args.simulated:
        return main_simulated(args.targets, args.sims)
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", SETTINGS)
    outcomes = Outcomes(cfg, args.cache)
    start = time.time()
    dense = np.linspace(0, 1, 65)
    truth, flag = threshold_estimate(*outcomes.table(dense, range(16)))
    curve = {f"{r:.3g}": float(np.mean([outcomes(r, s) for s in range(16)])) for r in dense if 0.75 <= r <= 1}
    print(f"truth (65 ratios x 16 seeds, {flag}): {truth:.4f}; P(collapse by 30) near it: {curve}")
    seeds = range(8)
    print(f"| design | chains | interval | width | holds truth |\n|---|---|---|---|---|")
    for k in (5, 9, 17, 33, 65):
        t = threshold(*outcomes.table(np.linspace(0, 1, k), seeds))
        w = width(t["ci_low"], t["ci_high"])
        print(f"| uniform {k} x 8 | {k * 8} | [{t['ci_low']:.4g}, {t['ci_high']:.4g}] | {w:.3f} | "
              f"{t['ci_low'] <= truth <= t['ci_high']} |")
    uniform = {k: width(*(lambda t: (t["ci_low"], t["ci_high"]))(threshold(*outcomes.table(np.linspace(0, 1, k), seeds))))
               for k in (5, 9, 17, 33, 65)}
    print("\n| target width | uniform: chains (first K x 8 under it) | adaptive: chains, rounds | adaptive interval | "
          "holds truth | saving |\n|---|---|---|---|---|---|")
    for target in args.targets:
        t, chains, rounds, why = adaptive(outcomes, seeds, cfg.images_per_generation, target)
        w = width(t["ci_low"], t["ci_high"])
        need = next((k * 8 for k, u in uniform.items() if u < target), None)
        reached = w < target
        saving = f"{need / chains:.1f}x" if need and reached else "-"
        print(f"| {target:g} | {need or '> 520 (none of the grids)'} | {chains}, {rounds}"
              f"{'' if reached else ' (stopped: ' + why.split(': ', 1)[-1].split(':')[-1].strip() + ')'} | "
              f"[{t['ci_low']:.4g}, {t['ci_high']:.4g}] ({w:.3f}) | {t['ci_low'] <= truth <= t['ci_high']} | {saving} |")
    outcomes.cache.write_text(json.dumps(outcomes.known))
    print(f"{outcomes.ran} chains run now, {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
