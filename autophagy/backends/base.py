"""What a backend must do for the chain loop. One instance holds one chain's model.

The chain loop (`autophagy/chain.py`) calls, for each generation g:
    finetune(train, seed) -> sample(n, seed) -> evaluate(samples, train, seed)
and `state()` / `load_state()` around checkpoints. Seeds come from `autophagy.seeding`, one per
(cell seed, stream, generation), so a backend never keeps RNG state of its own.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from autophagy.samples import Samples, flat_pixels


class Backend(ABC):
    needs_torch = True  # False lets a chain's worker skip importing torch (about 2 s)
    # Images in each generation's sample grid (`sample(grid_images, seed)` with the same seed every
    # generation: the same noise and labels, so generations compare). 0: the backend has no images.
    grid_images = 0

    @classmethod
    def metric_names(cls, cfg: Any) -> tuple[str, ...]:
        """Every metric `evaluate` returns, in order. They fix the Parquet schema before any chain
        runs, so a diverged or failed generation's row holds nulls in the same columns. Declared by
        the backend's (light) model config, so that validating a sweep needs no torch; it gets the
        whole sweep config, as columns may depend on other sections (digits: data.eval_only_classes)."""
        return cfg.model.metric_names(cfg)

    def __init__(self, cfg: Any, assets: dict[str, bytes], device: str = "cpu"):
        """`cfg` is the cell's SweepConfig; `assets` what `prepare` returned (shared by all chains)."""
        self.cfg, self.assets, self.device = cfg, assets, device

    def close(self) -> None:
        """The chain is done with this backend (its actor moves to the next chain): release what the
        next chain may reuse (the SD backend's loaded pipeline). Nothing by default."""

    @classmethod
    def prepare(cls, cfg: Any) -> dict[str, bytes]:
        """Work done once per sweep and shared by every chain (e.g. pretraining the base model and
        the evaluation network). Must be deterministic in `cfg`: the result is cached by a hash of
        `asset_key(cfg)`."""
        return {}

    @classmethod
    def asset_key(cls, cfg: Any) -> dict:
        """The part of the config that `prepare` depends on (the cache key)."""
        return {}

    @abstractmethod
    def real_data(self) -> tuple[Samples, Samples]:
        """(training pool, held-out evaluation set) of real data; the same for every chain."""

    @abstractmethod
    def finetune(self, train: Samples, seed: int) -> dict[str, float]:
        """Train the chain's model on `train` (from where `cfg.finetune.init` says). Returns at least
        {"loss": mean loss of the last steps}; a non-finite loss marks the generation diverged."""

    @abstractmethod
    def sample(self, n: int, seed: int) -> Samples:
        """n samples from the current model, in the same representation as the real data."""

    def features(self, x: np.ndarray) -> np.ndarray:
        """(N, D) float vectors of samples `x`, the `features` space of the selections (greedy,
        threshold_decay). Default: the flattened values (pixels) as float32."""
        return flat_pixels(x)

    @abstractmethod
    def evaluate(self, samples: Samples, train: Samples, seed: int) -> dict[str, float]:
        """Metrics of this generation (keys: `metric_names`), against the held-out real set."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to continue the chain from here (weights or adapter), as arrays."""

    @abstractmethod
    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Inverse of `state`."""


def fit_summary(losses: list[float]) -> dict[str, float]:
    """What `finetune` returns from its per-step losses: the mean of the last 10 steps (single
    batches at random timesteps vary by about 20 %), of the first 10, and the step count; a
    non-finite last loss gives loss NaN, which marks the generation diverged."""
    if not math.isfinite(losses[-1]):
        return {"loss": math.nan, "steps": float(len(losses))}
    return {"loss": float(np.mean(losses[-10:])), "loss_first": float(np.mean(losses[:10])),
            "steps": float(len(losses))}
