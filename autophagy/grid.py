"""The sweep's grid: ratio x seed x mitigation (x any extra axis), expanded into cells.

A cell is one chain. Its `chain_id` is stable (a readable slug plus a hash of every axis value),
so rows, checkpoints and trial directories trace back to it across runs and resumes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from autophagy import mitigations
from autophagy.config import CORE_AXES, NOT_AN_AXIS, ConfigError, SweepConfig, with_overrides

DEFAULT_AXES = {"seed": (0,), "mitigation": ("none",)}


@dataclass(frozen=True)
class Cell:
    chain_id: str
    ratio: float
    seed: int
    mitigation: str
    extra: tuple[tuple[str, Any], ...] = ()  # (dotted config key, value) of the extra axes

    def values(self) -> dict[str, Any]:
        """Every axis value, keyed as its Parquet column (extra axes by their dotted key)."""
        return {"ratio": self.ratio, "seed": self.seed, "mitigation": self.mitigation, **dict(self.extra)}

    def to_dict(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, **self.values()}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Cell":
        extra = tuple((k, v) for k, v in d.items() if k not in ("chain_id", *CORE_AXES))
        return Cell(d["chain_id"], float(d["ratio"]), int(d["seed"]), d["mitigation"], extra)


def validate_axes(cfg: SweepConfig) -> dict[str, tuple]:
    """Check every axis and its values; return them ordered ratio, seed, mitigation, extras."""
    raw = dict(cfg.grid)
    if "ratio" not in raw:
        raise ConfigError("grid.ratio: missing (required): the shares of synthetic images to sweep")
    axes = {"ratio": raw.pop("ratio")}
    for name, default in DEFAULT_AXES.items():
        axes[name] = raw.pop(name, default)
    axes.update(raw)
    out = {}
    for name, values in axes.items():
        where = f"grid.{name}"
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"{where}: expected a non-empty list of values")
        if len(set(map(_key, values))) != len(values):
            raise ConfigError(f"{where}: duplicate values {list(values)}")
        out[name] = tuple(_check_value(cfg, name, v, f"{where}[{i}]") for i, v in enumerate(values))
    return out


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _check_value(cfg: SweepConfig, axis: str, value: Any, where: str) -> Any:
    if axis == "ratio":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where}: a ratio is a share of synthetic images in [0, 1], got {value!r}")
        return float(value)
    if axis == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where}: a seed is an integer >= 0, got {value!r}")
        return value
    if axis == "mitigation":
        try:
            mitigations.parse(value, cfg.mitigation_params)  # its parameters as the sweep sets them
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
        return value
    if axis.split(".")[0] in NOT_AN_AXIS:
        raise ConfigError(f"grid.{axis}: {axis!r} shapes the whole sweep and cannot be a grid axis")
    if isinstance(value, (dict, list)):
        raise ConfigError(f"grid.{axis}: an axis must name a single field, not a section")
    try:
        leaf = with_overrides(cfg, {axis: value}).to_dict()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    for part in axis.split("."):
        leaf = leaf[part]
    return leaf  # as the field holds it (an integer given for a float: the float)


# What a chain id may hold: it names files and directories (DIR/metrics/<id>.parquet, DIR/tune/<id>).
UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
SLUG_MAX = 64  # characters of one value in an id; the hash tells apart values that share a slug


def slug(value: Any) -> str:
    """A value as a piece of a file name: itself if it is one already (numbers, names: the ids of
    existing runs stay as they were), else its runs of other characters (`/`, spaces, non-ASCII)
    and its `..` as `_`, cut to its last SLUG_MAX characters (a path's most telling end)."""
    text = str(value)
    if not UNSAFE.search(text) and ".." not in text:
        return text
    return UNSAFE.sub("_", text).replace("..", "_")[-SLUG_MAX:]


def chain_id(values: dict[str, Any]) -> str:
    """Readable, unique and safe as a file name: `none-r0.5-s1[-cfg_scale3]-<6 hex of every axis value>`."""
    digest = hashlib.sha1(_key(values).encode()).hexdigest()[:6]
    parts = [str(values["mitigation"]), f"r{values['ratio']:g}", f"s{values['seed']}"]
    parts += [f"{k.split('.')[-1]}{slug(v)}" for k, v in values.items() if k not in CORE_AXES]
    return "-".join(parts) + "-" + digest


def make_cell(values: dict[str, Any]) -> Cell:
    """The cell of these axis values (every axis of the grid, keyed as in `Cell.values`)."""
    extra = tuple((k, v) for k, v in values.items() if k not in CORE_AXES)
    return Cell(chain_id(values), float(values["ratio"]), values["seed"], values["mitigation"], extra)


def cells(cfg: SweepConfig, ratios=None) -> list[Cell]:
    """Every cell of the grid; with `ratios`, of those ratios instead of grid.ratio (a search's
    later rounds)."""
    axes = dict(cfg.grid) if ratios is None else {**cfg.grid, "ratio": tuple(ratios)}
    names = list(axes)
    return [make_cell(dict(zip(names, combo))) for combo in itertools.product(*(axes[n] for n in names))]


def twins(listed: list[Cell]) -> dict[str, str]:
    """{twin chain_id: the chain_id it equals} among these cells: a cell whose mitigation equals
    another at its ratio (mitigations.twin), where that other cell, same values otherwise, is listed
    too. The sweep runs the other and writes the twin's rows as a copy (column copy_of)."""
    ids = {c.chain_id for c in listed}
    out = {}
    for c in listed:
        same = mitigations.twin(c.mitigation, c.ratio)
        source = same and chain_id({**c.values(), "mitigation": same})
        if source in ids:
            out[c.chain_id] = source
    return out


def cell_config(cfg: SweepConfig, cell: Cell) -> SweepConfig:
    """The sweep config as this chain sees it: extra axis values applied, then what its mitigation
    changes in the config (ReDiFine's condition drop and CFG schedule), so that the backend is
    built from the config its chain runs."""
    cfg = with_overrides(cfg, dict(cell.extra)) if cell.extra else cfg
    return mitigations.parse(cell.mitigation, cfg.mitigation_params).configure(cfg)
