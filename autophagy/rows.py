"""Per-generation rows in Parquet: one file per chain under DIR/metrics, one row per generation.

Layout: DIR/metrics/<chain_id>.parquet, each holding that chain's rows sorted by generation, all
with one schema (`schema(cfg)`): chain_id, ratio, seed, mitigation, <extra axes by dotted key>,
generation, status ('ok', 'diverged' or 'failed'), error, worker (node IP and GPU share that ran
it), finished_at (UTC), n_real, n_synthetic, train_loss,
<backend metrics>, seconds_*. `pandas.read_parquet(DIR/metrics)`, DuckDB
(`read_parquet('DIR/metrics/*.parquet')`) and polars read it as one table.

Writes are idempotent: writing generation g replaces any earlier row of (chain, g), and every file
is replaced atomically, so a reader never sees half a file and a retried or resumed generation
never duplicates a row. The temporary is written to DIR/.metrics-writing/, outside DIR/metrics:
pyarrow, pandas and DuckDB's `*.parquet` glob would skip a hidden name inside it, but polars reads
every non-empty file of a directory it is given, so a writer killed mid-write (a lost node) must
leave its half file elsewhere; the chain's next write removes it. When a chain resumes from an
earlier checkpoint than its last rows (`drop_after`), the failed attempt's later rows go. A running chain's rows are written by its
Tune trial (`ChainRows`, which holds them in memory: one file write per checkpoint, no read); the driver writes
only the row of a chain that failed for good.
"""

from __future__ import annotations

import glob
import os
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from autophagy.generation import COLUMNS, TIMINGS, GenerationRecord

KEY = ["chain_id", "generation"]
# A temporary older than this is a dead writer's: a chain's file is written in milliseconds, and a
# live one may be another attempt's (a driver or node lost while its trial still runs).
STALE_S = 60.0
STATUSES = ("ok", "diverged", "failed")


def schema(cfg) -> pa.Schema:
    """The columns of every row of this sweep, fixed before any chain runs: the cell's axes, then
    the generation record's fields (generation.py), the backend's metrics and the timings."""
    def arrow_type(values) -> pa.DataType:
        return pa.array(list(values)).type

    fields = [("chain_id", pa.string()), ("ratio", pa.float64()), ("seed", pa.int64()), ("mitigation", pa.string())]
    fields += [(axis, arrow_type(values)) for axis, values in cfg.grid.items() if axis not in ("ratio", "seed", "mitigation")]
    fields += list(COLUMNS.items())
    fields += [(m, pa.float64()) for m in cfg.model.metric_names(cfg)]
    fields += [(t, pa.float64()) for t in TIMINGS]
    return pa.schema(fields)


def chain_file(metrics_dir: Path, chain_id: str) -> Path:
    return Path(metrics_dir) / f"{chain_id}.parquet"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def partial_dir(metrics_dir: Path) -> Path:
    """Where writers put their temporaries: same filesystem as DIR/metrics (an atomic rename), but
    outside it, where no reader of DIR/metrics looks."""
    return Path(metrics_dir).parent / ".metrics-writing"


def _read(path: Path) -> pa.Table:
    """One file, read in one go: pyarrow opens a path more than once (footer, then pages), and a
    writer's rename in between would pair one file's footer with another's pages."""
    return pq.read_table(pa.BufferReader(path.read_bytes()))


def read_chain(metrics_dir: Path, chain_id: str) -> list[dict]:
    path = chain_file(metrics_dir, chain_id)
    return _read(path).to_pylist() if path.exists() else []


def ended(chain_rows, generations: int) -> bool:
    """Whether one chain's rows end it: every generation 0..G written, or a divergence (nothing
    follows one). A 'failed' row never ends a chain: `--resume` retries it."""
    chain_rows = list(chain_rows)
    statuses = {r["status"] for r in chain_rows}
    return "failed" not in statuses and (
        "diverged" in statuses or {r["generation"] for r in chain_rows} >= set(range(generations + 1)))


