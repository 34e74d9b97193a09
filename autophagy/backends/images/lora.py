"""LoRA adapters on the UNet through peft. `UNet2DModel` has no `add_adapter`, so peft injects
the layers directly; the base weights are frozen and only the adapter trains."""

from __future__ import annotations

import copy

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer

from autophagy.backends.adapter import ADAPTER, load, state  # noqa: F401  (lora.state, lora.load)


def inject(unet: torch.nn.Module, rank: int, alpha: float | None, targets: tuple[str, ...]) -> None:
    config = LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, target_modules=list(targets))
    # peft initialises A from torch's global generator; `reset` redraws it from a seed anyway.
    with torch.random.fork_rng(devices=[]):
        inject_adapter_in_model(config, unet, adapter_name=ADAPTER)


def reset(unet: torch.nn.Module, seed: int) -> None:
    """A fresh adapter: B = 0 (so the model equals its base) and A redrawn from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in unet.modules():
            if isinstance(module, LoraLayer):
                module.reset_lora_parameters(ADAPTER, True)


def restart(unet: torch.nn.Module, base: dict[str, torch.Tensor], adapted: bool, seed: int) -> None:
    """Back to the base model: under LoRA (`adapted`) a fresh adapter, since the base weights are
    frozen and B = 0 makes the model its base; else the base weights loaded again."""
    if adapted:
        reset(unet, seed)
    else:
        unet.load_state_dict(base)


def merged_copy(unet: torch.nn.Module) -> torch.nn.Module:
    """A copy with each adapter folded into its base weight, for sampling: unmerged, every wrapped
    conv runs two more convs, and sampling 500 digits took 3.9 s instead of 2.5 s. A copy, because
    merge-then-unmerge would leave the chain's own base weights off by rounding."""
    merged = copy.deepcopy(unet)
    for module in merged.modules():
        if isinstance(module, LoraLayer):
            module.merge()
    return merged
