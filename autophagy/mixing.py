"""Where the training mix is built: generation g's training set from real and synthetic samples.

Counts are exact. With N = images_per_generation and `ratio` the cell's ratio:
    mixing: share     n_synthetic = floor(ratio * N + 0.5)   (round half up, never banker's rounding)
                      n_real      = N - n_synthetic           (Bohacek & Farid: a share of N)
    mixing: bertrand  n_synthetic = floor(ratio * N + 0.5)
                      n_real      = N                         (Bertrand et al.: every real image
                                                               plus lambda*|real| synthetic ones)
Generation 0, and every healing generation, is N real images and nothing synthetic. Under
`accumulate` the synthetic share is split over generations 0..g-1 by `split_evenly`: equal parts,
the remainder going one each to the most recent ones; under `accumulate_all` each of generations
0..g-1 gives n_synthetic samples, so the set holds n_real + g*n_synthetic images; with
accumulate.real_as_source the share is split over g+1 sources, the real set first. Under a selection (greedy,
threshold_decay) each source's part of `count` images is chosen from round(m*count) candidates
drawn from that generation's samples. Draws are without replacement, from the chain's `data`
stream for generation g (real images, then candidates, source by source); a selection's own
randomness comes from `select_rng` (the `select` stream).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from autophagy.counts import round_half_up
from autophagy.mitigations.policy import Policy
from autophagy.samples import Samples, flat_pixels

MIXINGS = ("share", "bertrand")


def mix_counts(ratio: float, n: int, mixing: str = "share") -> tuple[int, int]:
    """(n_synthetic, n_real) of a training set for N = n at `ratio`, under either definition."""
    if mixing not in MIXINGS:
        raise ValueError(f"mixing must be one of {', '.join(MIXINGS)}, got {mixing!r}")
    n_syn = round_half_up(ratio * n)
    return n_syn, (n - n_syn if mixing == "share" else n)


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` over `parts` in equal shares; the remainder goes to the last parts (the most recent)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i >= parts - extra else 0) for i in range(parts)]


def build_training_set(
    generation: int,
    ratio: float,
    n: int,
    real: Samples,
    history: dict[int, Samples],
    policy: Policy,
    rng: np.random.Generator,
    *,
    mixing: str = "share",
    features: Optional[Callable[[np.ndarray], np.ndarray]] = None,
    select_rng: Optional[np.random.Generator] = None,
) -> tuple[Samples, np.ndarray]:
    """The training set of `generation` and, per image, its source (-1 real, else the generation
    that sampled it). `history[k]` holds generation k's samples; `real` the images the real share
    is drawn from (the chain's fixed set, or the whole pool under fresh_data). `features` maps
    candidates to the selection space (default: flat pixels); `select_rng` defaults to `rng`."""
    if generation == 0 or policy.healing(generation):
        n_syn, n_real = 0, n
    else:
        n_syn, n_real = mix_counts(ratio, n, mixing)
    if n_real > len(real):
        raise ValueError(f"generation {generation} needs {n_real} real images but only {len(real)} are available")
    sources = list(range(generation)) if policy.synthetic_from == "all" else [generation - 1]
    counts = ([n_syn] * len(sources) if policy.grow else split_evenly(n_syn, len(sources))) if n_syn else []
    if policy.real_as_source and n_syn:  # the real set is the oldest source: its part joins the real share
        shares = split_evenly(n_syn, len(sources) + 1)
        n_real, counts = n_real + shares[0], shares[1:]
        if n_real > len(real):
            raise ValueError(f"generation {generation} needs {n_real} real images but only {len(real)} are available")
    parts, provenance = [real.take(rng.choice(len(real), n_real, replace=False))], [np.full(n_real, -1)]
    for source, count in zip(sources, counts):
        pool = history[source]
        wanted = policy.select.candidates(count) if policy.select else count
        if wanted > len(pool):
            raise ValueError(f"generation {generation} needs {wanted} samples of generation {source}, which has {len(pool)}")
        picked = pool.take(rng.choice(len(pool), wanted, replace=False))
        if policy.select and count:
            vectors = (features or flat_pixels)(picked.x)
            picked = picked.take(policy.select.choose(vectors, count, rng if select_rng is None else select_rng))
        parts.append(picked)
        provenance.append(np.full(count, source))
    return Samples.concat(parts), np.concatenate(provenance)
