"""The smoke sweep through local Ray Tune: schema, row count, uniqueness, resume adds nothing."""

from pathlib import Path

import pandas as pd
import pytest

from autophagy import checkpoint, config, grid, rows, sweepfile
from autophagy.orchestrator import sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(ray_local, tmp_path_factory):
    # checkpoint_interval_s: an hour, so each chain is checkpointed once, after its last generation.
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {"generations": 3, "grid.seed": [0], "checkpoint_interval_s": 3600})
    out = tmp_path_factory.mktemp("smoke") / "run"
    results = sweep.run(cfg, out, progress=False)
    return cfg, out, results


def test_every_chain_and_generation_has_exactly_one_row(smoke):
    cfg, out, results = smoke
    assert all(r.error is None for r in results)
    df = pd.read_parquet(out / "metrics")
    cells = grid.cells(cfg)
    assert len(df) == len(cells) * (cfg.generations + 1)
    assert not df.duplicated(["chain_id", "generation"]).any()
    assert set(df.chain_id) == {c.chain_id for c in cells}
    assert sorted(df.generation.unique()) == list(range(cfg.generations + 1))


def test_generations_within_the_checkpoint_interval_share_one_checkpoint(smoke):
    cfg, out, _ = smoke
    twins = grid.twins(grid.cells(cfg))
    for cell in (c for c in grid.cells(cfg) if c.chain_id not in twins):  # a twin has no trial
        saved = sorted((out / "tune" / cell.chain_id).glob("checkpoint_*"))
        assert len(saved) == 1, saved
        _, meta = checkpoint.unpack(checkpoint.read_dir(saved[0]), "test")
        assert meta["next_generation"] == cfg.generations + 1


def test_schema(smoke):
    cfg, out, _ = smoke
    df = rows.read_rows(out)
    expected = {"chain_id", "ratio", "seed", "mitigation", "generation", "status", "error", "copy_of", "worker", "finished_at", "n_real",
                "n_synthetic", "train_loss", "seconds_build", "seconds_finetune", "seconds_sample",
                "seconds_evaluate", "seconds_checkpoint", *cfg.model.metric_names()}
    assert {"variance", "loglik", "kl", "sample_variance", "variance_c0", "variance_c1"} <= expected
    assert set(df.columns) == expected
    assert df.ratio.dtype == float and df.generation.dtype.kind == "i" and (df.status == "ok").all()
    by_cell = df.groupby("chain_id").first()
    for cell in grid.cells(cfg):
        assert by_cell.loc[cell.chain_id, "ratio"] == cell.ratio
        assert by_cell.loc[cell.chain_id, "mitigation"] == cell.mitigation


def test_resolved_config_written(smoke):
    cfg, out, _ = smoke
    assert sweepfile.load(out / "config.yaml") == cfg


def test_rows_match_a_chain_run_without_ray(smoke):
    """Ray changes nothing: the rows equal those of the same cell driven directly."""
    from autophagy.backends import backend_class
    from autophagy.chain import Chain

    cfg, out, _ = smoke
    cell = grid.cells(cfg)[-1]
    chain = Chain(cfg, cell, backend_class(cfg.backend)(cfg, {}))
    direct = []
    while not chain.finished:
        direct.append(chain.run_generation())
    df = rows.read_rows(out)
    got = df[df.chain_id == cell.chain_id].sort_values("generation")
    for col in ("variance", "kl", "train_loss", "n_synthetic"):
        assert got[col].tolist() == [r[col] for r in direct]


def test_second_run_without_resume_is_refused(smoke):
    cfg, out, _ = smoke
    with pytest.raises(config.ConfigError, match="already holds a sweep; pass --resume"):
        sweep.run(cfg, out, progress=False)


def test_resume_with_other_config_is_refused(smoke):
    cfg, out, _ = smoke
    other = sweepfile.from_dict({**cfg.to_dict(), "generations": 9})
    with pytest.raises(config.ConfigError, match="fields generations differ"):
        sweep.run(other, out, resume=True, progress=False)


