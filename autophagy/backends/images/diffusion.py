"""The DDPM training loss and the sampler (DDIM or DDPM, classifier-free guidance), randomness injected.

Images travel as uint8 0..255 outside and as floats in [-1, 1] inside: `to_model` / `to_uint8`.
Labels: class ids, or None for an unconditional model; `null` is the null class's index.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DModel

from autophagy.guidance import cfg_schedule  # noqa: F401  (diffusion.cfg_schedule)


def to_model(x: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(x).to(device, torch.float32) / 127.5 - 1


def to_uint8(x: torch.Tensor) -> np.ndarray:
    # The same quantisation real images went through, so samples can be mixed into training sets.
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def drop_labels(y: torch.Tensor | None, p: float, null: int, generator: torch.Generator) -> torch.Tensor | None:
    """Replace each label by the null class with probability p (condition drop)."""
    if y is None:
        return None
    drop = torch.rand(y.shape, generator=generator) < p
    return torch.where(drop.to(y.device), torch.full_like(y, null), y)


def loss(unet: UNet2DModel, scheduler, x0: torch.Tensor, y: torch.Tensor | None,
         generator: torch.Generator) -> torch.Tensor:
    """MSE of the scheduler's prediction type (epsilon, v_prediction or sample) at uniformly drawn
    timesteps. Noise is drawn on the CPU generator and moved, so a seed draws the same on every device."""
    n = len(x0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    pred = unet(scheduler.add_noise(x0, noise, t), t, class_labels=y).sample
    kind = scheduler.config.prediction_type
    target = noise if kind == "epsilon" else x0 if kind == "sample" else scheduler.get_velocity(x0, noise, t)
    return torch.nn.functional.mse_loss(pred.float(), target.float())


@torch.no_grad()
def sample(unet: UNet2DModel, scheduler, y: torch.Tensor | None, n: int, steps: int,
           cfg_scale: float | np.ndarray, shape: tuple[int, int, int], null: int,
           generator: torch.Generator, device: str) -> torch.Tensor:
    """n images of `shape` (C, H, W) with eps = eps_uncond + w * (eps_cond - eps_uncond); the
    conditional and unconditional halves share one forward pass. `cfg_scale` is one w, or one per
    step (`cfg_schedule`); w = 1 everywhere, or no labels, skips the unconditional half. DDIM (eta 0)
    draws only the start noise; DDPM also draws each step's noise from `generator`."""
    scales = np.broadcast_to(np.asarray(cfg_scale, dtype=float), (steps,))
    x = torch.randn((n, *shape), generator=generator).to(device)
    guided = y is not None and bool(np.any(scales != 1.0))
    labels = torch.cat([y, torch.full_like(y, null)]) if guided else y
    noise = {"generator": generator} if isinstance(scheduler, DDPMScheduler) else {}  # DDIM at eta 0 draws none
    scheduler.set_timesteps(steps)
    for t, w in zip(scheduler.timesteps, scales):
        inp = torch.cat([x, x]) if guided else x
        eps = unet(inp, t.to(device), class_labels=labels).sample
        if guided:
            cond, uncond = eps.chunk(2)
            eps = uncond + float(w) * (cond - uncond)
        x = scheduler.step(eps, t, x, **noise).prev_sample
    return x
