"""The sweep file: YAML in, a frozen, typed, validated `SweepConfig` out.

Every section is a frozen dataclass. Loading is strict: an unknown key, a wrong type or an
out-of-range value raises `ConfigError` naming the file and the dotted field. The backend's own
`model:` section is validated against the dataclass the backend registers (see `backends/`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml


class ConfigError(ValueError):
    """A sweep file (or a --set override) is malformed; the message names the file and field."""


def _fail(where: str, message: str) -> typing.NoReturn:
    raise ConfigError(f"{where}: {message}")


def _check(ok: bool, where: str, message: str) -> None:
    if not ok:
        _fail(where, message)


# ---------------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DataConfig:
    path: Optional[str] = None  # where the backend reads real images; digits ships its own
    holdout: int = 500  # real images kept out of every training set, for evaluation
    # Off-target evaluation (Bohacek & Farid: prompts never retrained degrade too): class ids that
    # no chain ever trains on (its real images and samples use the other classes), but that every
    # generation samples and scores in `offtarget_*` columns. The base model still knows them.
    eval_only_classes: tuple[int, ...] = ()

    def validate(self, where: str) -> None:
        _check(self.holdout > 0, f"{where}.holdout", "must be positive")
        _check(all(c >= 0 for c in self.eval_only_classes), f"{where}.eval_only_classes", "class ids must be >= 0")
        _check(len(set(self.eval_only_classes)) == len(self.eval_only_classes), f"{where}.eval_only_classes",
               f"duplicate class ids in {list(self.eval_only_classes)}")


@dataclass(frozen=True)
class MetricsConfig:
    """Parameters of the per-generation metrics (autophagy/metrics/)."""

    entropy_k: int = 5  # Kozachenko-Leonenko neighbour; Shi et al.'s public code uses 5
    memorization_threshold: float = 1 / 3  # nearest < threshold x second-nearest training distance: a copy
    # Pairwise distances per class beyond this many samples are computed on a seeded subsample of
    # it (pairs grow as n^2: 1000 samples are 499,500 pairs, about 10 ms at 64 pixels).
    pairwise_max: int = 1000
    # The feature space of FID/KID/precision/recall, feature entropy, the generalization score and
    # the selections' `features` space (digits, ddpm): an MLP classifier trained on the real pool
    # (needs labels), torch-fidelity's Inception-v3 pool3 from `inception_weights` (a local .pth),
    # or the CLS token of a transformers Dinov2Model saved in `dinov2_path` (Shi et al.).
    features: Literal["classifier", "inception", "dinov2"] = "classifier"
    inception_weights: Optional[str] = None
    dinov2_path: Optional[str] = None

    def validate(self, where: str) -> None:
        _check(self.features != "inception" or bool(self.inception_weights), f"{where}.inception_weights",
               "metrics.features=inception needs the local weights file (weights-inception-2015-12-05-6726825d.pth)")
        _check(self.features != "dinov2" or bool(self.dinov2_path), f"{where}.dinov2_path",
               "metrics.features=dinov2 needs a local Dinov2Model directory (save_pretrained)")
        _check(self.entropy_k >= 1, f"{where}.entropy_k", "must be >= 1")
        _check(0 < self.memorization_threshold <= 1, f"{where}.memorization_threshold", "must be in (0, 1]")
        _check(self.pairwise_max >= 2, f"{where}.pairwise_max", "must be >= 2 (a pair)")


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 100
    batch_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.0
    lora_rank: int = 8  # 0 means a full finetune
    lora_alpha: Optional[float] = None  # None: equal to the rank (scale 1)
    cond_drop: float = 0.1  # share of training labels replaced by the null class (enables CFG)
    # What generation g starts from: the last generation's model, the base (pretrained) model, or
    # fresh random weights drawn from the generation's train seed (scratch: Shi et al.)
    init: Literal["previous", "base", "scratch"] = "previous"

    def validate(self, where: str) -> None:
        _check(self.steps > 0, f"{where}.steps", "must be positive")
        _check(self.batch_size > 0, f"{where}.batch_size", "must be positive")
        _check(self.lr > 0, f"{where}.lr", "must be positive")
        _check(self.weight_decay >= 0, f"{where}.weight_decay", "must be >= 0")
        _check(self.lora_rank >= 0, f"{where}.lora_rank", "must be >= 0 (0 = full finetune)")
        _check(0 <= self.cond_drop < 1, f"{where}.cond_drop", "must be in [0, 1)")
        _check(self.init != "scratch" or self.lora_rank == 0, f"{where}.lora_rank",
               "must be 0 with init: scratch (a fresh model trains every weight)")


@dataclass(frozen=True)
class SamplingConfig:
    steps: int = 20
    cfg_scale: float = 2.0  # 1.0 = plain conditional sampling; at the first sampling step if scheduled
    # How the CFG scale moves over the sampling steps, from cfg_scale at the first (noisiest) step
    # to cfg_end at the last: constant (cfg_end unused), linear, or cosine (half a cosine period).
    cfg_schedule: Literal["constant", "linear", "cosine"] = "constant"
    cfg_end: float = 1.0

    def validate(self, where: str) -> None:
        _check(self.steps > 0, f"{where}.steps", "must be positive")
        _check(self.cfg_scale >= 0, f"{where}.cfg_scale", "must be >= 0")
        _check(self.cfg_end >= 0, f"{where}.cfg_end", "must be >= 0")


@dataclass(frozen=True)
class CollapseConfig:
    """When a chain counts as collapsed; re-appliable afterwards by the analysis."""

    metric: Optional[str] = None  # None: the backend's first metric (digits: fid, gmm: kl)
    mode: Literal["relative", "absolute"] = "relative"  # relative: threshold x generation 0's value
    threshold: float = 2.0
    direction: Literal["up", "down"] = "up"  # up: larger is worse (FID); down: smaller is worse
    persist: int = 1  # consecutive generations the criterion must hold
    diverged_is_collapse: bool = True
    # What a relative threshold multiplies: the chain's own generation-0 value, or the value of the
    # control chain (ratio 0, same seed and series) at the same generation, so that the drift of
    # finetuning on real images alone (demo: FID +28 % after one generation) is not counted as damage.
    reference: Literal["generation0", "control"] = "generation0"

    def validate(self, where: str) -> None:
        _check(self.persist >= 1, f"{where}.persist", "must be >= 1")
        if self.mode == "relative":
            _check(self.threshold > 0, f"{where}.threshold", "must be positive in relative mode")
        _check(self.reference == "generation0" or self.mode == "relative", f"{where}.reference",
               "control compares with the ratio-0 chain's value, which only mode: relative uses")


@dataclass(frozen=True)
class SearchConfig:
    """Which chains run: exactly the listed grid, or the grid as round 0 of an adaptive refinement
    of the ratio axis around each series' collapse threshold (orchestrator/search.py)."""

    method: Literal["grid", "threshold"] = "grid"
    target_width: float = 0.05  # threshold: a series is done once its 95 % interval is narrower
    max_chains: int = 200  # threshold: chains over all rounds, the listed grid included
    per_round: int = 2  # threshold: new ratios per series per round, each with every grid.seed

    def validate(self, where: str) -> None:
        _check(0 < self.target_width <= 1, f"{where}.target_width", "must be in (0, 1] (a width of ratios)")
        _check(self.max_chains >= 1, f"{where}.max_chains", "must be >= 1")
        _check(self.per_round >= 1, f"{where}.per_round", "must be >= 1")


