"""The `model:` section of a `ddpm` sweep: the UNet's shape, the DDPM schedule and the optimizer.

Light on purpose (no torch): validating a sweep imports it. The checks that need files, the data
(`data.check`: unreadable files, sizes, classes) and the feature weights (`metrics.inception_weights`,
`metrics.dinov2_path`), are the `preflight` hook's, which `autophagy validate` and `run` call before
any training; the data scan is cached per (path, mtime), so a chain's backend repeats it for free.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from autophagy.config import ModelSection, TupleOf, check
from autophagy.metrics import registry

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
# Leaf modules LoRA can wrap: the resnets' convs everywhere, attention projections where
# model.attention_levels puts attention.
LORA_TARGETS = ("conv1", "conv2", "time_emb_proj", "conv_shortcut", "conv", "conv_in", "conv_out",
                "linear_1", "linear_2", "to_q", "to_k", "to_v", "to_out.0")

# fid first: the default collapse metric. What each one means: autophagy/metrics/registry.py.
FIDELITY = registry.names("fidelity")
PIXEL_AND_COPY = registry.names("diversity", "copying", "entropy")
CLASSIFIER_VIEW = registry.names("classes", without=("class_agreement_min",))  # conditional, features: classifier


class DDPMModelConfig(ModelSection):
    # Images are resized once, at load, to resolution x resolution (bicubic; see data.py).
    resolution: int = Field(32, ge=2)
    # UNet48 of Shi et al.: (48, 48, 96, 96, 192, 192), layers_per_block 2, norm_groups 16,
    # attention_levels [4] (their down block 5 and, mirrored, up block 2).
    block_out_channels: TupleOf[int] = (32, 64, 64)
    layers_per_block: int = Field(2, ge=1)
    attention_levels: TupleOf[int] = ()  # 0-based down-block indices with self-attention; up blocks mirror them
    norm_groups: int = Field(16, gt=0)  # GroupNorm groups (diffusers' norm_num_groups)
    mid_attention: bool = True  # self-attention in the middle block (diffusers' add_attention)
    # DDPM schedule (diffusers DDPMScheduler): Shi et al. use 1000 linear steps, epsilon.
    train_timesteps: int = Field(1000, ge=2)
    beta_schedule: Literal[BETA_SCHEDULES] = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = "epsilon"
    sampler: Literal["ddim", "ddpm"] = "ddim"  # with sampling.steps steps (Shi et al.: ddpm, 1000)
    # Optimizer of every training run (pretraining and each generation): AdamW with these betas,
    # linear warm-up then cosine decay to 0 over the run (Shi et al.: 500 warm-up, (0.95, 0.999)).
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    warmup_steps: int = Field(0, ge=0)
    lr_schedule: Literal["constant", "cosine"] = "constant"
    # The max gradient norm; null: no clipping (Shi et al.: 1.0).
    grad_clip: Optional[float] = Field(None, gt=0, description="or null")
    # null: no EMA; else sampling uses the EMA weights
    ema_decay: Optional[float] = Field(None, gt=0, lt=1, description="or null")
    mixed_precision: Literal["no", "fp16", "bf16"] = "fp16"  # through accelerate, on GPU only
    # Training length of each generation in epochs over its training set (steps = ceil(epochs x
    # set size / finetune.batch_size), so a growing set or a data-size axis scales it); null:
    # finetune.steps. Shi et al.: 501 epochs at batch 128.
    epochs: Optional[int] = Field(None, ge=1, description="or null: finetune.steps")
    # false: ignore the data's labels (an unconditional model, as Shi et al.'s CIFAR-10 DDPM).
    conditional: bool = True
    # A base model trained once per sweep on the real pool, which `finetune.init: previous | base`
    # start from; 0 = none (random weights from pretrain_seed), as `init: scratch` needs.
    pretrain_steps: int = Field(0, ge=0, description="0: no base model")
    pretrain_batch_size: int = Field(128, ge=1)
    pretrain_lr: float = Field(1e-4, gt=0)
    pretrain_cond_drop: float = Field(0.1, ge=0, lt=1)
    pretrain_seed: int = 0
    lora_targets: TupleOf[Literal[LORA_TARGETS]] = ("conv1", "conv2")
    classifier_steps: int = Field(1500, ge=1)  # metrics.features: classifier
    classifier_hidden: int = Field(128, ge=2)
    min_class_images: int = Field(5, ge=1)  # fewer in a class (or in a flat folder) is refused at validate

    @model_validator(mode="after")
    def _shape(self):
        check(1 <= self.levels <= 8, "block_out_channels", "needs 1 to 8 entries")
        check(self.resolution % 2 ** (self.levels - 1) == 0, "resolution",
              f"{self.resolution} is not divisible by 2^{self.levels - 1} (each of the "
              f"{self.levels} levels but the last halves it)")
        for c in self.block_out_channels:
            check(c > 0 and c % self.norm_groups == 0, "block_out_channels",
                  f"{c} is not a positive multiple of norm_groups={self.norm_groups}")
        check(all(0 <= a < self.levels for a in self.attention_levels), "attention_levels",
              f"indices must be in 0..{self.levels - 1}, got {list(self.attention_levels)}")
        check(len(set(self.attention_levels)) == len(self.attention_levels), "attention_levels", "duplicate index")
        check(0 < self.beta_start < self.beta_end < 1, "beta_start", "needs 0 < beta_start < beta_end < 1")
        return self

    @property
    def levels(self) -> int:
        return len(self.block_out_channels)

    def check_sweep(self, cfg) -> None:
        self.check_entropy_k(cfg)
        check(not cfg.data.eval_only_classes, "data.eval_only_classes", "not supported by the ddpm backend (use digits)")
        check(cfg.finetune.init == "scratch" or cfg.finetune.lora_rank == 0 or self.pretrain_steps > 0,
              "finetune.lora_rank", "a LoRA adapter on an untrained base (model.pretrain_steps: 0) learns almost "
              "nothing; set model.pretrain_steps or finetune.lora_rank: 0")

    def metric_names(self, cfg=None) -> tuple[str, ...]:
        """The Parquet columns: from the config alone (the files are preflight's), so that a sweep
        file loads on a machine without its data. The classifier's view of the conditioning needs
        labels, which `metrics.features: classifier` requires (preflight refuses it without)."""
        names = FIDELITY + PIXEL_AND_COPY
        return names + CLASSIFIER_VIEW if cfg is not None and cfg.metrics.features == "classifier" else names

    def preflight(self, cfg, problems) -> int | None:
        """The preflight hook (autophagy/preflight.py), run by `autophagy validate` and `run` for
        every cell before Ray starts: the data loads (unreadable files, non-square images, classes
        too small), the feature weights exist and fit the data. Returns the real pool's size."""
        from autophagy.backends.ddpm import data
        from autophagy.metrics import features

        with problems.guard():
            features.check(cfg.metrics)
        info = None
        with problems.guard():
            info = data.check(cfg)
        if info is None:
            return None
        if cfg.metrics.features == "classifier" and not info.classes:
            problems.add(f"metrics.features: classifier needs class labels, and data.path={cfg.data.path!r} has "
                         "none (no class subfolders / no 'labels' / model.conditional: false); use inception or dinov2")
        if cfg.metrics.features != "classifier" and info.channels not in (1, 3):
            problems.add(f"metrics.features: {cfg.metrics.features} takes 1- or 3-channel images, and "
                         f"data.path={cfg.data.path!r} has {info.channels}; use classifier")
        return info.n - cfg.data.holdout
