"""The digits' training loop, for pretraining and every finetune: the image kit's loop (one
loop for both) with plain AdamW (no warm-up, constant rate, no clipping, no EMA, fp32)."""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler, UNet2DModel

from autophagy.backends.digits.unet import NULL_CLASS
from autophagy.backends.images import training
from autophagy.samples import Samples


def run(unet: UNet2DModel, scheduler: DDPMScheduler, data: Samples, *, steps: int, batch_size: int,
        lr: float, weight_decay: float, cond_drop: float, generator: torch.Generator, device: str) -> list[float]:
    """The loss of each step; stops at the first non-finite one (returned last)."""
    return training.run(unet, scheduler, data, steps=steps, batch_size=batch_size,
                        optim=training.Optim(lr, weight_decay), cond_drop=cond_drop, null=NULL_CLASS,
                        generator=generator, device=device)
