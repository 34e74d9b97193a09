"""The digits' DDPM loss pieces and sampler: the image kit's (one sampler for both backends), bound to
one channel and the digits' null class. Images: uint8 outside, floats in [-1, 1] inside."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDIMScheduler, UNet2DModel

from autophagy.backends.digits.unet import NULL_CLASS
from autophagy.backends.images import diffusion
from autophagy.backends.images.diffusion import cfg_schedule, to_model, to_uint8  # noqa: F401  (digits.diffusion.*)


def drop_labels(y: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each label by the null class with probability p (condition drop)."""
    return diffusion.drop_labels(y, p, NULL_CLASS, generator)


def sample(unet: UNet2DModel, scheduler: DDIMScheduler, y: torch.Tensor, steps: int,
           cfg_scale: float | np.ndarray, size: int, generator: torch.Generator) -> torch.Tensor:
    """len(y) digits of size x size, DDIM with classifier-free guidance (images.diffusion.sample)."""
    return diffusion.sample(unet, scheduler, y, len(y), steps, cfg_scale, (1, size, size), NULL_CLASS,
                            generator, y.device)
