"""docs/results_shi.md from the rows of sweeps/shi_digits.yaml: Shi et al.'s transition from
generalization to memorization, checked on from-scratch chains on the bundled digits.

    python benchmarks/shi_mechanism.py              # runs the sweep first if runs/shi_digits_10seeds has no rows
    python benchmarks/shi_mechanism.py --rows DIR --out PAGE

Per N, mitigation and generation: mean over seeds (min..max) of the training set's pixel entropy,
the generalization score (classifier features), nearest_train_l2 (pixels), the memorization share
and FID; Pearson r between the training set's entropy and log generalization score (Shi et al.:
0.91); and each finding tested over seeds (holds / the opposite / cannot yet be told, Holm-adjusted).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SWEEP = "sweeps/shi_digits.yaml"
COLUMNS = ("entropy_train_pixels", "generalization_score", "nearest_train_l2", "memorization_share", "fid")
N = "images_per_generation"


def load(rows: Path) -> pd.DataFrame:
    """The ok rows up to the last generation every chain reached (all of them once the sweep is
    done; a page rebuilt mid-sweep compares like with like and says so)."""
    from autophagy import grid, sweepfile

    cfg = sweepfile.load(rows / "config.yaml")
    df = pd.read_parquet(rows / "metrics")
    df = df[df.status == "ok"]
    common = int(df.groupby("chain_id").generation.max().min())
    done = df.chain_id.nunique() == len(grid.cells(cfg)) and common == cfg.generations
    df = df[df.generation <= common].sort_values(["mitigation", N, "seed", "generation"])
    df.attrs["partial"] = None if done else (df.chain_id.nunique(), len(grid.cells(cfg)), common)
    return df


def cell(values: pd.Series) -> str:
    return f"{values.mean():.3g} ({values.min():.3g}..{values.max():.3g})"


def table(df: pd.DataFrame, n: int, mitigation: str) -> list[str]:
    sub = df[(df[N] == n) & (df.mitigation == mitigation)]
    lines = ["| generation | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for g, rows in sub.groupby("generation"):
        lines.append(f"| {g} | " + " | ".join(cell(rows[c]) for c in COLUMNS) + " |")
    return lines


def pearson(df: pd.DataFrame) -> float:
    return float(np.corrcoef(df.entropy_train_pixels, np.log(df.generalization_score))[0, 1])


def findings(df: pd.DataFrame) -> list[str]:
    """Each finding as a test over seeds: the mean per-seed difference, its sign-flip p-value and
    interval (autophagy.analysis.compare.mean_difference: the seed is the unit, exact at any number
    of seeds), Holm over every finding on the page. With k seeds p >= 2/2^k, so at 2 seeds nothing
    can hold: the page says how many seeds would tell instead of counting seeds that agree."""
    from autophagy.analysis.compare import ALPHA, holm, mean_difference, relative_spread, seeds_needed

    last = df.generation.max()
    sizes = sorted(df[N].unique())

    def at(n, mitigation, g, column):
        sub = df[(df[N] == n) & (df.mitigation == mitigation) & (df.generation == g)]
        return sub.set_index("seed")[column]

    tests = []  # (text, per-seed differences, +1 if the claim says they are positive)

    for n in sizes:
        for column, what in (("entropy_train_pixels", "the training set's entropy falls"),
                             ("generalization_score", "the generalization score falls")):
            d = at(n, "none", last, column) - at(n, "none", 0, column)
            tests.append((f"N = {n}, replace: {what} (generation 0, real, {at(n, 'none', 0, column).mean():.3g} to "
                          f"generation {last} {at(n, 'none', last, column).mean():.3g})", d, -1))
        d = at(n, "none", last, "memorization_share") - at(n, "none", 0, "memorization_share")
        tests.append((f"N = {n}, replace: samples become copies (memorization share "
                      f"{at(n, 'none', 0, 'memorization_share').mean():.2f} to "
                      f"{at(n, 'none', last, 'memorization_share').mean():.2f})", d, +1))
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        drop = {n: 1 - at(n, "none", last, "generalization_score") / at(n, "none", 0, "generalization_score")
                for n in (small, large)}
        tests.append((f"Faster at small N: the score's relative fall by generation {last} is "
                      f"{drop[small].mean():.0%} at N = {small} and {drop[large].mean():.0%} at N = {large}",
                      drop[small] - drop[large], +1))
    if "greedy" in set(df.mitigation):
        for n in sizes:
            for column, what, sign in (("generalization_score", "keeps the generalization score up", +1),
                                       ("entropy_train_pixels", "keeps the training set's entropy up", +1),
                                       ("fid", "lowers FID", -1)):
                d = at(n, "greedy", last, column) - at(n, "none", last, column)
                tests.append((f"N = {n}, Greedy Selection vs replace at generation {last}, paired by seed: "
                              f"selection {what}", d, sign))

    results = [mean_difference(d.dropna().to_numpy(dtype=float)) for _, d, _ in tests]
    adjusted = holm([r["p"] for r in results])
    out = []
    for (text, d, sign), r, p_holm in zip(tests, results, adjusted):
        if p_holm < ALPHA:
            verdict = "**holds**" if r["estimate"] * sign > 0 else "**the opposite**"
        else:
            verdict = "**cannot yet be told**"
        interval = "open" if r["low"] == -np.inf else f"{r['low']:+.3g}, {r['high']:+.3g}"
        line = (f"- {text}: {verdict} (mean per-seed change {r['estimate']:+.3g} [{interval}], p = {r['p']:.3g}, "
                f"Holm {p_holm:.3g}, {r['n']} seeds")
        if verdict == "**cannot yet be told**":
            need = seeds_needed(relative_spread(d.dropna().to_numpy(dtype=float)), len(tests))
            line += f"; p >= {min(1.0, 2 / 2 ** max(r['n'], 1)):.3g} at best" + (
                f", about {int(need)} seeds would tell" if need == need else "")
        out.append(line + ")")
    for n in sizes:
        r = pearson(df[(df[N] == n) & (df.generation >= 1)])
        out.append(f"- N = {n}: Pearson r between the training set's entropy and log generalization score, "
                   f"over every chain's generations 1..{last}: {r:.2f} (Shi et al.: 0.91; descriptive, no test)")
    out.append(f"\nTests: the sign-flip test of the mean per-seed difference (the seed is the unit), Holm over "
               f"the {len(tests)} findings above.")
    return out


def page(df: pd.DataFrame, rows: Path) -> str:
    lines = ["# Shi et al.'s mechanism on the bundled digits (sweep `shi-digits`, backend `ddpm`)", "",
             f"Made from the rows of `{rows}` (`{SWEEP}`) by `python benchmarks/shi_mechanism.py`.", "",
             f"{df.chain_id.nunique()} chains: a class-conditional DDPM trained from scratch every generation "
             f"(`finetune.init: scratch`) on N digits, replace at ratio 1 (`none`) and Greedy Selection in pixels "
             f"(`greedy`), seeds {sorted(df.seed.unique().tolist())}, generations 0..{df.generation.max()}. "
             "Entropy: Kozachenko-Leonenko (k = 5) of the generation's training set in pixels; generalization "
             "score: mean L2 from a sample to its nearest training image in the digit classifier's features "
             "(Shi et al.: MSE on DINOv2); nearest_train_l2: the same in pixels in [0, 1]; memorization share: "
             "samples nearer than 1/3 of their second-nearest training image (pixels). Cells: mean over seeds "
             "(min..max).", ""]
    if df.attrs.get("partial"):
        have, want, common = df.attrs["partial"]
        lines += [f"**Partial**: built mid-sweep from {have} of the sweep's {want} chains, up to generation "
                  f"{common}, the last every one of them reached. Rerun the command once the sweep is done.", ""]
    lines += ["## Findings, checked on these rows", ""]
    lines += findings(df)
    lines += ["", "## By generation", ""]
    for n in sorted(df[N].unique()):
        for mitigation in sorted(df.mitigation.unique()):
            lines += [f"### N = {n}, `{mitigation}`", ""] + table(df, n, mitigation) + [""]
    notes = Path(__file__).with_name("shi_mechanism_notes.md")  # the why, written by hand from these rows
    if notes.is_file():
        lines += ["## Where it holds, and why", "", notes.read_text().strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="runs/shi_digits_10seeds")
    parser.add_argument("--out", default="docs/results_shi.md")
    args = parser.parse_args(argv)
    rows = Path(args.rows)
    if not (rows / "metrics").is_dir():
        subprocess.run([sys.executable, "-m", "autophagy", "run", SWEEP, "--out", str(rows)], check=True)
    Path(args.out).write_text(page(load(rows), rows))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