class ChainRows:
    """One chain's rows, read once, then kept in memory by the one process that writes them."""

    def __init__(self, metrics_dir: Path, chain_id: str, row_schema: pa.Schema):
        self.path, self.schema = chain_file(metrics_dir, chain_id), row_schema
        self.rows = {r["generation"]: r for r in read_chain(metrics_dir, chain_id)}

    def put(self, *new: dict) -> None:
        """Insert or replace the rows of these generations, then rewrite the file atomically."""
        for row in new:
            row = row.row() if isinstance(row, GenerationRecord) else row
            if row.get("status") not in STATUSES:
                raise ValueError(f"row status {row.get('status')!r} is not one of {STATUSES}")
            if unknown := [k for k in row if k not in self.schema.names]:
                # pa.Table.from_pylist(schema=) would drop them without a word
                raise ValueError(f"row of {row.get('chain_id')} generation {row.get('generation')}: column(s) "
                                 f"{', '.join(map(repr, unknown))} not in the sweep's schema (rows.schema)")
            self.rows[row["generation"]] = row
        self._write()

    def fail(self, cell: dict, error: str) -> int:
        """Record that the chain could not go on: a 'failed' row, with the error, at the generation
        after its last good one (replaced when a later --resume finishes it). Returns that generation."""
        generation = max((g for g, r in self.rows.items() if r["status"] == "ok"), default=-1) + 1
        self.put({**cell, "generation": generation, "status": "failed", "error": error, "copy_of": "",
                  "finished_at": datetime.now(timezone.utc)})
        return generation

    def drop_after(self, generation: int) -> None:
        """Remove the rows after `generation`: a chain resumed from generation g's checkpoint goes on
        from g + 1, and rows a failed attempt left beyond g must not survive where the new attempt
        ends sooner (it diverges or fails earlier: GPU kernels, a lost node)."""
        stale = [g for g in self.rows if g > generation]
        for g in stale:
            del self.rows[g]
        if stale:
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_dir(self.path.parent)
        partial.mkdir(exist_ok=True)
        chain_id = self.path.name[: -len(".parquet")]
        for old in partial.glob(f"{glob.escape(chain_id)}.parquet.*"):  # left by a writer killed mid-write
            if time.time() - _mtime(old) > STALE_S:  # not one being written now (a zombie attempt's)
                old.unlink(missing_ok=True)
        tmp = partial / f"{chain_id}.parquet.{socket.gethostname()}-{os.getpid()}"
        table = pa.Table.from_pylist([self.rows[g] for g in sorted(self.rows)], schema=self.schema)
        pq.write_table(table, tmp)
        os.replace(tmp, self.path)


def write_row(metrics_dir: Path, row: dict, row_schema: pa.Schema) -> None:
    """Insert or replace the row of (row['chain_id'], row['generation'])."""
    ChainRows(metrics_dir, row["chain_id"], row_schema).put(row)


def read_rows(out_dir: Path, row_schema: pa.Schema | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Every row of a sweep directory (finished or still running), sorted by chain and generation.

    DIR/metrics is read as one pyarrow dataset, not file by file: 2,050 chains in 0.9-1.8 s, not 5
    (BENCHMARKS.md). Files are listed first and each is opened once, so a chain's file replaced mid-read
    (a running sweep) is read whole, old or new. `row_schema` (`schema(cfg)`) gives the columns; a file
    written before a column existed reads it as null. Without it, the files' schemas are unified.
    `columns`: only these (the key columns always): 6 of 27 columns read in half the time.
    """
    metrics = Path(out_dir) / "metrics"
    files = sorted(str(f) for f in metrics.glob("*.parquet")) if metrics.is_dir() else []
    wanted = None if columns is None else list(dict.fromkeys([*KEY, *columns]))
    if not files:
        return pd.DataFrame(columns=wanted or KEY)
    if row_schema is None:
        row_schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    if wanted is not None:
        wanted = [c for c in wanted if c in row_schema.names]
    df = ds.dataset(files, schema=row_schema, format="parquet").to_table(columns=wanted).to_pandas()
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)
