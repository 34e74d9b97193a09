"""The sweep config: frozen, typed sections on pydantic. Reading a sweep file is sweepfile.py's.

Every section is a frozen model that refuses unknown keys and converts nothing (strict: "3" is not
an integer, `true` is not 1; an integer is a number). A range is a constraint on its field
(`Field(ge=1)`), and the field's `description`, where it has one, is the note its out-of-range
message adds in brackets; a rule over several fields is a model validator that calls `check`.
`parse` raises the first problem as one `ConfigError` line naming the dotted field
(`finetune.steps: must be positive`), to which sweepfile.py prefixes the file. The backend's own
`model:` section is the `ModelSection` its backend registers (backends/__init__.py).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, SerializeAsAny, ValidationError, create_model, model_validator

from autophagy import mitigations
from autophagy.metrics import registry
from autophagy.sections import ConfigError, Section, TupleOf, check

__all__ = ["ConfigError", "Section", "TupleOf", "check"]  # re-exported: their home is sections.py


class ModelSection(Section):
    """A backend's `model:` section (backends/*/config.py). Light: validating a sweep imports it."""

    def metric_names(self, cfg=None) -> tuple[str, ...]:
        """Every metric the backend's `evaluate` returns, in order (the first is the default collapse
        metric); `cfg` is the whole SweepConfig, as columns may depend on other sections."""
        raise NotImplementedError

    def check_sweep(self, cfg) -> None:
        """Rules between this section and the rest of the sweep `cfg`; none by default."""

    def preflight(self, cfg, problems) -> int | None:
        """The checks that need files but no training (autophagy/preflight.py), run by `autophagy
        validate` and `run` before Ray starts: each independent check inside `with problems.guard():`
        so that one failing does not hide the next. Returns the real training pool's size, which
        every cell's N must fit in, or None where it is unknown (the data could not be read, or the
        backend has no fixed pool). By default: nothing to check, pool unknown."""
        return None

    @staticmethod
    def check_entropy_k(cfg) -> None:
        """For a backend that scores Kozachenko-Leonenko entropies: k neighbours of every sample."""
        check(cfg.images_per_generation > cfg.metrics.entropy_k, "metrics.entropy_k",
              f"must be below images_per_generation={cfg.images_per_generation} "
              "(the entropy needs k neighbours of every sample)")


# ---------------------------------------------------------------------------------- sections


class DataConfig(Section):
    path: Optional[str] = None  # where the backend reads real images; digits ships its own
    holdout: int = Field(500, gt=0)  # real images kept out of every training set, for evaluation
    # Off-target evaluation (Bohacek & Farid: prompts never retrained degrade too): class ids that
    # no chain ever trains on (its real images and samples use the other classes), but that every
    # generation samples and scores in `offtarget_*` columns. The base model still knows them.
    eval_only_classes: TupleOf[int] = ()

    @model_validator(mode="after")
    def _classes(self):
        check(all(c >= 0 for c in self.eval_only_classes), "eval_only_classes", "class ids must be >= 0")
        check(len(set(self.eval_only_classes)) == len(self.eval_only_classes), "eval_only_classes",
              f"duplicate class ids in {list(self.eval_only_classes)}")
        return self


class MetricsConfig(Section):
    """Parameters of the per-generation metrics (autophagy/metrics/)."""

    entropy_k: int = Field(5, ge=1)  # Kozachenko-Leonenko neighbour; Shi et al.'s public code uses 5
    # nearest < threshold x second-nearest training distance: a copy
    memorization_threshold: float = Field(1 / 3, gt=0, le=1)
    # Pairwise distances per class beyond this many samples are computed on a seeded subsample of
    # it (pairs grow as n^2: 1000 samples are 499,500 pairs, about 10 ms at 64 pixels).
    pairwise_max: int = Field(1000, ge=2, description="a pair")
    # The feature space of FID/KID/precision/recall, feature entropy, the generalization score and
    # the selections' `features` space (digits, ddpm): an MLP classifier trained on the real pool
    # (needs labels), torch-fidelity's Inception-v3 pool3 from `inception_weights` (a local .pth),
    # or the CLS token of a transformers Dinov2Model saved in `dinov2_path` (Shi et al.).
    features: Literal["classifier", "inception", "dinov2"] = "classifier"
    inception_weights: Optional[str] = None
    dinov2_path: Optional[str] = None

    @model_validator(mode="after")
    def _weights_given(self):
        check(self.features != "inception" or bool(self.inception_weights), "inception_weights",
              "metrics.features=inception needs the local weights file (weights-inception-2015-12-05-6726825d.pth)")
        check(self.features != "dinov2" or bool(self.dinov2_path), "dinov2_path",
              "metrics.features=dinov2 needs a local Dinov2Model directory (save_pretrained)")
        return self


