"""Preflight (autophagy/preflight.py): `validate` and `run` refuse, before Ray starts and in one line
naming the file and the field, what would fail in every chain; a refused run blocks no rerun."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from autophagy import config, preflight, rows, sweepfile
from autophagy.cli import main
from autophagy.orchestrator import sweep

ROOT = Path(__file__).resolve().parents[1]
GMM = {"name": "t", "backend": "gmm", "generations": 2, "images_per_generation": 40,
       "grid": {"ratio": [0.5], "seed": [0], "mitigation": ["none"]}, "resources": {"cpus": 0.5}}
DIGITS = {"name": "d", "backend": "digits", "generations": 2, "images_per_generation": 50,
          "grid": {"ratio": [0.5], "seed": [0], "mitigation": ["none"]}, "data": {"holdout": 200}}


def _write(tmp_path, raw) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _refused(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _npz(tmp_path, labels) -> str:
    path = tmp_path / "digits.npz"
    np.savez(path, images=np.zeros((len(labels), 8, 8), np.uint8), labels=np.asarray(labels))
    return str(path)


@pytest.mark.parametrize("name, changes, field", [
    ("N above the gmm pool", {"model": {"pool": 30}}, "images_per_generation: 40"),
    ("an axis of N", {"grid": {**GMM["grid"], "images_per_generation": [40, 5000]}}, "images_per_generation: 5000"),
])
def test_validate_refuses_a_pool_smaller_than_a_cell_needs(tmp_path, capsys, name, changes, field):
    path = _write(tmp_path, {**GMM, **changes})
    err = _refused(capsys, ["validate", str(path)])
    assert err.startswith(f"autophagy: error: {path}: {field}") and "pool holds only" in err


@pytest.mark.parametrize("data, field", [
    (lambda t: {"path": str(t / "nowhere.npz")}, "data.path="),
    (lambda t: {"path": _npz(t, [0, 1] * 90), "holdout": 150}, "images_per_generation: 50"),
    (lambda t: {"path": _npz(t, [0] * 30), "holdout": 40}, "data.holdout: 40 held-out images leave none"),
    (lambda t: {"path": _npz(t, [0, 1] * 300), "eval_only_classes": [7]}, "data.eval_only_classes: classes [7]"),
])
def test_validate_loads_the_digits_data(tmp_path, capsys, data, field):
    path = _write(tmp_path, {**DIGITS, "data": {**DIGITS["data"], **data(tmp_path)}})
    assert field in _refused(capsys, ["validate", str(path)])


def test_validate_refuses_a_missing_sd_pipeline(tmp_path, capsys):
    path = ROOT / "sweeps" / "pu_sdturbo.yaml"
    err = _refused(capsys, ["validate", str(path), "--set", f"model.path={tmp_path / 'sd'}"])
    assert err.startswith(f"autophagy: error: {path}: ") and f"model.path='{tmp_path / 'sd'}': no such directory" in err


def test_run_is_refused_before_anything_is_written(tmp_path, capsys):
    path = _write(tmp_path, {**GMM, "model": {"pool": 30}})
    _refused(capsys, ["run", str(path), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_a_run_refused_after_ray_starts_blocks_no_rerun(ray_local, tmp_path):
    cfg = sweepfile.from_dict({**GMM, "resources": {"cpus": 64}})
    with pytest.raises(config.ConfigError, match="resources.cpus: 64 per chain"):
        sweep.run(cfg, tmp_path / "run", progress=False)
    fixed = sweepfile.from_dict(GMM)
    sweep.run(fixed, tmp_path / "run", progress=False)  # the same command with the fix, no --resume
    assert sweepfile.load(tmp_path / "run" / "config.yaml") == fixed
    assert len(rows.read_rows(tmp_path / "run")) == fixed.generations + 1


def test_every_problem_is_listed_at_once(tmp_path, capsys, monkeypatch):
    """shi_cifar10 on a machine without its data, its DINOv2 weights nor a tracker package (W&B's
    module made unfindable where it is installed): one line names all three fields, so one pass fixes them."""
    monkeypatch.setitem(preflight.TRACKER_MODULES, "wandb", ("autophagy_no_such_module", "'autophagy[wandb]'"))
    missing = [n for n, (module, _) in preflight.TRACKER_MODULES.items() if importlib.util.find_spec(module) is None]
    path = ROOT / "sweeps" / "shi_cifar10.yaml"
    data, weights = tmp_path / "MISSING", tmp_path / "no-dinov2"
    err = _refused(capsys, ["validate", str(path), "--set", f"data.path={data}", "--set", f"metrics.dinov2_path={weights}",
                            "--set", f"loggers=[{missing[0]}]"])
    assert err.startswith(f"autophagy: error: {path}: 3 problems: (1) loggers[0]: {missing[0]} is not installed")
    assert f"(2) metrics.dinov2_path='{weights}'" in err and f"(3) data.path='{data}'" in err


def test_every_missing_sd_file_is_listed_at_once(tmp_path, capsys):
    path = ROOT / "sweeps" / "pu_sdturbo.yaml"
    sets = {"model.path": tmp_path / "sd", "model.inception_weights": tmp_path / "inception.pth",
            "model.clip_path": tmp_path / "clip", "data.path": tmp_path / "images"}
    err = _refused(capsys, ["validate", str(path), *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")]])
    assert f"{path}: 4 problems:" in err
    for field, value in sets.items():
        assert f"{field}='{value}'" in err or f"{field}: {value}" in err, (field, err)
