"""The digits' denoiser: the image kit's `UNet2DModel` builder at the digits' shape (small,
class-conditional, conv-only), and its noise schedules."""

from __future__ import annotations

from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from autophagy.backends.digits.config import CLASSES, DigitsModelConfig
from autophagy.backends.images import unet

NULL_CLASS = CLASSES  # the label of "no condition": condition drop trains it, CFG samples with it


def shape(m: DigitsModelConfig, size: int = 8) -> unet.Shape:
    """The digits model as the kit's UNet shape. No attention anywhere: at 8x8 it costs 3x the
    time per step (14-17 vs 38-49 train it/s at batch 128, measured on 2 cores) and digits do not need it. Scheduler defaults as before (DDPM betas
    1e-4..0.02, epsilon, DDIM sampling)."""
    levels = len(m.channels)
    if size % 2 ** (levels - 1):
        raise ValueError(f"model.channels: {levels} levels halve the image {levels - 1} times, "
                         f"but the images are {size}x{size}")
    return unet.Shape(resolution=size, block_out_channels=tuple(m.channels), layers_per_block=m.layers_per_block,
                      norm_groups=m.norm_groups, mid_attention=False, train_timesteps=m.train_timesteps,
                      beta_schedule=m.beta_schedule, sampler="ddim")


def new(m: DigitsModelConfig, size: int, seed: int) -> UNet2DModel:
    """A freshly initialised UNet whose weights depend on `seed` only (global RNG left untouched)."""
    return unet.new(shape(m, size), channels=1, classes=CLASSES, seed=seed)


def train_scheduler(m: DigitsModelConfig) -> DDPMScheduler:
    return unet.train_scheduler(shape(m))


def sample_scheduler(m: DigitsModelConfig) -> DDIMScheduler:
    return unet.sample_scheduler(shape(m))
