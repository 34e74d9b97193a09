"""The generation record (autophagy/generation.py): the row, strip and timings of one generation,
from which the Parquet schema's fixed columns come."""

import dataclasses

import pandas as pd
import pyarrow as pa
import pytest

from autophagy import grid, rows, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.generation import COLUMNS, TIMINGS, GenerationRecord, Timings

CFG = sweepfile.from_dict({"name": "t", "backend": "gmm", "generations": 1, "images_per_generation": 30,
                           "grid": {"ratio": [0.5], "seed": [0, 1]}})
CELL = grid.cells(CFG)[0]


def test_the_schema_is_the_cell_then_the_records_fields_then_metrics_then_timings():
    names = rows.schema(CFG).names
    assert names == [*CELL.to_dict(), *COLUMNS, *CFG.model.metric_names(CFG), *TIMINGS]
    made = Chain(CFG, CELL, backend_class("gmm")(CFG, {})).run_generation()
    assert list(made.row()) == names  # the chain's record has every column, in order
    assert all(rows.schema(CFG).field(name).type == kind for name, kind in COLUMNS.items())


def test_a_record_reads_as_its_row():
    record = GenerationRecord(CELL, 3, n_real=5, metrics={"kl": 0.25}, seconds=Timings(finetune=1.5))
    assert record["generation"] == 3 and record["kl"] == 0.25 and record["seconds_finetune"] == 1.5
    assert dict(record) == record.row() and record == record.row()
    frame = pd.DataFrame([record, GenerationRecord(CELL, 4)])
    assert list(frame["generation"]) == [3, 4] and frame.columns[0] == "chain_id"
    with pytest.raises(TypeError):
        record["kl"] = 1.0  # read-only: a field changes a record


def test_the_chain_makes_the_record_and_the_rows_write_it(tmp_path):
    chain = Chain(CFG, CELL, backend_class("gmm")(CFG, {}))
    record = chain.run_generation()
    assert isinstance(record, GenerationRecord) and record.strip is None  # gmm has no images
    assert record.status == "ok" and record.n_real + record.n_synthetic == 30
    assert record.seconds.finetune > 0 and record.worker is None  # the worker is the actor's to add
    written = rows.ChainRows(tmp_path, CELL.chain_id, rows.schema(CFG))
    written.put(record)
    back = rows.read_chain(tmp_path, CELL.chain_id)[0]
    assert back == {k: v for k, v in record.row().items()}


def test_a_key_the_schema_does_not_know_is_refused_not_dropped(tmp_path):
    written = rows.ChainRows(tmp_path, CELL.chain_id, rows.schema(CFG))
    with pytest.raises(ValueError, match=r"column\(s\) 'sharpness' not in the sweep's schema"):
        written.put({**GenerationRecord(CELL, 0).row(), "sharpness": 1.0})
    assert not (tmp_path / f"{CELL.chain_id}.parquet").exists()


def test_a_new_field_is_a_new_column():
    """A column is one field: a record with one more (typed) field has it in its row, and the schema
    built from the record's fields has its type."""
    @dataclasses.dataclass(eq=False)
    class Wider(GenerationRecord):
        sharpness: float | None = dataclasses.field(default=None, metadata={"arrow": pa.float64()})

    columns = {f.name: f.metadata["arrow"] for f in dataclasses.fields(Wider) if "arrow" in f.metadata}
    assert list(columns) == [*COLUMNS, "sharpness"]
