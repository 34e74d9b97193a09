"""The base pipeline, from a local diffusers directory (`model.path`), never from a hub.

`check` runs on the driver (through `asset_key`) before any chain starts and names the sweep key
and the path that is wrong; `load` runs once per chain actor.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

from autophagy.config import ConfigError

COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")


def check(cfg) -> None:
    """Refuse missing local files by the key that names them: model.path, model.inception_weights,
    model.clip_path. (data.path is checked by data.read_metadata.)"""
    m = cfg.model
    root = Path(m.path)
    where = f"model.path={m.path!r}"
    if not root.is_dir():
        raise ConfigError(f"{where}: no such directory. It must hold a diffusers pipeline; on a machine "
                          f"with network: `huggingface-cli download stabilityai/sd-turbo --local-dir {m.path}` "
                          "(or stabilityai/stable-diffusion-2-1), then copy the directory here")
    if not (root / "model_index.json").is_file():
        raise ConfigError(f"{where}: no model_index.json: not a diffusers pipeline directory "
                          "(save one with StableDiffusionPipeline.save_pretrained)")
    missing = [c for c in COMPONENTS if not (root / c).is_dir()]
    if missing:
        raise ConfigError(f"{where}: lacks the component folder(s) {', '.join(missing)}")
    if m.inception_weights is not None and not Path(m.inception_weights).is_file():
        raise ConfigError(f"model.inception_weights={m.inception_weights!r}: no such file. It is torch-fidelity's "
                          f"Inception-v3 (FID): download {INCEPTION_URL} on a machine with network "
                          f"(`curl -L -o {Path(m.inception_weights).name} URL`) and copy it to that path, "
                          "or set model.inception_weights: null to go without FID")
    if m.clip_path is not None and not (Path(m.clip_path) / "config.json").is_file():
        raise ConfigError(f"model.clip_path={m.clip_path!r}: not a transformers CLIP directory (no config.json); "
                          "e.g. `huggingface-cli download openai/clip-vit-large-patch14 --local-dir DIR`, "
                          "or set model.clip_path: null to go without CLIP score")


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
