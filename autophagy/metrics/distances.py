"""Euclidean distances between point sets, batched: nearest neighbours and pairwise summaries.

Distances come from |a|^2 + |b|^2 - 2 a.b in float64 on row blocks of `BLOCK`, so memory stays at
BLOCK x len(b) (1024 x 10,000 floats = 80 MB) and nothing loops over pairs in Python. The
expansion loses about 1e-8 relative precision; identical points come out at 0 up to that.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024
QUANTILES = (0.1, 0.5, 0.9)  # the summary's quantile columns: q10, q50, q90


def as_points(x) -> np.ndarray:
    """(n, ...) array-like (numpy, CPU tensor) to float64 (n, d)."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def l2(a, b) -> np.ndarray:
    """(len(a), len(b)) matrix of Euclidean distances."""
    a, b = as_points(a), as_points(b)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0))  # rounding can push a zero distance slightly negative


def nearest(a, b, k: int, exclude_self: bool = False) -> np.ndarray:
    """(len(a), k) distances from each row of `a` to its k nearest rows of `b`, ascending.
    `exclude_self`: `a` is `b`, and a point is not its own neighbour (its duplicates still are)."""
    a, b = as_points(a), as_points(b)
    available = len(b) - (1 if exclude_self else 0)
    if not 1 <= k <= available:
        raise ValueError(f"nearest: k={k} neighbours asked of {available} candidate points")
    out = np.empty((len(a), k))
    for start in range(0, len(a), BLOCK):  # row blocks bound memory; each block is one matmul
        d = l2(a[start:start + BLOCK], b)
        if exclude_self:
            rows = np.arange(len(d))
            d[rows, start + rows] = np.inf
        out[start:start + BLOCK] = np.sort(np.partition(d, k - 1, axis=1)[:, :k], axis=1)
    return out


def pairwise(x) -> np.ndarray:
    """Distances of every unique pair (i < j) of rows, in `np.triu_indices` order."""
    x = as_points(x)
    return l2(x, x)[np.triu_indices(len(x), k=1)]


def subsample(n: int, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most `max_points` of n points, drawn without replacement."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(rng.choice(n, max_points, replace=False))


def summary(d: np.ndarray) -> dict[str, float]:
    """mean, std, q10, q50, q90 of a set of distances (NaN for an empty set)."""
    if len(d) == 0:
        return {"mean": np.nan, "std": np.nan, **{f"q{round(100 * q)}": np.nan for q in QUANTILES}}
    quantiles = {f"q{round(100 * q)}": float(v) for q, v in zip(QUANTILES, np.quantile(d, QUANTILES))}
    return {"mean": float(d.mean()), "std": float(d.std()), **quantiles}


def pairwise_summary(x, labels=None, max_points: int = 1000, seed: int = 0) -> dict[str, float]:
    """Pu's diversity measure: the distribution of L2 distances over unique pairs of samples,
    summarised as mean, std, q10, q50, q90. With `labels`, each class (or prompt) is summarised on
    its own and the summaries are averaged over the classes that have a pair, so that "fewer
    styles of each digit" is not confused with "other digits". A set (class) of more than
    `max_points` points is first subsampled to `max_points` (pairs grow as n^2: 1000 points are
    499,500 pairs), drawn from `seed`."""
    x = as_points(x)
    labels = np.zeros(len(x), dtype=np.int64) if labels is None else np.asarray(labels)
    if len(labels) != len(x):
        raise ValueError(f"pairwise_summary: {len(x)} points but {len(labels)} labels")
    if max_points < 2:
        raise ValueError(f"pairwise_summary: max_points={max_points} leaves no pair")
    rng = np.random.default_rng(seed)
    per_class = []
    for c in np.unique(labels):  # classes, not pairs: at most a few dozen iterations
        members = x[labels == c]
        if len(members) >= 2:
            per_class.append(summary(pairwise(members[subsample(len(members), max_points, rng)])))
    if not per_class:
        return summary(np.empty(0))
    return {key: float(np.mean([s[key] for s in per_class])) for key in per_class[0]}
