"""The denoiser, a diffusers `UNet2DModel` shaped by the sweep, and its noise schedules.

`m`, the shape, is anything with `Shape`'s attributes: the ddpm backend's `model:` section itself,
or a `Shape` that another backend fills from its own (digits/unet.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel


@dataclass(frozen=True)
class Shape:
    """A UNet and its schedules, with the ddpm backend's defaults (ddpm/config.py)."""

    resolution: int
    block_out_channels: tuple[int, ...]
    layers_per_block: int
    norm_groups: int
    train_timesteps: int
    beta_schedule: str
    mid_attention: bool = True
    attention_levels: tuple[int, ...] = ()
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: str = "epsilon"
    sampler: str = "ddim"


def new(m, channels: int, classes: int, seed: int) -> UNet2DModel:
    """Fresh weights that depend on `seed` only (the global RNG is left untouched). `classes` > 0
    adds a class embedding with one more entry, the null class (index `classes`) that condition
    drop trains and classifier-free guidance samples with; 0 gives an unconditional model."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _build(m, channels, classes)


def _build(m, channels: int, classes: int) -> UNet2DModel:
    levels = len(m.block_out_channels)
    attn = set(m.attention_levels)
    return UNet2DModel(
        sample_size=m.resolution,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=tuple(m.block_out_channels),
        layers_per_block=m.layers_per_block,
        down_block_types=tuple("AttnDownBlock2D" if i in attn else "DownBlock2D" for i in range(levels)),
        # up block i mirrors down block levels-1-i (UNet48: down 4 <-> up 1)
        up_block_types=tuple("AttnUpBlock2D" if levels - 1 - i in attn else "UpBlock2D" for i in range(levels)),
        add_attention=m.mid_attention,
        norm_num_groups=m.norm_groups,
        num_class_embeds=classes + 1 if classes else None,
    )


def train_scheduler(m) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=m.train_timesteps, beta_schedule=m.beta_schedule,
                         beta_start=m.beta_start, beta_end=m.beta_end, prediction_type=m.prediction_type)


def sample_scheduler(m) -> DDIMScheduler | DDPMScheduler:
    # clip_sample keeps each step's x0 estimate inside the data range [-1, 1].
    kind = DDIMScheduler if m.sampler == "ddim" else DDPMScheduler
    return kind(num_train_timesteps=m.train_timesteps, beta_schedule=m.beta_schedule, beta_start=m.beta_start,
                beta_end=m.beta_end, prediction_type=m.prediction_type, clip_sample=True)
