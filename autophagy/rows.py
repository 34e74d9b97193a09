"""Per-generation rows in Parquet: one file per chain under DIR/metrics, one row per generation.

Layout: DIR/metrics/<chain_id>.parquet, each holding that chain's rows sorted by generation, with
columns chain_id, ratio, seed, mitigation, <extra axes by dotted key>, generation, status,
n_real, n_synthetic, train_loss, <backend metrics>, seconds_*. `pandas.read_parquet(DIR/metrics)`,
DuckDB (`read_parquet('DIR/metrics/*.parquet')`) and polars read it as one table.

Writes are idempotent: writing generation g replaces any earlier row of (chain, g), and every file
is replaced atomically (written beside, then renamed), so a reader never sees half a file and a
retried or resumed generation never duplicates a row.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

KEY = ["chain_id", "generation"]


def chain_file(metrics_dir: Path, chain_id: str) -> Path:
    return Path(metrics_dir) / f"{chain_id}.parquet"


def write_row(metrics_dir: Path, row: dict) -> None:
    """Insert or replace the row of (row['chain_id'], row['generation'])."""
    path = chain_file(metrics_dir, row["chain_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    new = pd.DataFrame([row])
    if path.exists():
        old = pd.read_parquet(path)
        old = old[old["generation"] != row["generation"]]
        new = pd.concat([old, new], ignore_index=True) if len(old) else new
    new = new.sort_values("generation", kind="stable").reset_index(drop=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    new.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def read_rows(out_dir: Path) -> pd.DataFrame:
    """Every row of a sweep directory (finished or still running), sorted by chain and generation."""
    metrics = Path(out_dir) / "metrics"
    files = sorted(metrics.glob("*.parquet")) if metrics.is_dir() else []
    if not files:
        return pd.DataFrame(columns=KEY)
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)
