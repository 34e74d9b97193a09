"""The two entropy-raising selections of Shi et al. (arXiv 2509.16499), as pure functions over vectors.

Both pick `count` rows of `x` (candidates as flat float vectors: pixels or a backend's features)
that are spread out, so the training set keeps its entropy. Both keep, for every candidate, its
distance to the nearest chosen one and update it with one row of distances per choice: O(count x
pool x dim) time, O(pool) memory, no pool x pool matrix (except a sample of it for tau0).
"""

from __future__ import annotations

import numpy as np

from autophagy.metrics.distances import as_points, pairwise

TAU0_SAMPLE = 2000  # candidates whose pairwise distances estimate tau0: 2000^2 distances, ~30 MB


def _check(x: np.ndarray, count: int) -> None:
    if not 0 <= count <= len(x):
        raise ValueError(f"selection: cannot choose {count} of {len(x)} candidates")


def distances_to(x: np.ndarray, row: np.ndarray) -> np.ndarray:
    """L2 distance of every row of x to one vector."""
    return np.sqrt(((x - row) ** 2).sum(axis=1))


def farthest_point(x: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy Selection: a random first point, then repeatedly the candidate farthest from every
    chosen one. Ties (exact duplicates of chosen points sit at distance 0) go to the lowest index."""
    x = as_points(x)
    _check(x, count)
    chosen = np.empty(count, dtype=np.int64)
    if count == 0:
        return chosen
    chosen[0] = rng.integers(len(x))
    nearest = distances_to(x, x[chosen[0]])
    nearest[chosen[0]] = -1.0  # chosen: below every distance, so never chosen again
    for i in range(1, count):
        chosen[i] = int(np.argmax(nearest))
        np.minimum(nearest, distances_to(x, x[chosen[i]]), out=nearest)
        nearest[chosen[i]] = -1.0
    return chosen


def default_tau0(x: np.ndarray, rng: np.random.Generator) -> float:
    """The median distance between two distinct candidates (from a sample of TAU0_SAMPLE of them)."""
    x = as_points(x)
    if len(x) > TAU0_SAMPLE:
        x = x[rng.choice(len(x), TAU0_SAMPLE, replace=False)]
    return float(np.median(pairwise(x))) if len(x) > 1 else 0.0


def threshold_decay(x: np.ndarray, count: int, rng: np.random.Generator, tau0: float | None = None,
                    decay: float = 0.95) -> np.ndarray:
    """Threshold Decay Filter: shuffle the candidates, then pass over them in that order, accepting
    one whose distance to every accepted one is > tau; after each pass tau *= decay; stop at count.

    Passes that could accept nothing are skipped by decaying tau straight to below the largest
    remaining distance. Exact duplicates of accepted points (distance 0) are never above tau: if
    fewer than `count` distinct candidates exist, the rest is filled in shuffled order (a collapsed
    generation can sample identical images).
    """
    x = as_points(x)
    _check(x, count)
    order = rng.permutation(len(x))
    tau = default_tau0(x, rng) if tau0 is None else float(tau0)
    nearest = np.full(len(x), np.inf)  # distance to the nearest accepted candidate
    accepted: list[int] = []
    while len(accepted) < count:
        top = nearest.max()
        if top <= 0:  # only duplicates of accepted points are left
            rest = order[~np.isin(order, accepted)]
            accepted.extend(rest[: count - len(accepted)].tolist())
            break
        if not top > tau:  # passes would accept nothing until tau < top: skip them, decaying tau
            tau *= decay ** (int(np.floor(np.log(top / tau) / np.log(decay))) + 1)
            continue
        position = 0
        while len(accepted) < count:
            ahead = np.flatnonzero(nearest[order[position:]] > tau)
            if len(ahead) == 0:
                break
            position += int(ahead[0])
            pick = int(order[position])
            accepted.append(pick)
            np.minimum(nearest, distances_to(x, x[pick]), out=nearest)
            position += 1
        tau *= decay
    return np.asarray(accepted, dtype=np.int64)
