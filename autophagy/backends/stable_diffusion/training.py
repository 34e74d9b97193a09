"""The UNet's finetune: the noise-prediction loss of diffusers' train_text_to_image.py, with
accelerate for mixed precision (autocast + gradient scaling) and gradient accumulation.

The VAE and the text encoder are frozen, so each finetune encodes its training set once: the
VAE's latent distribution (mean, std) and the caption embeddings. Each step then draws its
latents from that distribution, which is what encoding the image again at every step would give.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import DDPMScheduler, StableDiffusionPipeline

from autophagy.backends.batches import batches

ENCODE_BATCH = 16  # images per VAE / text-encoder forward pass: bounds memory, not results


@torch.no_grad()
def encode_images(pipe: StableDiffusionPipeline, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the scaled VAE latents of uint8 images (N, 3, H, W), fp32 on the VAE's device."""
    vae = pipe.vae
    means, stds = [], []
    for start in range(0, len(x), ENCODE_BATCH):
        batch = torch.from_numpy(x[start:start + ENCODE_BATCH]).to(vae.device, vae.dtype) / 127.5 - 1
        dist = vae.encode(batch).latent_dist
        means.append(dist.mean.float())
        stds.append(dist.std.float())
    scale = vae.config.scaling_factor
    return torch.cat(means) * scale, torch.cat(stds) * scale


@torch.no_grad()
def encode_prompts(pipe: StableDiffusionPipeline, prompts: list[str]) -> torch.Tensor:
    """Text-encoder hidden states (N, tokens, dim), fp32, as the pipeline conditions on them."""
    out = []
    for start in range(0, len(prompts), ENCODE_BATCH):
        ids = pipe.tokenizer(prompts[start:start + ENCODE_BATCH], padding="max_length", truncation=True,
                             max_length=pipe.tokenizer.model_max_length, return_tensors="pt").input_ids
        out.append(pipe.text_encoder(ids.to(pipe.text_encoder.device))[0].float())
    return torch.cat(out)


def run(pipe: StableDiffusionPipeline, scheduler: DDPMScheduler, x: np.ndarray, prompts: list[str], *,
        steps: int, batch_size: int, lr: float, weight_decay: float, cond_drop: float, optimizer: str,
        grad_accum: int, grad_clip: float, mixed_precision: str, generator: torch.Generator,
        device: str) -> list[float]:
    """`steps` optimizer updates of the UNet's trainable parameters (the adapter, or all), each on
    `grad_accum` micro-batches of `batch_size`; a caption is replaced by the empty prompt with
    probability `cond_drop` (what classifier-free guidance needs; ReDiFine raises it). Returns the
    loss of each optimizer step (its micro-batches' mean); stops at the first non-finite one."""
    unet = pipe.unet
    mean, std = encode_images(pipe, x)
    cond = encode_prompts(pipe, prompts)
    null = encode_prompts(pipe, [""])
    params = [p for p in unet.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    # accelerate keeps one process-wide state: an actor's chain always asks the same of it.
    acc = Accelerator(mixed_precision=mixed_precision if device.startswith("cuda") else "no",
                      gradient_accumulation_steps=grad_accum, cpu=not device.startswith("cuda"))
    opt = acc.prepare_optimizer(opt)
    unet.train()
    losses, micro = [], []
    for idx in batches(len(x), batch_size, steps * grad_accum, generator):
        with acc.accumulate(unet):
            with acc.autocast():
                loss = _loss(unet, scheduler, mean[idx.to(mean.device)], std[idx.to(std.device)],
                             cond[idx.to(cond.device)], null, cond_drop, generator)
            micro.append(loss.item())
            if not math.isfinite(micro[-1]):
                losses.append(micro[-1])
                break
            acc.backward(loss)  # divides by grad_accum
            if acc.sync_gradients and grad_clip > 0:
                acc.clip_grad_norm_(params, grad_clip)
            opt.step()  # a no-op until the last micro-batch of the step
            opt.zero_grad(set_to_none=True)
        if acc.sync_gradients:
            losses.append(float(np.mean(micro)))
            micro = []
    unet.eval()
    acc.free_memory()
    return losses


def _loss(unet, scheduler: DDPMScheduler, mean: torch.Tensor, std: torch.Tensor, cond: torch.Tensor,
          null: torch.Tensor, cond_drop: float, generator: torch.Generator) -> torch.Tensor:
    n, device = len(mean), mean.device
    # Every draw comes from the chain's CPU generator, then moves: the same numbers on any device.
    latents = mean + std * torch.randn(mean.shape, generator=generator).to(device)
    noise = torch.randn(mean.shape, generator=generator).to(device)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=generator).to(device)
    drop = (torch.rand(n, generator=generator) < cond_drop).to(device)
    hidden = torch.where(drop[:, None, None], null.expand_as(cond), cond)
    noisy = scheduler.add_noise(latents, noise, t)
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        target = noise
    elif kind == "v_prediction":  # SD 2.1 at 768 px
        target = scheduler.get_velocity(latents, noise, t)
    else:
        raise ValueError(f"model.path: the scheduler's prediction_type {kind!r} is not supported "
                         "(epsilon or v_prediction)")
    dtype = next(p for p in unet.parameters()).dtype  # the base's: fp32, or half under LoRA on CUDA
    pred = unet(noisy.to(dtype), t, encoder_hidden_states=hidden.to(dtype)).sample
    return F.mse_loss(pred.float(), target.float())
