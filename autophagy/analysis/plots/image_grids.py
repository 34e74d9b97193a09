"""Sample grids, generation by generation: what the chains' fixed noise turns into as they feed
on themselves. One panel per (series, ratio), from the chain with the lowest seed; rows are
generations (the strips `autophagy/sample_strips.py` saved), the generation of collapse labelled in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autophagy import sample_strips
from autophagy.analysis.axes import groups, label, series_axes
from autophagy.analysis.plots.common import save
from matplotlib.figure import Figure

GAP = 128  # the grey of sample_strips.encode's gaps


def plot_image_grids(out_dir: Path, ttc: pd.DataFrame, axes: list[str], path: Path) -> Path | None:
    """None when no chain has saved a grid (a backend without images, or no generation yet)."""
    by = series_axes(axes)
    ratios = sorted(ttc["ratio"].astype(float).unique())
    series = list(groups(ttc, by))
    panels = {}
    for i, (values, sub) in enumerate(series):
        for j, ratio in enumerate(ratios):
            chains = sub[sub["ratio"].astype(float) == ratio].sort_values("seed")
            if chains.empty:
                continue
            chain = chains.iloc[0]
            strips = sample_strips.read_chain(out_dir, chain["chain_id"])
            if strips:
                panels[i, j] = (chain, strips)
    if not panels:
        return None
    stacked = [_stack(strips) for _, strips in panels.values()]
    aspect = max(a.shape[0] / a.shape[1] for a in stacked)  # height / width of the tallest panel
    fig = Figure(figsize=(3.4 * len(ratios), len(series) * (3.4 * aspect + 0.45) + 0.5), layout="constrained")
    cells = fig.subplots(len(series), len(ratios), squeeze=False)
    for i, (values, _) in enumerate(series):
        for j, ratio in enumerate(ratios):
            ax = cells[i, j]
            ax.set_xticks([])
            if (i, j) not in panels:
                ax.set_yticks([])
                ax.set_title(f"{label(values)}, ratio {ratio:g}: no samples", fontsize=8)
                continue
            chain, strips = panels[i, j]
            ax.imshow(_stack(strips), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            rows_h = next(iter(strips.values())).shape[0] + 1
            generations = sorted(strips)
            ax.set_yticks([k * rows_h + rows_h / 2 - 1 for k in range(len(generations))],
                          [f"g{g}" for g in generations], fontsize=7)
            collapsed_at = chain["time_to_collapse"] if not chain["censored"] else None
            for tick, g in zip(ax.get_yticklabels(), generations):
                if collapsed_at is not None and g == int(collapsed_at):
                    tick.set_color("red")
            ax.set_title(f"{label(values)}, ratio {ratio:g} (seed {chain['seed']})", fontsize=8)
    fig.suptitle("The same noise and labels every generation (collapse generation in red)", fontsize=9)
    return save(fig, path)


def _stack(strips: dict[int, np.ndarray]) -> np.ndarray:
    """Strips one under another, a grey line between; all to the widest one's width."""
    parts = [strips[g] for g in sorted(strips)]
    width = max(p.shape[1] for p in parts)
    out = []
    for p in parts:
        if p.ndim == 2:
            p = np.repeat(p[..., None], 3, axis=2)
        pad = np.full((p.shape[0], width - p.shape[1], 3), GAP, np.uint8)
        out += [np.concatenate([p, pad], axis=1), np.full((1, width, 3), GAP, np.uint8)]
    return np.concatenate(out[:-1])