class FinetuneConfig(Section):
    steps: int = Field(100, gt=0)
    batch_size: int = Field(64, gt=0)
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    lora_rank: int = Field(8, ge=0, description="0 = full finetune")
    lora_alpha: Optional[float] = None  # None: equal to the rank (scale 1)
    cond_drop: float = Field(0.1, ge=0, lt=1)  # share of training labels replaced by the null class (enables CFG)
    # What generation g starts from: the last generation's model, the base (pretrained) model, or
    # fresh random weights drawn from the generation's train seed (scratch: Shi et al.)
    init: Literal["previous", "base", "scratch"] = "previous"

    @model_validator(mode="after")
    def _scratch_is_full(self):
        check(self.init != "scratch" or self.lora_rank == 0, "lora_rank",
              "must be 0 with init: scratch (a fresh model trains every weight)")
        return self


class SamplingConfig(Section):
    steps: int = Field(20, gt=0)
    cfg_scale: float = Field(2.0, ge=0)  # 1.0 = plain conditional sampling; at the first sampling step if scheduled
    # How the CFG scale moves over the sampling steps, from cfg_scale at the first (noisiest) step
    # to cfg_end at the last: constant (cfg_end unused), linear, or cosine (half a cosine period).
    cfg_schedule: Literal["constant", "linear", "cosine"] = "constant"
    cfg_end: float = Field(1.0, ge=0)


class CollapseConfig(Section):
    """When a chain counts as collapsed; re-appliable afterwards by the analysis."""

    metric: Optional[str] = None  # None: the backend's first metric (digits: fid, gmm: kl)
    mode: Literal["relative", "absolute"] = "relative"  # relative: threshold x generation 0's value
    threshold: float = 2.0
    # up: larger is worse (FID); down: smaller is worse (recall). Left out: the metric's own
    # (metrics/registry.py), and a direction that contradicts it is refused.
    direction: Literal["up", "down"] = "up"
    persist: int = Field(1, ge=1)  # consecutive generations the criterion must hold
    diverged_is_collapse: bool = True
    # What a relative threshold multiplies: the chain's own generation-0 value, or the value of the
    # control chain (ratio 0, same seed and series) at the same generation, so that the drift of
    # finetuning on real images alone (demo: FID +28 % after one generation) is not counted as damage.
    reference: Literal["generation0", "control"] = "generation0"

    @model_validator(mode="before")
    @classmethod
    def _direction_from_the_metric(cls, raw: Any) -> Any:
        """No direction given: the metric's own (metrics/registry.py; recall: down), else up."""
        if isinstance(raw, dict) and "direction" not in raw and isinstance(raw.get("metric"), str):
            return {**raw, "direction": registry.worse(raw["metric"]) or "up"}
        return raw

    @model_validator(mode="after")
    def _relative(self):
        worse = registry.worse(self.metric) if self.metric else None
        check(worse is None or self.direction == worse, "direction",
              f"{self.direction} says {'larger' if self.direction == 'up' else 'smaller'} {self.metric} is worse, but "
              f"{'smaller' if worse == 'down' else 'larger'} is (metrics/registry.py); "
              f"use direction: {worse}, or leave it out")
        check(self.mode != "relative" or self.threshold > 0, "threshold", "must be positive in relative mode")
        check(self.reference == "generation0" or self.mode == "relative", "reference",
              "control compares with the ratio-0 chain's value, which only mode: relative uses")
        return self


class SearchConfig(Section):
    """Which chains run: exactly the listed grid, or the grid as round 0 of an adaptive refinement
    of the ratio axis around each series' collapse threshold (orchestrator/search.py)."""

    method: Literal["grid", "threshold"] = "grid"
    # threshold: what the adaptive search buys. threshold: new ratios inside each series' model-based
    # 95 % interval; compare: whole new seeds (max(grid.seed) + 1, ...) at ratios already run, for every
    # series at once, where the series differ most from analysis.baseline, until every comparison
    # is decisive or max_chains is spent
    target: Literal["threshold", "compare"] = "threshold"
    # threshold: a series is done once its 95 % interval is narrower
    target_width: float = Field(0.05, gt=0, le=1, description="a width of ratios")
    max_chains: int = Field(200, ge=1)  # threshold: chains over all rounds, the listed grid included
    # threshold: new ratios per series per round, each with every grid.seed; compare: ratios per new seed
    per_round: int = Field(2, ge=1)


