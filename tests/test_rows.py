"""rows.py: a writer killed mid-write leaves nothing a Parquet reader takes for data; a chain resumed
from an earlier checkpoint loses the failed attempt's later rows; errors a retry would repeat fail
the chain at once; Ray starts where the user meant it."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest

from autophagy import grid, rows, sweepfile
from autophagy.orchestrator import sweep

ROOT = Path(__file__).resolve().parents[1]


def _cfg(**over):
    base = {"generations": 4, "grid.seed": [0], "grid.ratio": [1.0], "grid.mitigation": ["none"],
            "checkpoint_interval_s": 0}
    return sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {**base, **over})


def _row(cell, g, loss=1.0):
    return {**cell.to_dict(), "generation": g, "status": "ok", "train_loss": loss}


def _plan(faults_file, faults):
    for old in faults_file.parent.glob(faults_file.name + ".fired-*"):
        old.unlink()
    faults_file.write_text(json.dumps(faults))


def _every_reader(metrics: Path) -> dict[str, pd.DataFrame]:
    return {
        "pandas": pd.read_parquet(metrics),
        "pyarrow": ds.dataset(metrics, format="parquet").to_table().to_pandas(),
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{metrics}/*.parquet')").df(),
        # polars (not installed here) reads every non-empty file of a directory: hence no
        # temporary inside DIR/metrics at all, which this listing checks for every reader.
        "listing": pd.concat([pd.read_parquet(f) for f in metrics.iterdir()]),
    }


def test_a_writer_killed_mid_write_leaves_nothing_a_reader_takes_for_data(tmp_path, monkeypatch):
    cfg = _cfg()
    cell = grid.cells(cfg)[0]
    metrics = tmp_path / "metrics"
    record = rows.ChainRows(metrics, cell.chain_id, rows.schema(cfg))
    record.put(_row(cell, 0), _row(cell, 1))

    # The worst moment to die: the temporary is complete (every row, readable), not yet renamed.
    write = rows.pq.write_table

    def killed(table, where):
        write(table, where)
        raise KeyboardInterrupt("SIGKILL")

    monkeypatch.setattr(rows.pq, "write_table", killed)
    with pytest.raises(KeyboardInterrupt):
        record.put(_row(cell, 2))
    monkeypatch.undo()
    [dead] = rows.partial_dir(metrics).iterdir()
    dead.rename(dead.with_name(f"{cell.chain_id}.parquet.lost-node-4242"))  # another process's
    for reader, df in _every_reader(metrics).items():
        assert sorted(df.generation) == [0, 1], reader

    # The chain's next write leaves a temporary that may be a live writer's (a second attempt's)...
    rows.ChainRows(metrics, cell.chain_id, rows.schema(cfg)).put(_row(cell, 2))
    [left] = rows.partial_dir(metrics).iterdir()
    # ...and removes it once it is older than any write takes.
    old = time.time() - rows.STALE_S - 1
    os.utime(left, (old, old))
    rows.ChainRows(metrics, cell.chain_id, rows.schema(cfg)).put(_row(cell, 2))
    assert list(rows.partial_dir(metrics).iterdir()) == []
    for reader, df in _every_reader(metrics).items():
        assert sorted(df.generation) == [0, 1, 2], reader


def test_drop_after_removes_later_rows_only(tmp_path):
    cfg = _cfg()
    cell = grid.cells(cfg)[0]
    record = rows.ChainRows(tmp_path, cell.chain_id, rows.schema(cfg))
    record.put(*(_row(cell, g) for g in range(5)))
    record.drop_after(2)
    assert [r["generation"] for r in rows.read_chain(tmp_path, cell.chain_id)] == [0, 1, 2]


def test_a_retry_that_diverges_sooner_leaves_no_row_of_the_first_attempt(ray_local, _faults, tmp_path):
    """The first attempt fails at generation 2 (retries exhausted) but has left rows of generations 3
    and 4 (what a driver killed before Tune saved its experiment state leaves, or a GPU attempt that
    got further); the resumed chain restores generation 1 and diverges at 2: its rows end there."""
    cfg = _cfg(retries=0)
    cell = grid.cells(cfg)[0]
    out = tmp_path / "run"
    _plan(_faults, [{"kind": "raise", "chain": cell.chain_id, "generation": 2}])
    sweep.run(cfg, out, progress=False)
    record = rows.ChainRows(out / "metrics", cell.chain_id, rows.schema(cfg))
    assert [r["status"] for r in record.rows.values()] == ["ok", "ok", "failed"]
    record.put(_row(cell, 3, loss=123.0), _row(cell, 4, loss=123.0))

    _plan(_faults, [{"kind": "diverge", "chain": cell.chain_id, "generation": 2}])
    sweep.run(cfg, out, resume=True, progress=False)
    df = rows.read_rows(out)
    assert df.generation.tolist() == [0, 1, 2]
    assert df.status.tolist() == ["ok", "ok", "diverged"]
    # The worker column names the Ray node (two raylets on one host share its IP).
    assert (df.worker.str.contains(f"node {ray_local.get_runtime_context().get_node_id()}")).all()


def test_a_data_error_in_the_chain_fails_it_at_once_without_retries(ray_local, tmp_path):
    # images_per_generation 40 > a pool of 30 real points: every retry would fail the same way.
    cfg = _cfg(retries=2, **{"model.pool": 30})
    results = sweep.run(cfg, tmp_path / "run", progress=False)
    assert all(r.error is None for r in results), "the chain went through Tune's retries"
    df = rows.read_rows(tmp_path / "run")
    assert df.status.tolist() == ["failed"] and df.generation.tolist() == [0]
    assert df.error.iloc[0].startswith("DataError: images_per_generation=40 but the real training pool holds only 30")


def test_without_an_address_ray_starts_afresh_whatever_its_session_directory_records(tmp_path):
    """A dead cluster recorded in RAY_TMPDIR/ray/ray_current_cluster (a `ray start --head` that
    died): a bare ray.init() would retry its GCS for minutes; init_ray starts a local instance."""
    temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        (temp / "ray").mkdir()
        (temp / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")
        script = ("import ray; from autophagy.orchestrator import sweep; sweep.init_ray(None); "
                  "print('gcs', ray.get_runtime_context().gcs_address); ray.shutdown()")
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        done = subprocess.run([sys.executable, "-c", script], env={**env, "RAY_TMPDIR": str(temp)},
                              capture_output=True, text=True, timeout=90, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        gcs = done.stdout.split("gcs ")[-1].strip()
        assert gcs and not gcs.endswith(":1"), done.stdout
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def test_read_rows_unifies_files_written_before_a_column_existed(tmp_path):
    """One dataset read with the sweep's schema: a file without `worker` or timings (an older writer)
    reads them as null; without the schema, the files' own schemas are unified."""
    import pyarrow as pa

    cfg = _cfg(**{"grid.ratio": [0.0, 1.0]})
    new, old = grid.cells(cfg)
    full = rows.schema(cfg)
    rows.ChainRows(tmp_path / "metrics", new.chain_id, full).put(
        {**_row(new, 0), "worker": "10.0.0.1 cpu", "seconds_sample": 2.5}, {**_row(new, 1), "worker": "10.0.0.1 cpu"})
    older = pa.schema([f for f in full if f.name != "worker" and not f.name.startswith("seconds_")])
    rows.ChainRows(tmp_path / "metrics", old.chain_id, older).put(_row(old, 0, loss=7.0))

    for schema in (full, None):
        df = rows.read_rows(tmp_path, schema)
        assert set(df.columns) == set(full.names) and len(df) == 3
        got = df.set_index(["chain_id", "generation"])
        assert got.loc[(old.chain_id, 0), "train_loss"] == 7.0 and pd.isna(got.loc[(old.chain_id, 0), "worker"])
        assert got.loc[(new.chain_id, 0), "seconds_sample"] == 2.5
        assert df[["chain_id", "generation"]].values.tolist() == sorted(df[["chain_id", "generation"]].values.tolist())
    assert list(rows.read_rows(tmp_path, full).columns) == full.names
    assert rows.read_rows(tmp_path / "nothing").columns.tolist() == ["chain_id", "generation"]


def test_read_rows_reads_only_the_columns_asked_for_and_the_key(tmp_path):
    """status reads 6 columns of 27: the same values as the full read, keyed and sorted the same; a
    column the schema lacks (an older sweep) is left out, not an error."""
    cfg = _cfg(**{"grid.ratio": [0.0, 1.0]})
    full = rows.schema(cfg)
    for cell in grid.cells(cfg):
        rows.ChainRows(tmp_path / "metrics", cell.chain_id, full).put(
            *({**_row(cell, g), "worker": f"w{g}"} for g in (1, 0)))
    wanted = ["status", "worker", "no_such_column"]
    some = rows.read_rows(tmp_path, full, columns=wanted)
    assert some.columns.tolist() == ["chain_id", "generation", "status", "worker"]
    pd.testing.assert_frame_equal(some, rows.read_rows(tmp_path, full)[some.columns.tolist()])
    assert rows.read_rows(tmp_path / "nothing", columns=["status"]).columns.tolist() == ["chain_id", "generation", "status"]