@dataclass(frozen=True)
class ResourcesConfig:
    cpus: float = 1.0  # per chain
    gpus: float = 0.0  # per chain, a fraction packs several chains on one GPU (logical only)
    max_concurrent: Optional[int] = None  # None: as many as the resources allow

    def validate(self, where: str) -> None:
        _check(self.cpus > 0, f"{where}.cpus", "must be positive")
        _check(self.gpus >= 0, f"{where}.gpus", "must be >= 0")
        _check(self.gpus <= 1 or self.gpus == int(self.gpus), f"{where}.gpus",
               "above 1 must be a whole number of GPUs")
        if self.max_concurrent is not None:
            _check(self.max_concurrent > 0, f"{where}.max_concurrent", "must be positive")


# Parameters of the mitigations (autophagy/mitigations/), one sub-section each; used only by
# chains whose `mitigation` names that part. Any field can be an extra grid axis by dotted key
# (`mitigation_params.healing.after: [2, 3]`).


@dataclass(frozen=True)
class RedifineConfig:
    """ReDiFine (Yoon et al., arXiv 2407.17493): condition-drop finetuning plus a decaying CFG scale.
    The paper's values were not found (docs/papers.md); these defaults are our choice."""

    # 0.2, the top of the 0.1-0.2 range usually quoted: twice the baseline's finetune.cond_drop,
    # so that the drop itself differs from the plain loop and is not a no-op.
    cond_drop: float = 0.2
    # cosine from sampling.cfg_scale down to 1: the early, coarse steps (class identity, layout)
    # stay guided almost as strongly as the baseline, and the late, detail steps are left to the
    # plain conditional model, where a high scale adds the high-frequency artifacts Yoon et al.
    # blame for collapse. 1, not below: w < 1 pushes samples away from their class.
    cfg_schedule: Literal["constant", "linear", "cosine"] = "cosine"
    cfg_end: float = 1.0

    def validate(self, where: str) -> None:
        _check(0 <= self.cond_drop < 1, f"{where}.cond_drop", "must be in [0, 1)")
        _check(self.cfg_end >= 0, f"{where}.cfg_end", "must be >= 0")