class AnalysisConfig(Section):
    """How the report compares the series (analysis/compare.py)."""

    # The series every other is compared with (same extra-axis values, paired by seed and ratio);
    # a name not in grid.mitigation leaves the comparisons empty, and the report says so.
    baseline: str = "none"
    # baseline: each series against the baseline; all: every pair of series
    pairs: Literal["baseline", "all"] = "baseline"


class ResourcesConfig(Section):
    cpus: float = Field(1.0, gt=0)  # per chain
    gpus: float = Field(0.0, ge=0)  # per chain, a fraction packs several chains on one GPU (logical only)
    max_concurrent: Optional[int] = Field(None, gt=0)  # None: as many as the resources allow

    @model_validator(mode="after")
    def _whole_gpus(self):
        check(self.gpus <= 1 or self.gpus == int(self.gpus), "gpus", "above 1 must be a whole number of GPUs")
        return self


# Parameters of the mitigations, one sub-section each, declared beside each mitigation's code
# (autophagy/mitigations/<name>.py, `Params`) and taken from its registry; used only by chains whose
# `mitigation` names that part. Any field can be an extra grid axis by dotted key
# (`mitigation_params.healing.after: [2, 3]`).
MitigationParams = create_model(
    "MitigationParams", __base__=Section,
    **{name: (params, params()) for name, params in mitigations.parameters().items()})


def __getattr__(name: str):
    """A mitigation's section by the name it had in this module (`config.GreedyConfig`)."""
    for part, params in mitigations.parameters().items():
        if name == "".join(w.capitalize() for w in part.split("_")) + "Config":
            return params
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The grid's fixed axes; any other scalar field may be an extra axis, by its dotted key.
CORE_AXES = ("ratio", "seed", "mitigation")
# Fields that shape the sweep itself, not a chain, and so cannot be an axis.
NOT_AN_AXIS = ("name", "backend", "model", "grid", "search", "collapse", "analysis", "resources", "retries",
               "checkpoint_interval_s", "checkpoint_keep", "loggers")


