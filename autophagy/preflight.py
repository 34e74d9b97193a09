"""Preflight: what a sweep needs that no training is needed to check, checked before Ray starts.

`autophagy validate` and `autophagy run` call `check` after the config loads: a sweep that would
fail in every chain (a data path that does not exist or does not load, a pool smaller than what a
cell draws from it, missing model or feature weights) is refused with exit code 2, instead of a
Ray traceback minutes later, in one line that lists every problem found, each naming the sweep
file's field: a sweep copied to a new machine is fixed in one pass, not one rerun per path.

Each backend adds its own checks by overriding the declared hook of its (light, torch-free)
`model:` config class, `ModelSection.preflight(cfg, problems) -> int | None`: it checks its files, each independent check inside
`with problems.guard():` so that one failing does not hide the next, and returns the size of the
real training pool (None when the data could not be read). Every
cell's N must fit in it: each chain draws its fixed real set of N from the pool (`mixing: share`
and `bertrand` alike; `bertrand` trains on all N of them), and `fresh_data` draws up to N afresh
each generation. A backend that does not override it gets the generic checks only.
"""

from __future__ import annotations

import importlib.util
import shutil
from contextlib import contextmanager
from pathlib import Path

from autophagy import grid
from autophagy.config import ConfigError


# The package each of the sweep's `loggers` needs (orchestrator/trackers.py).
TRACKER_MODULES = {"tensorboard": ("tensorboardX", "tensorboardX"), "mlflow": ("mlflow", "mlflow-skinny"),
                   "wandb": ("wandb", "'autophagy[wandb]'")}


class Problems:
    """What preflight found, one line each, in order and once (every cell of a bad data.path says the same)."""

    def __init__(self):
        self.lines: dict[str, None] = {}

    def add(self, line: str) -> None:
        self.lines.setdefault(line)

    @contextmanager
    def guard(self):
        """Run one check: its error (ConfigError, the data loaders' errors) is recorded, not raised."""
        try:
            yield
        except (ValueError, FileNotFoundError) as err:
            self.add(_one_line(err))

    def raise_for(self, source: str) -> None:
        lines = list(self.lines)
        if len(lines) == 1:
            raise ConfigError(f"{source}: {lines[0]}")
        if lines:
            raise ConfigError(f"{source}: {len(lines)} problems: " + " ".join(f"({i}) {x}" for i, x in enumerate(lines, 1)))


def check(cfg, source: str) -> None:
    """Raise ConfigError('<source>: <field>: ...'), or '<source>: K problems: (1) <field>: ... (2) ...'
    for every thing that cannot work."""
    problems = Problems()
    for i, name in enumerate(cfg.loggers):  # wandb is an optional extra; the others come with autophagy
        module, package = TRACKER_MODULES[name]
        if importlib.util.find_spec(module) is None:
            problems.add(f"loggers[{i}]: {name} is not installed (pip install {package})")
    too_big: set[tuple[int, int]] = set()
    pools: dict[str, int | None] = {}  # one load per distinct data/model section (axes may change them)
    for cell in grid.cells(cfg):
        c = grid.cell_config(cfg, cell)
        key = repr((c.data, c.model))
        if key not in pools:
            pools[key] = c.model.preflight(c, problems)
        n, pool = c.images_per_generation, pools[key]
        if pool is not None and n > pool and (n, pool) not in too_big:  # once per N, not per seed
            too_big.add((n, pool))
            problems.add(f"images_per_generation: {n} (chain {cell.chain_id}) but the real training pool holds "
                         f"only {pool} images (after data.holdout={c.data.holdout}"
                         f"{' and data.eval_only_classes' if c.data.eval_only_classes else ''})")
    problems.raise_for(source)


def _one_line(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]


# Disk per sample, by backend, as DIR/samples stores it (samples.py: uint8 C×H×W images, float32
# 2-D points for gmm, plus an int64 label each), and per checkpoint where BENCHMARKS.md measured
# it ("Storage": 35 kB for a digits chain at any generation). A backend not listed here counts no
# checkpoints: the estimate is then a lower bound, and says so.
SAMPLE_BYTES = {"gmm": lambda m: 2 * 4 + 8, "digits": lambda m: 8 * 8 + 8,
                "ddpm": lambda m: 3 * m.resolution ** 2 + 8, "stable-diffusion": lambda m: 3 * m.resolution ** 2 + 8}
CHECKPOINT_BYTES = {"digits": 35_000}


def disk_needed(cfg) -> tuple[int, bool]:
    """(bytes the sweep's chains will write: every generation's samples and the `checkpoint_keep`
    checkpoints plus the one being written, per chain; whether checkpoints are counted)."""
    per_sample = SAMPLE_BYTES.get(cfg.backend)
    per_checkpoint = CHECKPOINT_BYTES.get(cfg.backend)
    total = 0
    for cell in grid.cells(cfg):
        c = grid.cell_config(cfg, cell)
        if per_sample is not None:
            total += (c.generations + 1) * c.images_per_generation * per_sample(c.model)
        total += (c.checkpoint_keep + 1) * (per_checkpoint or 0)
    return total, per_checkpoint is not None


def disk_warning(cfg, out) -> str | None:
    """One line when the filesystem holding `out` has less free space than `disk_needed`; a
    warning, not a refusal (the estimate is rough, and a full disk stops the sweep resumably)."""
    need, counted = disk_needed(cfg)
    path = Path(out)
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free
    if free >= need:
        return None
    return (f"warning: {out}: the sweep needs about {need / 1e6:,.1f} MB"
            f"{'' if counted else ' (samples only; checkpoints not counted)'} but its filesystem has "
            f"{free / 1e6:,.1f} MB free; a full disk stops the sweep (exit 3) until space is freed and it is --resume'd")