@dataclass(frozen=True)
class AccumulateConfig:
    """`accumulate` (fixed N): over which sources its synthetic share is split."""

    # false: generations 0..g-1 only; true: the chain's real images count as one more source, so at
    # ratio 1 generation g trains on N/(g+1) real images and N/(g+1) of each earlier generation's
    # samples (Shi et al.'s code, `accumulate`: equal shares of every earlier iteration, real included).
    real_as_source: bool = False


@dataclass(frozen=True)
class GreedyConfig:
    """Greedy Selection (Shi et al., arXiv 2509.16499): farthest-point choice of the synthetic share."""

    pool_factor: float = 2.0  # m: each generation samples round(m*N) candidates; the paper uses 2 or 5
    # pixels, not the backend's features: the digits features are the evaluation classifier's,
    # the space FID is measured in, and selecting there would optimise the yardstick itself.
    space: Literal["pixels", "features"] = "pixels"

    def validate(self, where: str) -> None:
        _check(self.pool_factor >= 1, f"{where}.pool_factor", "must be >= 1 (1 keeps every candidate)")


@dataclass(frozen=True)
class ThresholdDecayConfig:
    """Threshold Decay Filter (Shi et al., arXiv 2509.16499): accept candidates farther than tau from
    every accepted one, tau *= decay after each pass."""

    pool_factor: float = 2.0
    space: Literal["pixels", "features"] = "pixels"
    # None: the median pairwise distance of the candidate pool. The public code's fixed tau0 (2000
    # on CIFAR pixels, 60 on DINOv2 features) has no meaning at another scale; the median starts
    # strict (a first pass accepts a few spread-out candidates) and needs no tuning per backend.
    tau0: Optional[float] = None
    decay: float = 0.95  # the public code's value (0.8 for features under accumulate)

    def validate(self, where: str) -> None:
        _check(self.pool_factor >= 1, f"{where}.pool_factor", "must be >= 1 (1 keeps every candidate)")
        _check(self.tau0 is None or self.tau0 > 0, f"{where}.tau0", "must be positive (or null: from the pool)")
        _check(0 < self.decay < 1, f"{where}.decay", "must be in (0, 1)")


@dataclass(frozen=True)
class HealingConfig:
    """Healing (Bohacek & Farid, arXiv 2311.12202): after generation `after`, `generations` generations
    train on real images only; then the loop resumes at its ratio."""

    after: int = 3  # h: at the demo's 6 generations, 3 poisoned then 3 healing
    generations: int = 3  # k

    def validate(self, where: str) -> None:
        _check(self.after >= 1, f"{where}.after", "must be >= 1 (at least one generation on synthetic data)")
        _check(self.generations >= 1, f"{where}.generations", "must be >= 1")


@dataclass(frozen=True)
class MitigationParams:
    accumulate: AccumulateConfig = AccumulateConfig()
    redifine: RedifineConfig = RedifineConfig()
    greedy: GreedyConfig = GreedyConfig()
    threshold_decay: ThresholdDecayConfig = ThresholdDecayConfig()
    healing: HealingConfig = HealingConfig()


# The grid's fixed axes; any other scalar field may be an extra axis, by its dotted key.
CORE_AXES = ("ratio", "seed", "mitigation")
# Fields that shape the sweep itself, not a chain, and so cannot be an axis.
NOT_AN_AXIS = ("name", "backend", "model", "grid", "search", "collapse", "resources", "retries",
               "checkpoint_interval_s", "checkpoint_keep", "loggers")