class SweepConfig(Section):
    name: str
    backend: str
    generations: int = Field(ge=1)
    images_per_generation: int = Field(ge=2)
    grid: dict = {}  # axis -> tuple of values (ratio, seed, mitigation, ...); sweepfile.py checks them
    data: DataConfig = DataConfig()
    model: SerializeAsAny[Optional[ModelSection]] = None  # the backend's own section, validated first
    # How `ratio` reads: share = the synthetic share of a training set of N (Bohacek & Farid);
    # bertrand = all N real images plus round(ratio*N) synthetic ones (Bertrand et al. 2024's lambda).
    mixing: Literal["share", "bertrand"] = "share"
    finetune: FinetuneConfig = FinetuneConfig()
    sampling: SamplingConfig = SamplingConfig()
    metrics: MetricsConfig = MetricsConfig()
    mitigation_params: MitigationParams = MitigationParams()
    search: SearchConfig = SearchConfig()
    collapse: CollapseConfig = CollapseConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    resources: ResourcesConfig = ResourcesConfig()
    retries: int = Field(2, ge=0)  # per chain, each resuming from its last checkpoint
    # A chain is checkpointed (and its rows written) after a generation that ends at least this
    # long after its last checkpoint, and after its last generation: every generation whenever
    # generations take longer (digits, SD); several at once for millisecond ones (gmm), whose
    # per-generation checkpoints would cost more than the generations. A retry redoes at most this.
    checkpoint_interval_s: float = Field(2.0, ge=0, description="0: every generation")
    # Checkpoints kept per chain: the last K, and never one a --resume could still need
    # (orchestrator/retention.py). A checkpoint holds model state and sample references only, so
    # K bounds a chain's checkpoint storage at any generation.
    checkpoint_keep: int = Field(2, ge=1, description="the latest checkpoint is what a retry resumes")
    # Experiment trackers that also get every generation's metrics, one run per chain with its axes
    # as parameters (orchestrator/trackers.py); [] = the Parquet rows only.
    loggers: TupleOf[Literal["tensorboard", "mlflow", "wandb"]] = ()

    @model_validator(mode="after")
    def _across_sections(self):
        check(bool(self.name) and "/" not in self.name, "name", "must be a non-empty name without '/'")
        check(len(set(self.loggers)) == len(self.loggers), "loggers", f"duplicate names in {list(self.loggers)}")
        names = self.grid.get("mitigation")
        mitigations.check_sweep(self, names if isinstance(names, (list, tuple)) else ())
        self.model.check_sweep(self)
        metrics = self.model.metric_names(self)
        unknown = registry.unregistered(metrics)
        check(not unknown, "backend", f"{self.backend} lists metric(s) {', '.join(unknown)} that "
              "autophagy/metrics/registry.py does not know (add a line there: name, family, which way is worse)")
        check(self.collapse.metric is None or self.collapse.metric in metrics, "collapse.metric",
              f"{self.collapse.metric!r} is not a metric of backend {self.backend} (its metrics: {', '.join(metrics)})")
        return self

    def to_dict(self) -> dict:
        """Plain lists and mappings, as yaml.safe_dump and JSON take them."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------------- validating


def parse(cls: type[Section], raw: Any, where: str = "") -> Any:
    """`raw` validated into section `cls`; its first problem as one ConfigError line naming the
    dotted field, below `where` (the section's own place in the sweep, e.g. "model")."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(cls, err.errors()[0], where)) from None


_EXPECTED = {"int_type": "an integer", "float_type": "a number", "bool_type": "true/false",
             "string_type": "a string", "tuple_type": "a list"}
_BOUNDS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _describe(cls: type[Section], error: dict, where: str) -> str:
    """One pydantic error in this module's words: `finetune.steps: must be positive`."""
    path, owner, parent, field = where, cls, None, None
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        path = f"{path}.{part}" if path else part
        parent, field = owner, owner.model_fields.get(part) if owner else None
        owner = field.annotation if field and isinstance(field.annotation, type) and issubclass(
            field.annotation, Section) else None
    kind, value = error["type"], error.get("input")
    if kind in ("value_error", "assertion_error"):  # a validator's check() names its field itself
        message = str(error["ctx"]["error"])
        return f"{path}.{message}" if path else message
    if kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {value!r}"
    elif kind in ("model_type", "dict_type"):
        message = f"expected a mapping, got {type(value).__name__}"
    elif kind == "literal_error":  # pydantic lists them as 'a', 'b' or 'c'
        message = f"must be one of {error['ctx']['expected'].replace(' or ', ', ')}, got {value!r}"
    elif kind == "missing":
        message = "missing (required)"
    elif kind == "extra_forbidden":
        message = f"unknown key (allowed here: {', '.join(parent.model_fields)})"
    elif kind in _BOUNDS and field is not None:
        message = _range(field)
    else:
        message = error["msg"]
    return f"{path or 'the sweep'}: {message}"


def _range(field) -> str:
    """`must be positive`, `must be >= 1 (a pair)`, `must be in [0, 1)`: the field's own bounds."""
    limits = {name: getattr(m, name) for m in field.metadata for name in ("gt", "ge", "lt", "le") if hasattr(m, name)}
    low = next(((b, limits[k]) for k, b in (("gt", "("), ("ge", "[")) if k in limits), None)
    high = next(((b, limits[k]) for k, b in (("lt", ")"), ("le", "]")) if k in limits), None)
    if low and high:
        text = f"must be in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    elif limits == {"gt": 0}:
        text = "must be positive"
    elif low:
        text = f"must be {'>' if low[0] == '(' else '>='} {low[1]:g}"
    else:
        text = f"must be {'<' if high[0] == ')' else '<='} {high[1]:g}"
    return f"{text} ({field.description})" if field.description else text


# ---------------------------------------------------------------------------------- overriding


def set_dotted(raw: dict, key: str, value: Any, where: str, *, must_exist: bool) -> None:
    """Set `a.b.c` in a nested dict; grid axes may themselves be dotted (`grid.sampling.cfg_scale`)."""
    parts = key.split(".")
    if parts[0] == "grid" and len(parts) > 1:
        parts = ["grid", ".".join(parts[1:])]
    node = raw
    for part in parts[:-1]:
        if must_exist and part not in node:
            raise ConfigError(f"{where}: unknown key {key!r}")
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {key!r} does not name a field inside a section")
    if must_exist and parts[-1] not in node:
        raise ConfigError(f"{where}: unknown key {key!r}")
    node[parts[-1]] = value


def with_overrides(cfg: SweepConfig, overrides: dict[str, Any]) -> SweepConfig:
    """A copy of `cfg` with dotted fields replaced (used for extra grid axes), re-validated."""
    raw = cfg.to_dict()
    for key, value in overrides.items():
        set_dotted(raw, key, value, key, must_exist=True)
    model = parse(type(cfg.model), raw["model"], "model")
    return parse(SweepConfig, {**raw, "model": model, "grid": cfg.grid})
