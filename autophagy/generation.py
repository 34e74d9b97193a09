"""One generation of one chain, as a typed record: its Parquet row, its sample strip and its timings.

The chain makes it (chain.py: build, finetune, sample, evaluate, the strip), the actor adds what
only it knows (actors/chain_actor.py: the worker, the checkpoint's seconds, when it finished), and
the trial writes it (orchestrator/trial.py: the strip to DIR/grids, `row()` to DIR/metrics). The
Parquet schema's fixed columns are this record's fields (`COLUMNS`, rows.schema), so a new column
is one field here; rows.ChainRows refuses a row with a key its schema lacks.

A record reads as a mapping of its row (`record["fid"]`, `dict(record)`, `pd.DataFrame(records)`),
read-only: what changes a record is a field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from autophagy.grid import Cell


@dataclass
class Timings:
    """Wall time of each step of a generation, in seconds (columns seconds_<step>)."""

    build: float = 0.0       # the training mix
    finetune: float = 0.0
    sample: float = 0.0      # the next generation's samples, and the sample strip
    evaluate: float = 0.0
    checkpoint: float = 0.0  # the samples' write, and the checkpoint when one is due

    def columns(self) -> dict[str, float]:
        return {f"seconds_{k}": v for k, v in dataclasses.asdict(self).items()}


TIMINGS = tuple(f"seconds_{f.name}" for f in dataclasses.fields(Timings))


def _column(arrow: pa.DataType, default: Any = None):
    return field(default=default, metadata={"arrow": arrow})


@dataclass(eq=False)
class GenerationRecord(Mapping):
    cell: Cell
    # The row's fixed columns, in schema order, each with its Parquet type.
    generation: int = _column(pa.int64())
    status: str = _column(pa.string(), "ok")  # 'ok', 'diverged' or 'failed' (rows.STATUSES)
    error: str | None = _column(pa.string())
    copy_of: str = _column(pa.string(), "")  # a chain that ran; a twin's copied rows name their source
    worker: str | None = _column(pa.string())  # node IP, Ray node id and GPU share: the actor's
    finished_at: datetime | None = _column(pa.timestamp("us", tz="UTC"))
    n_real: int | None = _column(pa.int64())
    n_synthetic: int | None = _column(pa.int64())
    train_loss: float | None = _column(pa.float64())
    # Then the backend's metrics (its metric_names, in order) and the timings.
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: Timings = field(default_factory=Timings)
    strip: bytes | None = None  # the sample strip (PNG; sample_strips.py), not a column

    def row(self) -> dict[str, Any]:
        """The Parquet row: the cell's axes, the fixed columns, the metrics, the timings."""
        return {**self.cell.to_dict(), **{name: getattr(self, name) for name in COLUMNS},
                **self.metrics, **self.seconds.columns()}

    def __getitem__(self, key: str) -> Any:
        return self.row()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.row())

    def __len__(self) -> int:
        return len(self.row())


COLUMNS: dict[str, pa.DataType] = {f.name: f.metadata["arrow"] for f in dataclasses.fields(GenerationRecord)
                                   if "arrow" in f.metadata}
