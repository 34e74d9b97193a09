"""Samples written once (samples.SampleStore): each generation's samples go to DIR/samples/<chain_id>/
once, a checkpoint holds references only (its size does not grow with the generation under any
mitigation), and restore reads them back, refusing files that are not the ones it was made with."""

import numpy as np
import pytest

from autophagy import checkpoint, grid, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.samples import Samples, SampleStore

CFG = sweepfile.from_dict({
    "name": "t", "backend": "gmm", "generations": 6, "images_per_generation": 30,
    "grid": {"ratio": [1.0], "seed": [0],
             "mitigation": ["none", "accumulate", "greedy", "threshold_decay", "healing", "accumulate+greedy"]},
    "mitigation_params": {"healing": {"after": 2, "generations": 2}},
})


def _chain(cell, store):
    cfg = grid.cell_config(CFG, cell)
    return Chain(cfg, cell, backend_class(cfg.backend)(cfg, {}), store)


def _strip(rows):
    return [{k: v for k, v in r.items() if not k.startswith("seconds_")} for r in rows]


@pytest.mark.parametrize("cell", grid.cells(CFG), ids=lambda c: c.mitigation)
def test_checkpoints_stay_one_size_and_resume_from_the_store(tmp_path, cell):
    store = SampleStore(tmp_path / cell.chain_id)
    chain, rows, sizes, saved = _chain(cell, store), [], set(), {}
    while not chain.finished:
        rows.append(chain.run_generation())
        saved[chain.next_generation] = chain.checkpoint_files()
        sizes.add(sum(len(b) for b in saved[chain.next_generation].values()))
    assert len(sizes) == 1, f"checkpoint sizes {sorted(sizes)} grow with the generation"
    assert sorted(p.name for p in store.directory.iterdir()) == [f"gen{g:03d}.safetensors" for g in range(7)]

    full = _strip(rows)
    for stop in (1, 3, 5):  # a fresh process resumes from the checkpoint after generation stop - 1
        second = _chain(cell, SampleStore(tmp_path / cell.chain_id))
        second.restore(saved[stop])
        tail = []
        while not second.finished:
            tail.append(second.run_generation())
        assert _strip(rows[:stop] + tail) == full


def test_restore_refuses_samples_that_are_not_the_checkpoints(tmp_path):
    cell = next(c for c in grid.cells(CFG) if c.mitigation == "accumulate")
    store = SampleStore(tmp_path / cell.chain_id)
    chain = _chain(cell, store)
    for _ in range(3):
        chain.run_generation()
    files = chain.checkpoint_files()

    # A later attempt at generation 1 wrote other samples (a GPU retry differs in the last bits).
    other = store.read(1)[0]
    store.write(1, Samples(other.x + np.float32(1e-3), other.y))
    with pytest.raises(checkpoint.CheckpointError, match="not those it was made with"):
        _chain(cell, store).restore(files, "ck")

    # A file damaged on disk.
    blob = bytearray(store.path(0).read_bytes())
    blob[-1] ^= 0xFF
    store.path(0).write_bytes(bytes(blob))
    with pytest.raises(checkpoint.CheckpointError, match=r"gen000.safetensors: corrupt"):
        _chain(cell, store).restore(files, "ck")
