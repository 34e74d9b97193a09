"""Chain ids (grid.py): the ids of ordinary values stay as runs, docs and tests know them; any other
axis value (a path with `/` and `..`, spaces, non-ASCII) gives a file-name-safe id, and a sweep over
such values validates and runs without writing outside its directory."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from autophagy import grid, rows, sweepfile
from autophagy.cli import main
from autophagy.orchestrator import sweep

ROOT = Path(__file__).resolve().parents[1]
SAFE = re.compile(r"[A-Za-z0-9._+-]+")


@pytest.mark.parametrize("values, want", [  # as grid.py gave them before slugs (commit 1e6f6a3)
    ({"ratio": 0.5, "seed": 1, "mitigation": "none"}, "none-r0.5-s1-6fd065"),
    ({"ratio": 1.0, "seed": 0, "mitigation": "accumulate+greedy", "images_per_generation": 4096},
     "accumulate+greedy-r1-s0-images_per_generation4096-9917f7"),
    ({"ratio": 0.25, "seed": 2, "mitigation": "none", "sampling.cfg_scale": 3.0}, "none-r0.25-s2-cfg_scale3.0-57f1b9"),
])
def test_ids_of_ordinary_values_are_unchanged(values, want):
    assert grid.chain_id(values) == want


@pytest.mark.parametrize("value", ["data/cifar10/train", "../up", "..", "with space", "café ✓", "/abs/" + "deep/" * 30])
def test_ids_of_any_value_are_safe_file_names(value):
    got = grid.chain_id({"ratio": 0.5, "seed": 0, "mitigation": "none", "data.path": value})
    assert SAFE.fullmatch(got) and ".." not in got and len(got) <= 128, got


def test_values_sharing_a_slug_keep_distinct_ids():
    base = {"ratio": 0.5, "seed": 0, "mitigation": "none"}
    a, b = (grid.chain_id({**base, "data.path": v}) for v in ("a/b", "a b"))
    assert a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0] and a != b


def _odd_paths(tmp_path) -> list[str]:
    """Two data sets, one of them under a name with a space, non-ASCII and a `..`."""
    odd = tmp_path / "odd dir" / "café ✓"
    odd.mkdir(parents=True)
    rng = np.random.default_rng(0)
    paths = []
    for i, where in enumerate([tmp_path, odd]):
        path = where / f"digits {i}.npz"
        np.savez(path, images=rng.integers(0, 16, (400, 8, 8)).astype(np.uint8), labels=np.arange(400) % 10)
        paths.append(str(path))
    paths[1] = str(tmp_path / "odd dir" / ".." / "odd dir" / "café ✓" / "digits 1.npz")
    return paths


def test_a_digits_grid_over_two_odd_data_paths_validates(tmp_path, capsys):
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({
        "name": "d", "backend": "digits", "generations": 2, "images_per_generation": 50, "data": {"holdout": 100},
        "grid": {"ratio": [0.5], "seed": [0], "mitigation": ["none"], "data.path": _odd_paths(tmp_path)}}))
    assert main(["validate", str(sweep_file)]) == 0, capsys.readouterr().err
    ids = [line.strip() for line in capsys.readouterr().out.splitlines()[-2:]]
    assert len(set(ids)) == 2 and all(SAFE.fullmatch(i) for i in ids), ids


def test_a_sweep_over_odd_values_runs_inside_its_directory(ray_local, tmp_path):
    # gmm draws its own points: data.path is only an axis value here, what matters is where files land
    values = ["plain", "../../../../../escape/x y", "café/✓"]
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {"generations": 2, "grid.ratio": [0.5], "grid.seed": [0],
                                                         "grid.mitigation": ["none"], "grid.data.path": values})
    out = tmp_path / "deep" / "run"
    results = sweep.run(cfg, out, progress=False)
    assert all(r.error is None for r in results)
    assert set(tmp_path.rglob("*")) == {tmp_path / "deep", out, *out.rglob("*")}
    assert not [p for up in (tmp_path, *tmp_path.parents[:3]) for p in up.glob("escape")]
    got = rows.read_rows(out)
    assert sorted(got["data.path"].unique()) == sorted(values) and len(got) == 3 * (cfg.generations + 1)
    assert sorted(p.stem for p in (out / "metrics").iterdir()) == sorted(c.chain_id for c in grid.cells(cfg))
