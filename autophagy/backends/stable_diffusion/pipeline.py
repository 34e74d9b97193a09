"""The base pipeline, from a local diffusers directory (`model.path`), never from a hub.

`check` (preflight.py, light: no torch) runs before Ray starts (`autophagy validate`, `run`) and
again through `asset_key`, and names the sweep key and the path that is wrong; `load` runs once
per chain actor.
"""

from __future__ import annotations

import torch
from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

from autophagy.backends.stable_diffusion.preflight import check
from autophagy.config import ConfigError

def weight_dtype(cfg, device: str) -> torch.dtype:
    """The dtype of the frozen weights: fp16/bf16 under mixed precision on CUDA, else fp32."""
    if not device.startswith("cuda"):
        return torch.float32
    return {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[cfg.model.mixed_precision]


def load(cfg, device: str, full_unet: bool = False) -> StableDiffusionPipeline:
    """The pipeline on `device`, every weight frozen in `weight_dtype`, except the UNet of a full
    finetune (`full_unet`), which trains in fp32 (accelerate's mixed precision keeps fp32 master
    weights; fp16 weights updated in place lose small steps to rounding)."""
    check(cfg)
    dtype = weight_dtype(cfg, device)
    try:
        # No safety checker: it blacks out images it flags, which would read as collapse.
        pipe = StableDiffusionPipeline.from_pretrained(
            cfg.model.path, local_files_only=True, safety_checker=None, requires_safety_checker=False, dtype=dtype)
    except (OSError, ValueError) as err:
        raise ConfigError(f"model.path={cfg.model.path!r}: not a loadable Stable Diffusion pipeline: "
                          f"{str(err)[:300]}") from None
    pipe.to(device)
    for module in (pipe.vae, pipe.text_encoder, pipe.unet):
        module.requires_grad_(False)
    if full_unet:
        if dtype != torch.float32:
            pipe.unet.to(dtype=torch.float32)
        pipe.unet.requires_grad_(True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def img2img(pipe: StableDiffusionPipeline) -> StableDiffusionImg2ImgPipeline:
    """The image-to-image pipeline over the same modules (no second copy of any weight)."""
    p = StableDiffusionImg2ImgPipeline(**pipe.components, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    return p
