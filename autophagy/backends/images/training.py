"""The denoiser's training loop, for the base model, every generation's finetune, and `digits`.

AdamW (betas from the model section), a linear warm-up then a constant or cosine rate
(diffusers' get_scheduler), gradient clipping, an optional EMA (diffusers' EMAModel), and
accelerate's mixed precision on GPU (fp32 on CPU). With no warm-up, a constant rate, no clipping
and no EMA it is plain AdamW: the loop `digits` pretrained and finetuned with before it shared it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from accelerate import Accelerator
from diffusers import UNet2DModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel

from autophagy.backends.batches import batches
from autophagy.backends.images import diffusion
from autophagy.samples import Samples


@dataclass(frozen=True)
class Optim:
    lr: float
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    schedule: str = "constant"  # constant | cosine (to 0 at the last step)
    grad_clip: Optional[float] = None
    mixed_precision: str = "no"  # no | fp16 | bf16, on GPU only

    @staticmethod
    def of(m, lr: float, weight_decay: float) -> "Optim":
        """The optimizer of model section `m` (DDPMModelConfig) at this rate and decay."""
        return Optim(lr, weight_decay, (m.adam_beta1, m.adam_beta2), m.warmup_steps, m.lr_schedule,
                     m.grad_clip, m.mixed_precision)


def run(unet: UNet2DModel, scheduler, data: Samples, *, steps: int, batch_size: int, optim: Optim,
        cond_drop: float, null: int, generator: torch.Generator, device: str,
        ema: Optional[EMAModel] = None) -> list[float]:
    """Train the parameters that require grad; returns the loss of each step. Labels are used when
    the UNet has a class embedding. Stops at the first non-finite loss (returned last)."""
    params = [p for p in unet.parameters() if p.requires_grad]
    # fused: one kernel for all ~100 parameter tensors; the per-tensor loop took 20 % of a CPU step.
    opt = torch.optim.AdamW(params, lr=optim.lr, weight_decay=optim.weight_decay, betas=optim.betas, fused=True)
    name = optim.schedule if optim.schedule == "cosine" else "constant_with_warmup" if optim.warmup_steps else "constant"
    rate = get_scheduler(name, opt, num_warmup_steps=optim.warmup_steps, num_training_steps=steps)
    cuda = device.startswith("cuda")
    # accelerate keeps one process-wide state: an actor's chains always ask the same of it.
    acc = Accelerator(mixed_precision=optim.mixed_precision if cuda else "no", cpu=not cuda)
    opt = acc.prepare_optimizer(opt)
    x = diffusion.to_model(data.x, device)
    conditional = unet.config.num_class_embeds is not None
    y = torch.from_numpy(np.asarray(data.y, dtype=np.int64)).to(device) if conditional else None
    unet.train()
    losses = []
    for idx in batches(len(x), batch_size, steps, generator):
        idx = idx.to(device)
        labels = diffusion.drop_labels(None if y is None else y[idx], cond_drop, null, generator)
        with acc.autocast():
            loss = diffusion.loss(unet, scheduler, x[idx], labels, generator)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        if optim.grad_clip is not None:
            acc.clip_grad_norm_(params, optim.grad_clip)
        opt.step()
        rate.step()
        if ema is not None:
            ema.step(params)
    unet.eval()
    return losses
