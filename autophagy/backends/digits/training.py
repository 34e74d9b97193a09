"""The denoiser's training loop, shared by pretraining and every generation's finetune."""

from __future__ import annotations

import math

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DModel

from autophagy.backends.batches import batches
from autophagy.backends.digits import diffusion
from autophagy.samples import Samples


def run(unet: UNet2DModel, scheduler: DDPMScheduler, data: Samples, *, steps: int, batch_size: int,
        lr: float, weight_decay: float, cond_drop: float, generator: torch.Generator, device: str) -> list[float]:
    """Train the parameters that require grad with a fresh AdamW; returns the loss of each step.
    Stops at the first non-finite loss (returned last) instead of training on garbage."""
    params = [p for p in unet.parameters() if p.requires_grad]
    # fused: one kernel for all ~100 parameter tensors; the per-tensor loop took 20 % of a CPU step.
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    x = diffusion.to_model(data.x, device)
    y = torch.from_numpy(np.asarray(data.y, dtype=np.int64)).to(device)
    unet.train()
    losses = []
    for idx in batches(len(x), batch_size, steps, generator):
        idx = idx.to(device)
        labels = diffusion.drop_labels(y[idx], cond_drop, generator)
        loss = diffusion.loss(unet, scheduler, x[idx], labels, generator)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    unet.eval()
    return losses
