"""The chain loop on the gmm backend: determinism, resume equivalence, divergence."""

import math

import numpy as np
import pytest

from autophagy import grid, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain, DataError

CFG = sweepfile.from_dict({
    "name": "t", "backend": "gmm", "generations": 4, "images_per_generation": 30,
    "grid": {"ratio": [0.5, 1.0], "seed": [0, 1], "mitigation": ["none", "accumulate"]},
})


def _chain(cell, cfg=CFG):
    return Chain(cfg, cell, backend_class(cfg.backend)(cfg, {}))


def _run(chain):
    out = []
    while not chain.finished:
        out.append(chain.run_generation())
    return out


def _strip(rows):
    return [{k: v for k, v in r.items() if not k.startswith("seconds_")} for r in rows]


@pytest.mark.parametrize("index", [0, 7])
def test_same_cell_twice_gives_equal_rows(index):
    cell = grid.cells(CFG)[index]
    assert _strip(_run(_chain(cell))) == _strip(_run(_chain(cell)))


def test_seeds_differ():
    cells = grid.cells(CFG)
    a = _run(_chain(cells[0]))  # none, seed 0
    b = _run(_chain(cells[2]))  # none, seed 1
    assert a[-1]["variance"] != b[-1]["variance"]


@pytest.mark.parametrize("index", [4, 5])  # ratio 1.0, none and accumulate
def test_resume_from_any_checkpoint_equals_uninterrupted(index):
    cell = grid.cells(CFG)[index]
    full = _strip(_run(_chain(cell)))
    for stop in range(1, CFG.generations + 1):
        first = _chain(cell)
        head = [first.run_generation() for _ in range(stop)]
        second = _chain(cell)  # a fresh process would start here
        second.restore(first.checkpoint_files())
        assert _strip(head + _run(second)) == full


def test_rows_carry_cell_and_counts():
    cell = grid.cells(CFG)[4]
    rows = _run(_chain(cell))
    assert [r["generation"] for r in rows] == list(range(CFG.generations + 1))
    assert rows[0]["n_synthetic"] == 0 and rows[1]["n_synthetic"] == 30
    assert all(r["chain_id"] == cell.chain_id and r["ratio"] == 1.0 and r["status"] == "ok" for r in rows)


def test_replace_keeps_only_last_generation_accumulate_keeps_all():
    cells = grid.cells(CFG)
    replace, accumulate = _chain(cells[4]), _chain(cells[5])
    _run(replace), _run(accumulate)
    assert list(replace.history) == [4] and list(accumulate.history) == [0, 1, 2, 3, 4]


def test_non_finite_loss_marks_the_chain_diverged(monkeypatch):
    chain = _chain(grid.cells(CFG)[0])
    chain.run_generation()
    monkeypatch.setattr(chain.backend, "finetune", lambda train, seed: {"loss": float("nan")})
    row = chain.run_generation()
    assert row["status"] == "diverged" and chain.finished and row["generation"] == 1
    assert math.isnan(row["variance"]) and math.isnan(row["kl"])


def test_too_many_images_for_the_real_pool_is_a_clear_error():
    cfg = sweepfile.from_dict({**CFG.to_dict(), "images_per_generation": 5000})
    with pytest.raises(DataError, match="images_per_generation=5000 but the real training pool holds only 2000"):
        _chain(grid.cells(cfg)[0], cfg)


def test_gmm_loses_variance_on_its_own_samples():
    """Shumailov et al.: fitted to few of its own samples, a Gaussian mixture loses variance."""
    cfg = sweepfile.from_dict({**CFG.to_dict(), "generations": 30, "images_per_generation": 20,
                            "model": {"components": 1}})
    ends = [_run(_chain(c, cfg))[-1]["variance"] for c in grid.cells(cfg) if c.ratio == 1.0 and c.mitigation == "none"]
    start = _run(_chain(grid.cells(cfg)[0], cfg))[0]["variance"]
    assert np.mean(ends) < 0.8 * start
