"""The denoiser: a small class-conditional, conv-only diffusers `UNet2DModel`, and its noise schedule."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from autophagy.backends.digits.config import DigitsModelConfig

CLASSES = 10
NULL_CLASS = CLASSES  # the label of "no condition": condition drop trains it, CFG samples with it


def new(m: DigitsModelConfig, size: int, seed: int) -> UNet2DModel:
    """A freshly initialised UNet whose weights depend on `seed` only (global RNG left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _build(m, size)


def _build(m: DigitsModelConfig, size: int) -> UNet2DModel:
    levels = len(m.channels)
    if size % 2 ** (levels - 1):
        raise ValueError(f"model.channels: {levels} levels halve the image {levels - 1} times, "
                         f"but the images are {size}x{size}")
    return UNet2DModel(
        sample_size=size,
        in_channels=1,
        out_channels=1,
        block_out_channels=m.channels,
        layers_per_block=m.layers_per_block,
        down_block_types=("DownBlock2D",) * levels,
        up_block_types=("UpBlock2D",) * levels,
        # Attention at 8x8 costs 3x the time per step (RESEARCH.md) and digits do not need it.
        add_attention=False,
        norm_num_groups=m.norm_groups,
        num_class_embeds=CLASSES + 1,
    )


def train_scheduler(m: DigitsModelConfig) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=m.train_timesteps, beta_schedule=m.beta_schedule)


def sample_scheduler(m: DigitsModelConfig) -> DDIMScheduler:
    # clip_sample keeps each step's x0 estimate inside the data range [-1, 1].
    return DDIMScheduler(num_train_timesteps=m.train_timesteps, beta_schedule=m.beta_schedule, clip_sample=True)
