"""The `model:` section of a `stable-diffusion` sweep. Light on purpose: validating a sweep file
imports this module, and it must not pull in torch or diffusers (about 5 s).

Paths are only checked for being given here; whether they exist is checked by `preflight` (before
Ray starts: `autophagy validate` and `run`, on the machine that runs them) and again by the
backend's `asset_key`/`prepare` on the cluster.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, model_validator

from autophagy.backends.stable_diffusion import preflight
from autophagy.config import ModelSection, TupleOf, check
from autophagy.metrics import registry

# peft target names of the UNet's attention projections: what diffusers' own LoRA training
# script (train_text_to_image_lora.py) adapts. Any other leaf name of the UNet works too.
DEFAULT_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
PROMPT_SET = re.compile(r"^[a-z][a-z0-9_]*$")  # becomes part of a Parquet column name


class StableDiffusionModelConfig(ModelSection):
    # A local diffusers pipeline directory (model_index.json + unet/ vae/ text_encoder/ tokenizer/
    # scheduler/): SD 1.x, SD 2.x, SD-Turbo. Loaded with local_files_only: nothing is downloaded.
    path: Optional[str] = None
    resolution: int = 512  # training and sampling size; real images are centre-cropped and resized
    # accelerate's mixed precision on CUDA (frozen weights held in that dtype, trained ones in
    # fp32); on CPU everything runs in fp32, as fp16 kernels are missing or slow there.
    mixed_precision: Literal["no", "fp16", "bf16"] = "fp16"
    grad_accum: int = Field(1, ge=1)  # micro-batches of finetune.batch_size per optimizer step (accelerate)
    grad_clip: float = Field(1.0, ge=0, description="0: no clipping")  # max gradient norm (Pu et al.: 1.0)
    # Pu et al. used SGD (lr 1e-3, weight decay 1e-2); AdamW is what diffusers' scripts use.
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lora_targets: TupleOf[str] = DEFAULT_LORA_TARGETS  # finetune.lora_rank 0: full UNet instead
    # text2img: prompts alone; img2img: each prompt's own real image, noised to `strength` and
    # denoised (Bohacek & Farid made their synthetic faces this way). 1.0 is text2img in effect.
    generation: Literal["text2img", "img2img"] = "text2img"
    strength: float = Field(0.75, gt=0, le=1)
    sample_batch: int = Field(8, ge=1)  # images per pipeline call: bounds GPU memory, not results
    # Extra evaluation prompt sets, never trained on: name -> list of prompts (Pu et al.'s "similar"
    # and "different"). Each set is sampled every generation; its metrics go to <metric>_<name>.
    eval_prompts: dict = {}
    eval_images_per_prompt: int = Field(1, ge=1)
    # torch-fidelity's Inception weights (weights-inception-2015-12-05-6726825d.pth) as a local file:
    # FID, KID, precision and recall against the held-out real images. None: no such columns.
    inception_weights: Optional[str] = None
    clip_path: Optional[str] = None  # a local transformers CLIP directory: clip_score columns
    # Pixel distances (pairwise, nearest training image) on images area-resized to this size: at
    # 512 px one image is 786k floats, and 1000 of them in float64 would take 6 GB. None: full size.
    pixel_size: Optional[int] = Field(128, ge=1, description="or null")

    @model_validator(mode="after")
    def _paths_and_prompts(self):
        check(bool(self.path), "path", "missing (required): a local diffusers pipeline directory "
              "(e.g. `huggingface-cli download stabilityai/sd-turbo --local-dir DIR`)")
        check(self.resolution >= 8 and self.resolution % 8 == 0, "resolution",
              f"must be a positive multiple of 8 (the VAE downsamples by 8), got {self.resolution}")
        check(len(self.lora_targets) > 0, "lora_targets", "must name at least one module")
        check(self.inception_weights is None or bool(self.inception_weights), "inception_weights",
              "must be a file path or null")
        check(self.clip_path is None or bool(self.clip_path), "clip_path", "must be a directory or null")
        for name, prompts in self.eval_prompts.items():
            check(isinstance(name, str) and bool(PROMPT_SET.match(name)), "eval_prompts",
                  f"set name {name!r} must be lower case letters, digits and '_' (it names columns)")
            check(isinstance(prompts, (list, tuple)) and len(prompts) > 0, f"eval_prompts.{name}",
                  "must be a non-empty list of prompts")
            check(len(prompts) * self.eval_images_per_prompt >= 2, f"eval_prompts.{name}",
                  "needs at least 2 images for a pairwise distance (more prompts or eval_images_per_prompt)")
            for i, p in enumerate(prompts):
                check(isinstance(p, str) and p.strip() != "", f"eval_prompts.{name}[{i}]",
                      f"must be a non-empty string, got {p!r}")
        return self

    def metric_names(self, cfg=None) -> tuple[str, ...]:
        # fid first where there is one: the default collapse metric.
        names = list(registry.names("fidelity")) if self.inception_weights else []
        if self.clip_path:
            names += registry.names("text_alignment")
        names += registry.names("pairwise_l2", "pairwise_l2_std", "nearest_train_l2", "memorization_share")
        for name in self.eval_prompts:
            names.append(f"pairwise_l2_{name}")
            if self.clip_path:
                names.append(f"clip_score_{name}")
        return tuple(names)

    def preflight(self, cfg, problems) -> int | None:
        """The preflight hook (autophagy/preflight.py): the pipeline, weights and image folder exist
        and open; returns the real training pool's size."""
        return preflight.pool_size(cfg, problems)
