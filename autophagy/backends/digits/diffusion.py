"""DDPM training loss and DDIM sampling with classifier-free guidance, randomness injected.

Images travel as uint8 0..255 outside and as floats in [-1, 1] inside: `to_model` / `to_uint8`.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

from autophagy.backends.digits.unet import NULL_CLASS
from autophagy.guidance import cfg_schedule  # noqa: F401  (diffusion.cfg_schedule)


def to_model(x: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(x).to(device, torch.float32) / 127.5 - 1


def to_uint8(x: torch.Tensor) -> np.ndarray:
    # The same quantisation real images went through, so samples can be mixed into training sets.
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def drop_labels(y: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Replace each label by the null class with probability p (condition drop)."""
    drop = torch.rand(y.shape, generator=generator) < p
    return torch.where(drop.to(y.device), torch.full_like(y, NULL_CLASS), y)


def loss(unet: UNet2DModel, scheduler: DDPMScheduler, x0: torch.Tensor, y: torch.Tensor,
         generator: torch.Generator) -> torch.Tensor:
    """Epsilon-prediction MSE at uniformly drawn timesteps. Noise is drawn on the CPU generator and
    moved, so a seed gives the same draws on every device."""
    n = len(x0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    pred = unet(scheduler.add_noise(x0, noise, t), t, class_labels=y).sample
    return torch.nn.functional.mse_loss(pred, noise)


@torch.no_grad()
def sample(unet: UNet2DModel, scheduler: DDIMScheduler, y: torch.Tensor, steps: int,
           cfg_scale: float | np.ndarray, size: int, generator: torch.Generator) -> torch.Tensor:
    """DDIM (eta 0, so the start noise is the only randomness) with
    eps = eps_uncond + w * (eps_cond - eps_uncond); conditional and unconditional halves share one
    forward pass. `cfg_scale` is one w, or one per step (`cfg_schedule`). w = 1 at every step is
    plain conditional sampling and skips the unconditional half."""
    device = y.device
    scales = np.broadcast_to(np.asarray(cfg_scale, dtype=float), (steps,))
    x = torch.randn((len(y), 1, size, size), generator=generator).to(device)
    guided = bool(np.any(scales != 1.0))
    labels = torch.cat([y, torch.full_like(y, NULL_CLASS)]) if guided else y
    scheduler.set_timesteps(steps)
    for t, w in zip(scheduler.timesteps, scales):
        inp = torch.cat([x, x]) if guided else x
        eps = unet(inp, t.to(device), class_labels=labels).sample
        if guided:
            cond, uncond = eps.chunk(2)
            eps = uncond + float(w) * (cond - uncond)
        x = scheduler.step(eps, t, x).prev_sample
    return x
