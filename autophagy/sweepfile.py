"""Reading a sweep file: YAML and `--set` overrides in, a validated `SweepConfig` out, and back.

The order: the overrides, the backend (its name picks the class of the `model:` section), the
sections (config.py), the grid's axes and values (grid.py), what a threshold search needs of the
grid, and last the collapse metric's default (the backend's first metric). Every message starts
with the file, then the dotted field: `sweeps/demo.yaml: finetune.steps: must be positive`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from autophagy import backends, grid
from autophagy.config import CollapseConfig, ConfigError, Section, SweepConfig, check, parse, set_dotted


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs; VALUE is YAML (`--set 'grid.seed=[0, 1]'`)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, text = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {key}: value is not valid YAML ({err})") from None
    return out


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: sweep file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the sweep file must be a mapping of fields")
    return raw


def load(path: str | Path, overrides: dict | None = None) -> SweepConfig:
    return from_dict(load_yaml(path), str(path), overrides)


def from_dict(raw: dict, source: str = "<sweep>", overrides: dict | None = None) -> SweepConfig:
    """Validate a raw mapping (plus dotted overrides) into a SweepConfig; errors name `source`."""
    raw = copy.deepcopy(raw)  # the overrides are set in place
    try:
        for key, value in (overrides or {}).items():
            known = _defaults_tree(raw)
            set_dotted(known, key, value, f"--set {key}", must_exist=not key.startswith("grid."))
            set_dotted(raw, key, value, key, must_exist=False)
        return _resolve(raw)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def _resolve(raw: dict) -> SweepConfig:
    name, known = raw.get("backend"), backends.names()
    check(isinstance(name, str), "backend", "missing (required): one of " + ", ".join(known))
    check(name in known, "backend", f"unknown backend {name!r} (known: {', '.join(known)})")
    model = parse(backends.model_config_class(name), raw.get("model") or {}, "model")
    cfg = parse(SweepConfig, {**raw, "model": model})
    cfg = cfg.model_copy(update={"grid": grid.validate_axes(cfg)})
    _check_search(cfg)
    if cfg.collapse.metric is None:  # the backend's first metric, and its direction where none is given
        first = cfg.model.metric_names(cfg)[0]
        collapse = parse(CollapseConfig, {**(raw.get("collapse") or {}), "metric": first}, "collapse")
        cfg = cfg.model_copy(update={"collapse": collapse})
    return cfg


def _check_search(cfg: SweepConfig) -> None:
    """What the search and the control reference need of the grid."""
    control = cfg.collapse.reference == "control"
    if cfg.search.method == "grid":
        check(not control or 0.0 in cfg.grid["ratio"], "grid.ratio",
              "collapse.reference: control needs ratio 0 in the grid (the all-real control chains)")
        return
    n_listed = len(cfg.grid["ratio"]) + (control and 0.0 not in cfg.grid["ratio"])
    for axis, values in cfg.grid.items():
        n_listed *= len(values) if axis != "ratio" else 1
    check(cfg.search.max_chains >= n_listed, "search.max_chains",
          f"{cfg.search.max_chains} is fewer than the {n_listed} chains of the listed grid (round 0)")


def _defaults_tree(raw: dict) -> dict:
    """The full key tree (defaults filled) so that --set can refuse keys that do not exist."""
    tree = {name: f.default.model_dump(mode="json") if isinstance(f.default, Section) else None
            for name, f in SweepConfig.model_fields.items()}
    if raw.get("backend") in backends.names():
        tree["model"] = backends.model_config_class(raw["backend"]).model_construct().model_dump(mode="json")
    tree["grid"] = dict(raw.get("grid") or {})
    return tree


def dump(cfg: SweepConfig, path: Path) -> None:
    """The resolved sweep, every default filled: `load(path)` gives `cfg` back."""
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
