"""The `model:` section of a `digits` sweep. Light on purpose: validating a sweep file imports
this module, and it must not pull in torch (about 2 s)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from autophagy.backends.images import data
from autophagy.config import ConfigError, ModelSection, TupleOf, check
from autophagy.metrics import registry

# Leaf module names of the conv-only UNet that LoRA can wrap (`unet.py` builds it). Anything else
# would only fail later, inside peft, with no hint of the config field.
LORA_TARGETS = ("conv1", "conv2", "time_emb_proj", "conv_shortcut", "conv", "conv_in", "conv_out",
                "linear_1", "linear_2")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
CLASSES = 10  # digit ids 0..9 (unet.CLASSES, classifier.CLASSES)

# fid first: the default collapse metric. What each one means: autophagy/metrics/registry.py.
MAIN_METRICS = registry.names("fidelity", "classes", "diversity", "class_spread", "copying", "entropy")
# Of the samples of `data.eval_only_classes`, in columns `offtarget_<name>`.
OFFTARGET_METRICS = ("fid", "kid", "precision", "recall", "class_agreement", "class_coverage",
                     "class_confidence", "pairwise_l2")


def eval_only_classes(cfg) -> tuple[int, ...]:
    """`data.eval_only_classes`, checked against the digit ids: at least one class must stay trainable."""
    held = tuple(cfg.data.eval_only_classes)
    bad = [c for c in held if not 0 <= c < CLASSES]
    if bad:
        raise ConfigError(f"data.eval_only_classes: {bad} are not digit classes (0..{CLASSES - 1})")
    if len(held) >= CLASSES:
        raise ConfigError("data.eval_only_classes: holds every class out, which leaves nothing to train on")
    return held


class DigitsModelConfig(ModelSection):
    # (8, 16): 41k parameters, 30 train steps/s at batch 64 on one CPU thread, and after 800
    # pretraining steps as good as (16, 32) after 1500 (FID 8 vs 7, class agreement 0.97 vs 0.97
    # at CFG 1.5) at 1.6x the speed; (32, 64) trains 3.5x slower than (8, 16).
    channels: TupleOf[int] = (8, 16)
    layers_per_block: int = Field(1, ge=1)
    norm_groups: int = Field(4, gt=0)
    train_timesteps: int = Field(1000, ge=2)
    beta_schedule: Literal[BETA_SCHEDULES] = "squaredcos_cap_v2"  # FID 8 at CFG 1.5 after pretraining; "linear" 17
    # 800 steps x 128 images: 30-45 s on one thread (plus 4 s for the classifier). A cosine decay of the rate did worse
    # at this budget (FID 34 vs 16 at 600 steps); 1000 steps or lr 4e-3 gained nothing.
    pretrain_steps: int = Field(800, ge=1)
    pretrain_batch_size: int = Field(128, ge=1)
    pretrain_lr: float = Field(2e-3, gt=0)
    pretrain_cond_drop: float = Field(0.1, ge=0, lt=1)  # the base model must know the null class for CFG
    pretrain_seed: int = 0  # a different base model (and classifier) per value
    # conv2 alone, rank 8: finetune 2.7 s (conv1+conv2: 4.0 s, full: 2.8 s), state 33 kB (78 kB;
    # full 163 kB), and 6 generations on its own samples still raise FID 8x (9.2 -> 74; conv1+conv2
    # 9.4 -> 85, full 9.8 -> 118).
    lora_targets: TupleOf[Literal[LORA_TARGETS]] = ("conv2",)
    classifier_steps: int = Field(1500, ge=1)  # 96 % held-out accuracy, about 4 s; 3000 steps gain nothing
    classifier_hidden: int = Field(128, ge=2)  # width of the feature layer FID/KID/precision/recall use

    @model_validator(mode="after")
    def _shape(self):
        check(1 <= len(self.channels) <= 4, "channels", "needs 1 to 4 entries (each halves the 8x8 image)")
        for c in self.channels:
            check(c > 0 and c % self.norm_groups == 0, "channels",
                  f"{c} is not a positive multiple of norm_groups={self.norm_groups}")
        check(len(self.lora_targets) > 0, "lora_targets", "must name at least one module")
        return self

    def check_sweep(self, cfg) -> None:
        self.check_entropy_k(cfg)
        check(cfg.metrics.features == "classifier", "metrics.features",
              f"digits scores in its own classifier's features; {cfg.metrics.features} is for backend ddpm "
              "(which runs on the bundled digits too)")
        check(cfg.finetune.init != "scratch", "finetune.init", "scratch is for backend ddpm (data.path: null "
              "runs it on the bundled digits); digits finetunes its pretrained base")
        eval_only_classes(cfg)

    def metric_names(self, cfg=None) -> tuple[str, ...]:
        """The Parquet columns of a generation; `cfg` (the SweepConfig) adds the off-target ones
        when `data.eval_only_classes` names any. DigitsBackend.evaluate says what each one means."""
        if cfg is not None and cfg.data.eval_only_classes:
            return MAIN_METRICS + tuple(f"offtarget_{m}" for m in OFFTARGET_METRICS)
        return MAIN_METRICS

    def preflight(self, cfg, problems) -> int | None:
        """The preflight hook (autophagy/preflight.py): load the real data as a chain does (no torch,
        0.1 s): a missing or malformed data.path, a holdout that leaves nothing to train on, eval-only
        classes absent from the data fail here. Returns the real training pool's size."""
        with problems.guard():
            pool, _ = data.split(data.load(cfg.data.path), cfg.data.holdout)
            return len(data.without_classes(pool, eval_only_classes(cfg)))
        return None
