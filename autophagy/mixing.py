"""Where the training mix is built: generation g's training set from real and synthetic samples.

Counts are exact. With N = images_per_generation and share `ratio` of synthetic images:
    n_synthetic = floor(ratio * N + 0.5)   (round half up, never Python's banker's rounding)
    n_real      = N - n_synthetic
Generation 0 is all real. Under `accumulate` the synthetic share is split over generations
0..g-1 by `split_evenly`: equal parts, the remainder going one each to the most recent ones.
Draws are without replacement, from the chain's `data` stream for generation g.
"""

from __future__ import annotations

import math

import numpy as np

from autophagy.mitigations.policy import Policy
from autophagy.samples import Samples


def mix_counts(ratio: float, n: int) -> tuple[int, int]:
    """(n_synthetic, n_real) for a training set of n images at synthetic share `ratio`."""
    n_syn = int(math.floor(ratio * n + 0.5))
    return n_syn, n - n_syn


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` over `parts` in equal shares; the remainder goes to the last parts (the most recent)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i >= parts - extra else 0) for i in range(parts)]


def build_training_set(
    generation: int,
    ratio: float,
    n: int,
    real: Samples,
    history: list[Samples],
    policy: Policy,
    rng: np.random.Generator,
) -> tuple[Samples, np.ndarray]:
    """The training set of `generation` and, per image, its source (-1 real, else the generation
    that sampled it). `history[k]` holds generation k's samples; `real` the chain's real images."""
    n_syn, n_real = mix_counts(ratio, n) if generation > 0 else (0, n)
    if n_real > len(real):
        raise ValueError(f"generation {generation} needs {n_real} real images but only {len(real)} are available")
    sources = list(range(generation)) if policy.synthetic_from == "all" else [generation - 1]
    counts = split_evenly(n_syn, len(sources)) if n_syn else []
    parts, provenance = [real.take(rng.choice(len(real), n_real, replace=False))], [np.full(n_real, -1)]
    for source, count in zip(sources, counts):
        pool = history[source]
        if count > len(pool):
            raise ValueError(f"generation {generation} needs {count} samples of generation {source}, which has {len(pool)}")
        parts.append(pool.take(rng.choice(len(pool), count, replace=False)))
        provenance.append(np.full(count, source))
    return Samples.concat(parts), np.concatenate(provenance)
