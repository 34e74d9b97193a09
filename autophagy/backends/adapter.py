"""A LoRA adapter's weights in and out of a model, through peft, for every backend that uses one."""

from __future__ import annotations

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
