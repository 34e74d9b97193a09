"""All randomness flows from a cell's seed, split into independent named streams.

Each (seed, stream, generation) gets its own `numpy.random.SeedSequence` through the spawn key, so
generation g's draws never depend on how many numbers earlier generations used, and a chain resumed
from a checkpoint at generation g draws exactly what an uninterrupted chain would. What stays
non-deterministic: GPU kernels (cuDNN/cuBLAS reductions); on CPU a cell run twice gives equal rows.
"""

from __future__ import annotations

import numpy as np

STREAMS = {"data": 0, "train": 1, "sample": 2, "eval": 3, "split": 4, "select": 5, "grid": 6}


def seed_sequence(seed: int, stream: str, generation: int | None = None) -> np.random.SeedSequence:
    """generation=None is the chain-level draw of that stream (e.g. which real images a chain keeps)."""
    key = (STREAMS[stream], 0 if generation is None else generation + 1)
    return np.random.SeedSequence(seed, spawn_key=key)


def rng(seed: int, stream: str, generation: int | None = None) -> np.random.Generator:
    return np.random.default_rng(seed_sequence(seed, stream, generation))


def int_seed(seed: int, stream: str, generation: int | None = None) -> int:
    """A 63-bit integer seed, for torch.Generator.manual_seed and the like."""
    return int(seed_sequence(seed, stream, generation).generate_state(1, np.uint64)[0] >> 1)
