"""A LoRA adapter's weights in and out of a model, through peft, for every backend that uses one;
and a finetuned model's trained weights (the adapter, or all of them) in and out of a checkpoint."""

from __future__ import annotations

import numpy as np
import safetensors.torch
import torch
from peft import get_peft_model_state_dict, set_peft_model_state_dict

ADAPTER = "default"


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return get_peft_model_state_dict(model, adapter_name=ADAPTER)


def load(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = set(state(model))
    if set(tensors) != expected:
        extra, missing = sorted(set(tensors) - expected), sorted(expected - set(tensors))
        raise ValueError(f"LoRA state does not fit this model (model.lora_targets or finetune.lora_rank "
                         f"changed?): missing {missing[:3]}, unexpected {extra[:3]}")
    result = set_peft_model_state_dict(model, tensors, adapter_name=ADAPTER)
    if result.unexpected_keys:
        raise ValueError(f"LoRA state: unexpected keys {result.unexpected_keys[:3]}")


def trained_state(model: torch.nn.Module, lora: bool) -> dict[str, np.ndarray]:
    """What a chain's finetune changed, as arrays for a checkpoint: the adapter under LoRA, else
    every weight. Copies, not views of the live weights."""
    tensors = state(model) if lora else model.state_dict()
    return {k: v.detach().cpu().numpy().copy() for k, v in tensors.items()}


def load_trained_state(model: torch.nn.Module, arrays: dict[str, np.ndarray], lora: bool, backend: str) -> None:
    """The inverse of `trained_state`; a checkpoint of the other kind is refused with a clear line."""
    tensors = {k: torch.tensor(np.asarray(v)) for k, v in arrays.items()}
    if lora:
        load(model, tensors)
        return
    try:
        model.load_state_dict(tensors)
    except RuntimeError as err:
        raise ValueError(f"{backend} backend: the state is not a full UNet of this model config "
                         f"(a LoRA checkpoint with finetune.lora_rank=0?): {str(err)[:200]}") from None


def to_bytes(state_dict: dict[str, torch.Tensor]) -> bytes:
    """A state dict as safetensors bytes (a shared asset: the base model, a classifier)."""
    return safetensors.torch.save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()})
