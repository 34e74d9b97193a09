"""A run directory read: its resolved config (DIR/config.yaml) and its rows (DIR/metrics).

The one reader `autophagy status`, `report`, `compare`, `results` and `autophagy.open` share; it imports
neither Ray nor the analysis, so a command that only counts chains stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from autophagy import sweepfile
from autophagy.config import SweepConfig
from autophagy.rows import read_rows, schema


def load_config(out_dir: Path) -> SweepConfig:
    """DIR/config.yaml, resolved; FileNotFoundError when DIR is no sweep directory."""
    path = Path(out_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{out_dir}: not a sweep directory (no config.yaml)")
    return sweepfile.load(path)


def load_run(out_dir: Path, rows: pd.DataFrame | None = None,
             columns: Sequence[str] | None = None) -> tuple[SweepConfig, pd.DataFrame]:
    """(resolved config, every row so far) of a run directory; `rows` already read are used as they are.
    `columns`: only these row columns (a reader that needs few: status reads 6 of 27, half the time)."""
    cfg = load_config(out_dir)
    return cfg, load_rows(out_dir, cfg, columns) if rows is None else rows


def load_rows(out_dir: Path, cfg: SweepConfig, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every row so far, with `cfg` (its config, already loaded) giving the columns; `columns` as in load_run."""
    return read_rows(out_dir, schema(cfg), columns=columns)
