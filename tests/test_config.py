import json
import pickle
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
import yaml

from autophagy import config, grid, sweepfile
from autophagy.cli import main

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "name": "t",
    "backend": "gmm",
    "generations": 3,
    "images_per_generation": 20,
    "grid": {"ratio": [0.0, 0.5, 1.0], "seed": [0, 1], "mitigation": ["none", "accumulate"]},
}


def _write(tmp_path, raw, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    return path


def _with(**changes):
    raw = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        node, parts = raw, key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if value is _DELETE:
            node.pop(parts[-1])
        else:
            node[parts[-1]] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize("sweep", sorted((ROOT / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_sweeps_validate(sweep):
    cfg = sweepfile.load(sweep)
    assert len(grid.cells(cfg)) >= 1


def test_good_file_resolves_defaults_and_cells(tmp_path):
    cfg = sweepfile.load(_write(tmp_path, GOOD))
    assert cfg.finetune.steps == 100 and cfg.model.components == 2 and cfg.retries == 2
    cells = grid.cells(cfg)
    assert len(cells) == 12 and len({c.chain_id for c in cells}) == 12
    assert {(c.ratio, c.seed, c.mitigation) for c in cells} == {
        (r, s, m) for r in (0.0, 0.5, 1.0) for s in (0, 1) for m in ("none", "accumulate")}


def test_chain_ids_are_stable_and_readable(tmp_path):
    a = [c.chain_id for c in grid.cells(sweepfile.load(_write(tmp_path, GOOD)))]
    b = [c.chain_id for c in grid.cells(sweepfile.from_dict(GOOD))]
    assert a == b
    assert a[0].startswith("none-r0-s0-")


def test_resolved_config_round_trips(tmp_path):
    cfg = sweepfile.load(_write(tmp_path, GOOD))
    sweepfile.dump(cfg, tmp_path / "resolved.yaml")
    assert sweepfile.load(tmp_path / "resolved.yaml") == cfg


BAD = [
    # (what is wrong, raw sweep or text, the field the message must name)
    ("unknown top-level key", _with(generatons=3), "generatons: unknown key"),
    ("unknown section key", _with(finetune__stepz=3), "finetune.stepz: unknown key"),
    ("unknown model key", _with(model__layers=3), "model.layers: unknown key"),
    ("wrong type", _with(generations="three"), "generations: expected an integer"),
    ("bool as int", _with(generations=True), "generations: expected an integer"),
    ("float as int", _with(finetune__steps=1.5), "finetune.steps: expected an integer"),
    ("zero generations", _with(generations=0), "generations: must be >= 1"),
    ("negative steps", _with(finetune__steps=-5), "finetune.steps: must be positive"),
    ("negative lr", _with(finetune__lr=-0.1), "finetune.lr: must be positive"),
    ("cond_drop of one", _with(finetune__cond_drop=1.0), "finetune.cond_drop: must be in [0, 1)"),
    ("bad literal", _with(finetune__init="last"), "finetune.init: must be one of"),
    ("ratio above one", _with(grid__ratio=[0.5, 1.5]), "grid.ratio[1]: a ratio is a share"),
    ("ratio below zero", _with(grid__ratio=[-0.1]), "grid.ratio[0]"),
    ("ratio as text", _with(grid__ratio=["half"]), "grid.ratio[0]"),
    ("missing ratio axis", _with(grid__ratio=_DELETE), "grid.ratio: missing"),
    ("empty axis", _with(grid__seed=[]), "grid.seed: expected a non-empty list"),
    ("duplicate ratios", _with(grid__ratio=[0.5, 0.5]), "grid.ratio: duplicate values"),
    ("duplicate seeds", _with(grid__seed=[1, 1]), "grid.seed: duplicate values"),
    ("negative seed", _with(grid__seed=[-1]), "grid.seed[0]: a seed is an integer"),
    ("unknown mitigation", _with(grid__mitigation=["none", "magic"]), "grid.mitigation[1]: unknown mitigation 'magic'"),
    ("unknown backend", _with(backend="vae"), "backend: unknown backend 'vae'"),
    ("missing backend", _with(backend=_DELETE), "backend: missing"),
    ("missing name", _with(name=_DELETE), "name: missing"),
    ("unknown axis field", _with(**{"grid__sampling.nope": [1, 2]}), "unknown key 'sampling.nope'"),
    ("axis over a section", _with(**{"grid__finetune": [1, 2]}), "grid.finetune"),
    ("axis with bad value", _with(**{"grid__finetune.steps": [10, -1]}), "grid.finetune.steps[1]: finetune.steps: must be positive"),
    ("sweep-level axis", _with(**{"grid__retries": [1, 2]}), "grid.retries: 'retries' shapes the whole sweep"),
    ("negative cpus", _with(resources__cpus=0), "resources.cpus: must be positive"),
    ("fractional multi-gpu", _with(resources__gpus=1.5), "resources.gpus"),
    ("persist zero", _with(collapse__persist=0), "collapse.persist: must be >= 1"),
    ("section not a mapping", _with(finetune=[1, 2]), "finetune: expected a mapping"),
    ("too few images", _with(images_per_generation=1), "images_per_generation: must be >= 2"),
    ("not yaml", "name: [unclosed", "not valid YAML"),
    ("not a mapping", "- just\n- a list\n", "must be a mapping"),
]


@pytest.mark.parametrize("what,raw,message", BAD, ids=[b[0] for b in BAD])
def test_bad_sweep_files_are_refused_naming_file_and_field(tmp_path, what, raw, message):
    path = _write(tmp_path, raw)
    with pytest.raises(config.ConfigError) as err:
        sweepfile.load(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(config.ConfigError, match="sweep file not found"):
        sweepfile.load(tmp_path / "nope.yaml")


def test_set_overrides_fields_and_axes(tmp_path):
    path = _write(tmp_path, GOOD)
    over = sweepfile.parse_set(["generations=5", "grid.seed=[3]", "finetune.steps=7",
                             "grid.sampling.cfg_scale=[1.5, 3]"])
    cfg = sweepfile.load(path, over)
    assert cfg.generations == 5 and cfg.finetune.steps == 7 and cfg.grid["seed"] == (3,)
    cells = grid.cells(cfg)
    assert len(cells) == 3 * 2 * 2 and {c.values()["sampling.cfg_scale"] for c in cells} == {1.5, 3.0}
    assert grid.cell_config(cfg, cells[-1]).sampling.cfg_scale == 3.0


@pytest.mark.parametrize("item,message", [
    ("finetune.stepz=3", "unknown key 'finetune.stepz'"),
    ("nothing=3", "unknown key 'nothing'"),
    ("generations", "expected KEY=VALUE"),
    ("generations=[1", "not valid YAML"),
    ("generations=-2", "generations: must be >= 1"),
])
def test_bad_set_is_refused(tmp_path, item, message):
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[")):
        sweepfile.load(_write(tmp_path, GOOD), sweepfile.parse_set([item]))


def test_cli_validate_json(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    assert main(["validate", str(path), "--json", "--set", "grid.seed=[0]"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["generations"] == 3
    assert len(out["cells"]) == 6
    assert set(out["cells"][0]) == {"chain_id", "ratio", "seed", "mitigation"}


def test_cli_validate_bad_file_exits_nonzero_naming_field(tmp_path):
    path = _write(tmp_path, _with(grid__ratio=[2.0]))
    proc = subprocess.run([sys.executable, "-m", "autophagy", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert str(path) in proc.stderr and "grid.ratio[0]" in proc.stderr


# ------------------------------------------------------------------ mitigation parameters, mixing

MITIGATION_BAD = [
    ("pool factor below one", _with(mitigation_params__greedy__pool_factor=0.5),
     "mitigation_params.greedy.pool_factor: must be >= 1"),
    ("unknown selection space", _with(mitigation_params__threshold_decay__space="latent"),
     "mitigation_params.threshold_decay.space: must be one of"),
    ("decay of one", _with(mitigation_params__threshold_decay__decay=1.0),
     "mitigation_params.threshold_decay.decay: must be in (0, 1)"),
    ("negative tau0", _with(mitigation_params__threshold_decay__tau0=-3), "mitigation_params.threshold_decay.tau0"),
    ("unknown parameter", _with(mitigation_params__greedy__m=5), "mitigation_params.greedy.m: unknown key"),
    ("unknown mitigation section", _with(mitigation_params__selection={}), "mitigation_params.selection: unknown key"),
    ("redifine drop of one", _with(mitigation_params__redifine__cond_drop=1.0),
     "mitigation_params.redifine.cond_drop: must be in [0, 1)"),
    ("redifine unknown schedule", _with(mitigation_params__redifine__cfg_schedule="exp"),
     "mitigation_params.redifine.cfg_schedule: must be one of"),
    ("healing after zero", _with(mitigation_params__healing__after=0), "mitigation_params.healing.after: must be >= 1"),
    ("healing for zero", _with(mitigation_params__healing__generations=0),
     "mitigation_params.healing.generations: must be >= 1"),
    ("healing never starts", _with(grid__mitigation=["none", "accumulate+healing"], mitigation_params__healing__after=3),
     "mitigation_params.healing.after: must be < generations=3"),
    ("unknown sampling schedule", _with(sampling__cfg_schedule="step"), "sampling.cfg_schedule: must be one of"),
    ("negative cfg_end", _with(sampling__cfg_end=-1), "sampling.cfg_end: must be >= 0"),
    ("unknown mixing", _with(mixing="lambda"), "mixing: must be one of 'share', 'bertrand'"),
    ("conflicting mitigations", _with(grid__mitigation=["greedy+threshold_decay"]),
     "grid.mitigation[0]: mitigation 'greedy+threshold_decay': threshold_decay conflicts with greedy"),
    ("mitigation params axis out of range", _with(**{"grid__mitigation_params.greedy.pool_factor": [2, 0.5]}),
     "grid.mitigation_params.greedy.pool_factor[1]: mitigation_params.greedy.pool_factor: must be >= 1"),
]


@pytest.mark.parametrize("what,raw,message", MITIGATION_BAD, ids=[b[0] for b in MITIGATION_BAD])
def test_bad_mitigation_parameters_are_refused_naming_the_field(tmp_path, what, raw, message):
    path = _write(tmp_path, raw)
    with pytest.raises(config.ConfigError) as err:
        sweepfile.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_mitigation_parameters_mixing_and_schedules_resolve(tmp_path):
    raw = _with(mixing="bertrand", grid__mitigation=["none", "redifine", "accumulate+greedy", "healing"],
                mitigation_params__greedy__pool_factor=5, mitigation_params__healing__after=2,
                sampling__cfg_schedule="linear", **{"grid__mitigation_params.healing.generations": [1, 2]})
    cfg = sweepfile.load(_write(tmp_path, raw))
    assert cfg.mixing == "bertrand" and cfg.mitigation_params.greedy.pool_factor == 5.0
    assert cfg.mitigation_params.healing.after == 2 and cfg.mitigation_params.threshold_decay.tau0 is None
    assert cfg.sampling.cfg_schedule == "linear" and cfg.mitigation_params.redifine.cfg_schedule == "cosine"
    cells = grid.cells(cfg)
    assert {grid.cell_config(cfg, c).mitigation_params.healing.generations for c in cells} == {1, 2}
    sweepfile.dump(cfg, tmp_path / "resolved.yaml")
    assert sweepfile.load(tmp_path / "resolved.yaml") == cfg
    over = sweepfile.parse_set(["mitigation_params.threshold_decay.tau0=12.5", "mixing=share"])
    again = sweepfile.load(_write(tmp_path, raw), over)
    assert again.mitigation_params.threshold_decay.tau0 == 12.5 and again.mixing == "share"


def test_every_refusal_is_one_line():
    for _, raw, _ in BAD + MITIGATION_BAD:
        if isinstance(raw, dict):
            with pytest.raises(config.ConfigError) as err:
                sweepfile.from_dict(raw, "sweeps/x.yaml")
            assert "\n" not in str(err.value) and str(err.value).startswith("sweeps/x.yaml: ")


def test_config_is_frozen_pickles_and_compares(tmp_path):
    cfg = sweepfile.load(_write(tmp_path, GOOD))
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # Ray ships it to every trial
    assert hash(cfg.finetune) == hash(sweepfile.from_dict(GOOD).finetune)
    assert cfg.model_copy(update={"generations": 4}) != cfg
    with pytest.raises(pydantic.ValidationError):
        cfg.finetune.steps = 3


def test_a_cross_section_rule_holds_for_every_grid_value(tmp_path):
    raw = _with(**{"grid__metrics.entropy_k": [3, 40]})  # 40 neighbours of 20 images
    with pytest.raises(config.ConfigError, match=r"grid\.metrics\.entropy_k\[1\]: metrics\.entropy_k: must be below"):
        sweepfile.load(_write(tmp_path, raw))