def test_resume_of_a_finished_sweep_adds_no_rows(smoke):
    cfg, out, _ = smoke
    before = rows.read_rows(out)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "metrics").iterdir()}
    results = sweep.run(cfg, out, resume=True, progress=False)
    assert all(r.error is None for r in results)
    after = rows.read_rows(out)
    pd.testing.assert_frame_equal(before, after)
    assert {p: p.stat().st_mtime_ns for p in (out / "metrics").iterdir()} == mtimes


def test_every_trial_carries_its_cell_and_an_older_state_without_resumes_from_the_rows(smoke, tmp_path):
    """One way for a trial to get its cell: a grid trial's config holds it, as a search's does. A
    Tune state whose trials lack it (an older autophagy's) is not restored: the chains resume from
    DIR's own record instead, and finished ones add nothing."""
    import json
    import shutil
    cfg, out, _ = smoke
    newest = sorted((out / "tune").glob("experiment_state-*.json"))[-1]
    trials = [json.loads(t[0]) for t in json.loads(newest.read_text())["trial_data"]]
    cells = {c.chain_id: c.to_dict() for c in grid.cells(cfg)}
    run = set(cells) - set(grid.twins(grid.cells(cfg)))  # a twin is a copy of its source's rows, no trial
    assert sorted(t["config"]["chain"] for t in trials) == sorted(run)
    for t in trials:
        assert grid.Cell.from_dict(t["config"]["cell"]).to_dict() == cells[t["config"]["chain"]]

    old = tmp_path / "run"
    shutil.copytree(out, old)
    assert sweep.restorable(old / "tune")
    for path in (old / "tune").glob("experiment_state-*.json"):
        state = json.loads(path.read_text())
        for t in state["trial_data"]:
            trial = json.loads(t[0])
            trial["config"].pop("cell")
            t[0] = json.dumps(trial)
        path.write_text(json.dumps(state))
    assert not sweep.restorable(old / "tune")
    before = rows.read_rows(old)
    results = sweep.run(cfg, old, resume=True, progress=False)
    assert all(r.error is None for r in results)
    pd.testing.assert_frame_equal(before, rows.read_rows(old))  # the set-aside path itself: test_disk_full.py


def test_rows_query_with_duckdb_as_the_readme_shows(smoke):
    duckdb = pytest.importorskip("duckdb")
    cfg, out, _ = smoke
    got = duckdb.sql(f"SELECT ratio, mitigation, avg(kl) AS kl FROM read_parquet('{out}/metrics/*.parquet') "
                     f"WHERE generation = {cfg.generations} GROUP BY ALL ORDER BY ALL").df()
    df = pd.read_parquet(out / "metrics")
    want = (df[df.generation == cfg.generations].groupby(["ratio", "mitigation"], as_index=False)["kl"].mean()
            .sort_values(["ratio", "mitigation"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_a_twin_runs_once_and_its_rows_copy_its_source(smoke):
    """accumulate at ratio 0 is none at ratio 0 (mitigations.twin): the smoke grid runs it once.
    Its copied rows equal the rows of a real accumulate chain at ratio 0, run in-process."""
    from test_faults import VALUES

    from autophagy.backends import backend_class
    from autophagy.chain import Chain

    cfg, out, results = smoke
    twins = grid.twins(grid.cells(cfg))
    assert twins == {grid.chain_id({"ratio": 0.0, "seed": 0, "mitigation": "accumulate"}):
                     grid.chain_id({"ratio": 0.0, "seed": 0, "mitigation": "none"})}
    assert len(results) == len(grid.cells(cfg)) - 1 and not (out / "tune" / next(iter(twins))).exists()
    got = rows.read_rows(out)
    assert set(got.loc[got.copy_of != "", "chain_id"]) == set(twins)
    assert (got.loc[got.chain_id.isin(twins.values()), "copy_of"] == "").all()
    twin = got[got.chain_id.isin(twins)].reset_index(drop=True)
    assert (twin.mitigation == "accumulate").all()
    cell = next(c for c in grid.cells(cfg) if c.chain_id in twins)
    chain = Chain(grid.cell_config(cfg, cell), cell, backend_class(cfg.backend)(cfg, {}))
    real = pd.DataFrame([chain.run_generation() for _ in range(cfg.generations + 1)])
    cols = ["chain_id", "mitigation", "generation", "n_real", "n_synthetic", *VALUES]
    pd.testing.assert_frame_equal(twin[cols], real[cols], check_dtype=False)
