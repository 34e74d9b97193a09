"""LoRA on the UNet through peft (diffusers' `add_adapter`). A full finetune (finetune.lora_rank 0)
needs none of this: it trains the UNet's own weights.

Under LoRA the base weights are frozen (and held in the half-precision `weight_dtype` on CUDA:
1.7 GB instead of 3.5 GB for SD 2.1's 866M parameters) and only the adapter trains, in fp32.
A chain's state is then the adapter alone: at rank 8 on the attention projections of SD 2.1,
1.66M parameters (6.6 MB in fp32), against 866M (3.5 GB) for the full UNet.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from peft import LoraConfig
from peft.tuners.lora import LoraLayer

from autophagy.backends.adapter import ADAPTER, load, state  # noqa: F401  (lora.state, lora.load)


def inject(unet: UNet2DConditionModel, rank: int, alpha: float | None, targets: tuple[str, ...]) -> None:
    unet.requires_grad_(False)
    config = LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, target_modules=list(targets))
    # peft draws A from torch's global generator; `reset` redraws it from the chain's seed anyway.
    with torch.random.fork_rng(devices=[]):
        try:
            unet.add_adapter(config, adapter_name=ADAPTER)
        except ValueError as err:  # peft: "Target modules {...} not found in the base model"
            raise ValueError(f"model.lora_targets={list(targets)}: {str(err)[:200]}") from None
    for p in unet.parameters():
        if p.requires_grad:  # only the adapter's A and B
            p.data = p.data.float()


def reset(unet: UNet2DConditionModel, seed: int) -> None:
    """A fresh adapter: B = 0 (so the model equals its base) and A redrawn from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in unet.modules():
            if isinstance(module, LoraLayer):
                module.reset_lora_parameters(ADAPTER, True)
    for p in unet.parameters():
        if p.requires_grad:
            p.data = p.data.float()
