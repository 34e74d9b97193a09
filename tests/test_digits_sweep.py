"""The digits backend through Ray Tune, on a tiny model: a chain that raises, loses its worker
process (`os._exit`) or its actor (`ray.kill`) mid-way is retried from its checkpoint and ends with
the rows of an uninterrupted run; every generation leaves its sample grid, and the report shows them."""

import json

import numpy as np
import pandas as pd
import pytest

from autophagy import grid, rows, sample_strips, sweepfile
from autophagy.analysis.report import build_report
from autophagy.backends.digits.backend import DigitsBackend
from autophagy.chain import Chain
from autophagy.orchestrator import assets as shared_assets
from autophagy.orchestrator import sweep

RAW = {"name": "tiny-digits", "backend": "digits", "generations": 2, "images_per_generation": 40,
       "grid": {"ratio": [0.5, 1.0], "seed": [3], "mitigation": ["none"]},
       "model": {"channels": [8, 16], "pretrain_steps": 20, "pretrain_batch_size": 32, "classifier_steps": 100},
       "finetune": {"steps": 4, "batch_size": 16}, "sampling": {"steps": 3},
       "data": {"holdout": 100}, "resources": {"cpus": 1}, "retries": 1}
VALUES = ["train_loss", "fid", "class_coverage", "n_synthetic"]


@pytest.mark.parametrize("kind", ["raise", "exit", "kill"])
def test_digits_chain_retried_after_a_fault_equals_an_uninterrupted_one(ray_local, _faults, tmp_path, kind):
    cfg = sweepfile.from_dict(RAW)
    target = grid.cells(cfg)[1].chain_id
    for old in _faults.parent.glob(_faults.name + ".fired-*"):
        old.unlink()
    _faults.write_text(json.dumps([{"kind": kind, "chain": target, "generation": 1}]))
    try:
        results = sweep.run(cfg, tmp_path / "run", progress=False)
    finally:
        _faults.write_text("[]")
    assert all(r.error is None for r in results)
    assert (_faults.parent / (_faults.name + ".fired-0")).exists(), "the fault never fired"

    got = rows.read_rows(tmp_path / "run")
    assert len(got) == 2 * 3 and not got.duplicated(rows.KEY).any() and (got.status == "ok").all()
    cell = grid.cells(cfg)[1]
    chain = Chain(grid.cell_config(cfg, cell), cell, DigitsBackend(cfg, shared_assets.load_or_prepare(cfg)))
    want = []
    while not chain.finished:
        want.append(chain.run_generation())
    mine = got[got.chain_id == target].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[VALUES], pd.DataFrame(want)[VALUES], check_dtype=False)
    if kind != "raise":
        return

    # A strip of 20 fixed samples per generation; the same noise, so generation 0 of the two
    # chains (same seed, same base model, both trained on real data only) is the same picture.
    for c in grid.cells(cfg):
        strips = sample_strips.read_chain(tmp_path / "run", c.chain_id)
        assert sorted(strips) == [0, 1, 2]
        assert strips[0].shape == (8, 20 * 9 - 1)
    first = [sample_strips.read_chain(tmp_path / "run", c.chain_id)[0] for c in grid.cells(cfg)]
    np.testing.assert_array_equal(first[0], first[1])

    paths = build_report(tmp_path / "run")
    assert paths["samples"].is_file()
    assert "Samples, generation by generation" in paths["report"].read_text()
