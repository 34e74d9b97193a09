"""Pixel-space and label metrics of one generation's samples: pure functions over arrays.

Distances are on pixels scaled to [0, 1] (uint8 / 255), so an 8x8 image pair is at most 8 apart.
"""

from __future__ import annotations

import numpy as np


def _pixels(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float64) / 255


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0))  # rounding can push a zero distance slightly negative


def pairwise_l2(x: np.ndarray, y: np.ndarray) -> float:
    """Mean L2 distance over all unordered pairs of samples that share a label (Pu's diversity
    measure, within class so that it does not mix up "fewer styles" with "other digits")."""
    total, pairs = 0.0, 0
    for c in np.unique(y):  # per class: memory grows with the class size squared, not the set's
        p = _pixels(x[y == c])
        upper = np.triu_indices(len(p), k=1)
        total += _distances(p, p)[upper].sum()
        pairs += len(upper[0])
    return float(total / pairs) if pairs else float("nan")


def sample_std(x: np.ndarray) -> float:
    """Per-pixel standard deviation across samples, averaged over pixels."""
    return float(_pixels(x).std(axis=0).mean())


def nearest_train_l2(x: np.ndarray, train: np.ndarray) -> float:
    """Mean distance from each sample to its nearest training image: falls towards 0 as the
    model starts copying its training set (the generalization score of Shi et al., on pixels)."""
    t = _pixels(train)
    nearest = [_distances(_pixels(x[i:i + 1024]), t).min(axis=1) for i in range(0, len(x), 1024)]
    return float(np.concatenate(nearest).mean())


def class_agreement(predicted: np.ndarray, y: np.ndarray) -> float:
    """Share of samples the classifier assigns the label they were conditioned on."""
    return float((predicted == y).mean())


def class_coverage(predicted: np.ndarray, y: np.ndarray) -> float:
    """Share of the conditioned classes for which at least half the samples are recognised as that
    class: 1.0 while every digit can still be drawn, lower once some digit has turned into another."""
    classes = np.unique(y)
    return float(np.mean([(predicted[y == c] == c).mean() >= 0.5 for c in classes]))
