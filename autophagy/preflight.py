"""Preflight: what a sweep needs that no training is needed to check, checked before Ray starts.

`autophagy validate` and `autophagy run` call `check` after the config loads: a sweep that would
fail in every chain (a data path that does not exist or does not load, a pool smaller than what a
cell draws from it, missing model or feature weights) is refused in one line naming the sweep file
and the field, with exit code 2, instead of a Ray traceback minutes later.

Each backend adds its own checks as a hook on its (light, torch-free) `model:` config class:
`preflight(cfg) -> int` checks its files and returns the size of the real training pool. Every
cell's N must fit in it: each chain draws its fixed real set of N from the pool (`mixing: share`
and `bertrand` alike; `bertrand` trains on all N of them), and `fresh_data` draws up to N afresh
each generation. A backend without the hook gets the generic checks only.
"""

from __future__ import annotations

import importlib.util

from autophagy import grid
from autophagy.config import ConfigError


# The package each of the sweep's `loggers` needs (orchestrator/trackers.py).
TRACKER_MODULES = {"tensorboard": ("tensorboardX", "tensorboardX"), "mlflow": ("mlflow", "mlflow-skinny"),
                   "wandb": ("wandb", "'autophagy[wandb]'")}


def check(cfg, source: str) -> None:
    """Raise ConfigError('<source>: <field>: ...') for the first thing that cannot work."""
    for i, name in enumerate(cfg.loggers):  # wandb is an optional extra; the others come with autophagy
        module, package = TRACKER_MODULES[name]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"{source}: loggers[{i}]: {name} is not installed (pip install {package})")
    pools: dict[str, int] = {}  # one load per distinct data/model section (axes may change them)
    for cell in grid.cells(cfg):
        c = grid.cell_config(cfg, cell)
        hook = getattr(c.model, "preflight", None)
        if hook is None:
            continue
        key = repr((c.data, c.model))
        if key not in pools:
            try:
                pools[key] = hook(c)
            except (ValueError, FileNotFoundError) as err:  # ConfigError, the data loaders' errors
                raise ConfigError(f"{source}: {_one_line(err)}") from None
        n = c.images_per_generation
        if n > pools[key]:
            raise ConfigError(f"{source}: images_per_generation: {n} (chain {cell.chain_id}) but the real "
                              f"training pool holds only {pools[key]} images (after data.holdout="
                              f"{c.data.holdout}{' and data.eval_only_classes' if c.data.eval_only_classes else ''})")


def _one_line(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]