@dataclass(frozen=True)
class SweepConfig:
    name: str
    backend: str
    generations: int
    images_per_generation: int
    grid: dict = field(default_factory=dict)  # axis -> tuple of values (ratio, seed, mitigation, ...)
    data: DataConfig = DataConfig()
    model: Any = None  # the backend's own ModelConfig dataclass
    # How `ratio` reads: share = the synthetic share of a training set of N (Bohacek & Farid);
    # bertrand = all N real images plus round(ratio*N) synthetic ones (Bertrand et al. 2024's lambda).
    mixing: Literal["share", "bertrand"] = "share"
    finetune: FinetuneConfig = FinetuneConfig()
    sampling: SamplingConfig = SamplingConfig()
    metrics: MetricsConfig = MetricsConfig()
    mitigation_params: MitigationParams = MitigationParams()
    search: SearchConfig = SearchConfig()
    collapse: CollapseConfig = CollapseConfig()
    resources: ResourcesConfig = ResourcesConfig()
    retries: int = 2  # per chain, each resuming from its last checkpoint
    # A chain is checkpointed (and its rows written) after a generation that ends at least this
    # long after its last checkpoint, and after its last generation: every generation whenever
    # generations take longer (digits, SD); several at once for millisecond ones (gmm), whose
    # per-generation checkpoints would cost more than the generations. A retry redoes at most this.
    checkpoint_interval_s: float = 2.0
    # Checkpoints kept per chain: the last K, and never one a --resume could still need
    # (orchestrator/retention.py). A checkpoint holds model state and sample references only, so
    # K bounds a chain's checkpoint storage at any generation.
    checkpoint_keep: int = 2
    # Experiment trackers that also get every generation's metrics, one run per chain with its axes
    # as parameters (orchestrator/trackers.py); [] = the Parquet rows only.
    loggers: tuple[Literal["tensorboard", "mlflow", "wandb"], ...] = ()

    def validate(self, where: str) -> None:
        _check(bool(self.name) and "/" not in self.name, "name", "must be a non-empty name without '/'")
        _check(self.generations >= 1, "generations", "must be >= 1")
        _check(self.images_per_generation >= 2, "images_per_generation", "must be >= 2")
        _check(self.retries >= 0, "retries", "must be >= 0")
        _check(self.checkpoint_interval_s >= 0, "checkpoint_interval_s", "must be >= 0 (0: every generation)")
        _check(len(set(self.loggers)) == len(self.loggers), "loggers", f"duplicate names in {list(self.loggers)}")
        _check(self.checkpoint_keep >= 1, "checkpoint_keep", "must be >= 1 (the latest checkpoint is what a retry resumes)")
        names = self.grid.get("mitigation") if isinstance(self.grid, dict) else None
        healing = isinstance(names, (list, tuple)) and any("healing" in str(m).split("+") for m in names)
        _check(not healing or self.mitigation_params.healing.after < self.generations,
               "mitigation_params.healing.after",
               f"must be < generations={self.generations}, or the healing chains never heal")

    def to_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so that yaml.safe_dump and JSON accept the result."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------- building


