"""Rows of simulated chains with a known truth, for the comparison tests and benchmarks/compare_power.py.

A chain's log FID moves each generation by  0.6 * max(ratio - shift, 0) + 0.3 * seed effect + noise,
so a mitigation with `shift` s behaves like the baseline at ratio - s: its threshold lies s higher.
The seed effect is drawn per (seed, mitigation block): `shared=True` gives both mitigations of a seed
the same one (the sweep's design: a seed fixes the real images), and every ratio of a seed carries
it (as seeding.py keys the noise streams by seed), so a seed's pairs are not independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate(ratios, seeds, shifts: dict[str, float], generations: int, rng: np.random.Generator,
             seed_sd: float = 0.3, noise: float = 0.15, shared: bool = True) -> pd.DataFrame:
    out = []
    for seed in seeds:
        common = rng.normal(0, seed_sd)
        for mitigation, shift in shifts.items():
            effect = common if shared else rng.normal(0, seed_sd)
            for r in ratios:
                log_fid = np.log(10.0) + rng.normal(0, 0.05)
                for g in range(generations + 1):
                    if g:
                        log_fid += 0.6 * max(r - shift, 0.0) + 0.3 * effect + rng.normal(0, noise)
                    out.append({"chain_id": f"{mitigation}-r{r:g}-s{seed}", "ratio": float(r), "seed": int(seed),
                                "mitigation": mitigation, "generation": g, "status": "ok",
                                "fid": float(np.exp(log_fid))})
    return pd.DataFrame(out)


def relabelled_null(ratios, n_seeds: int, generations: int, rng: np.random.Generator, **kw) -> pd.DataFrame:
    """Chains of one mitigation, relabelled as two: seeds n..2n-1 become `other` seeds 0..n-1.
    Nothing differs between the two names but which seeds' chains they hold."""
    rows = simulate(ratios, range(2 * n_seeds), {"none": 0.0}, generations, rng, **kw)
    moved = rows["seed"] >= n_seeds
    rows.loc[moved, "mitigation"] = "other"
    rows.loc[moved, "seed"] -= n_seeds
    rows["chain_id"] = rows["mitigation"] + "-r" + rows["ratio"].map("{:g}".format) + "-s" + rows["seed"].astype(str)
    return rows
