"""Backends, chosen by name in the sweep file (`backend: digits`).

Each entry names the backend's `model:` config dataclass (a light import, so that validating a
sweep file never imports torch) and its `Backend` class (imported only where a chain runs).
Adding a backend is one new module and one line here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autophagy.backends.base import Backend

_REGISTRY = {
    # name: (model config dataclass, backend class)
    "gmm": ("autophagy.backends.gmm:GMMModelConfig", "autophagy.backends.gmm:GMMBackend"),
    "ddpm": ("autophagy.backends.ddpm.config:DDPMModelConfig", "autophagy.backends.ddpm.backend:DDPMBackend"),
    "digits": ("autophagy.backends.digits.config:DigitsModelConfig", "autophagy.backends.digits.backend:DigitsBackend"),
    "stable-diffusion": ("autophagy.backends.stable_diffusion.config:StableDiffusionModelConfig", "autophagy.backends.stable_diffusion.backend:StableDiffusionBackend"),
}


def _load(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def names() -> list[str]:
    return sorted(_REGISTRY)


def model_config_class(name: str) -> type:
    return _load(_REGISTRY[name][0])


def backend_class(name: str) -> type["Backend"]:
    return _load(_REGISTRY[name][1])