def build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a mapping, strictly: unknown keys and wrong types fail."""
    label = where.rstrip(".") or "the sweep"
    if not isinstance(raw, dict):
        _fail(label, f"expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        _fail(f"{where}{unknown[0]}", f"unknown key (allowed here: {', '.join(names)})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            kwargs[f.name] = _coerce(hints[f.name], raw[f.name], f"{where}{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            _fail(f"{where}{f.name}", "missing (required)")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate(where.rstrip("."))
    return obj


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is Literal:
        _check(value in args, where, f"must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, {} if value is None else value, f"{where}.")
    if tp is bool:
        _check(isinstance(value, bool), where, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), where, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), where, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        _check(isinstance(value, str), where, f"expected a string, got {value!r}")
        return value
    if tp is dict or origin is dict:
        _check(isinstance(value, dict), where, f"expected a mapping, got {type(value).__name__}")
        return value
    if origin is tuple:
        _check(isinstance(value, (list, tuple)), where, f"expected a list, got {value!r}")
        return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    raise TypeError(f"unsupported config type {tp} at {where}")


# ---------------------------------------------------------------------------------- loading


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


def set_dotted(raw: dict, key: str, value: Any, where: str, *, must_exist: bool) -> None:
    """Set `a.b.c` in a nested dict; grid axes may themselves be dotted (`grid.sampling.cfg_scale`)."""
    parts = key.split(".")
    if parts[0] == "grid" and len(parts) > 1:
        parts = ["grid", ".".join(parts[1:])]
    node = raw
    for part in parts[:-1]:
        if must_exist and part not in node:
            _fail(where, f"unknown key {key!r}")
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            _fail(where, f"{key!r} does not name a field inside a section")
    if must_exist and parts[-1] not in node:
        _fail(where, f"unknown key {key!r}")
    node[parts[-1]] = value


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


def from_dict(raw: dict, source: str = "<sweep>", overrides: dict | None = None) -> SweepConfig:
    """Validate a raw mapping (plus dotted overrides) into a SweepConfig; errors name `source`."""
    from autophagy import backends, grid  # late: both import this module

    raw = _plain(raw)
    for key, value in (overrides or {}).items():
        known = _defaults_tree(raw)
        try:
            set_dotted(known, key, value, f"--set {key}", must_exist=not key.startswith("grid."))
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None
        set_dotted(raw, key, value, key, must_exist=False)
    try:
        backend_name = raw.get("backend")
        _check(isinstance(backend_name, str), "backend", "missing (required): one of " + ", ".join(backends.names()))
        _check(backend_name in backends.names(), "backend",
               f"unknown backend {backend_name!r} (known: {', '.join(backends.names())})")
        model_cls = backends.model_config_class(backend_name)
        raw = dict(raw, model=build(model_cls, raw.get("model") or {}, "model."))
        cfg = build(SweepConfig, raw, "")
        cfg = dataclasses.replace(cfg, grid=grid.validate_axes(cfg))
        _check_search(cfg)
        metrics = cfg.model.metric_names(cfg)
        if cfg.collapse.metric is None:
            cfg = dataclasses.replace(cfg, collapse=dataclasses.replace(cfg.collapse, metric=metrics[0]))
        _check(cfg.collapse.metric in metrics, "collapse.metric",
               f"{cfg.collapse.metric!r} is not a metric of backend {backend_name} (its metrics: {', '.join(metrics)})")
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return cfg


def _check_search(cfg: SweepConfig) -> None:
    """What the search and the control reference need of the grid."""
    control = cfg.collapse.reference == "control"
    if cfg.search.method == "grid":
        _check(not control or 0.0 in cfg.grid["ratio"], "grid.ratio",
               "collapse.reference: control needs ratio 0 in the grid (the all-real control chains)")
        return
    n_listed = len(cfg.grid["ratio"]) + (control and 0.0 not in cfg.grid["ratio"])
    for axis, values in cfg.grid.items():
        n_listed *= len(values) if axis != "ratio" else 1
    _check(cfg.search.max_chains >= n_listed, "search.max_chains",
           f"{cfg.search.max_chains} is fewer than the {n_listed} chains of the listed grid (round 0)")


def load(path: str | Path, overrides: dict | None = None) -> SweepConfig:
    return from_dict(load_yaml(path), str(path), overrides)


def _defaults_tree(raw: dict) -> dict:
    """The full key tree (defaults filled) so that --set can refuse keys that do not exist."""
    from autophagy import backends

    tree = {f.name: None for f in dataclasses.fields(SweepConfig)}
    for f in dataclasses.fields(SweepConfig):
        if dataclasses.is_dataclass(f.default):
            tree[f.name] = _plain(dataclasses.asdict(f.default))
    name = raw.get("backend")
    if name in backends.names():
        tree["model"] = _plain(dataclasses.asdict(backends.model_config_class(name)()))
    tree["grid"] = dict(raw.get("grid") or {})
    return tree


def with_overrides(cfg: SweepConfig, overrides: dict[str, Any]) -> SweepConfig:
    """A copy of `cfg` with dotted fields replaced (used for extra grid axes), re-validated."""
    raw = cfg.to_dict()
    for key, value in overrides.items():
        set_dotted(raw, key, value, key, must_exist=True)
    model_cls = type(cfg.model)
    raw["model"] = build(model_cls, raw["model"], "model.")
    raw["grid"] = cfg.grid
    return build(SweepConfig, raw, "")


def dump(cfg: SweepConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
