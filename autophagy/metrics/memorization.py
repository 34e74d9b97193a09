"""Copying of the training set: the generalization score and the memorization share.

Both look, for each generated sample, at its nearest images of the generation's training set.
A model that memorizes draws near-copies: the nearest training image is much closer than the
rest. Shi et al. (arXiv 2509.16499) measure the nearest distance (their "generalization score", on DINOv2
features with MSE; here L2 on whatever representation the caller passes, a monotone cousin).
"""

from __future__ import annotations

import numpy as np

from autophagy.metrics.distances import as_points, nearest


def generalization_score(samples, train) -> float:
    """Mean distance from each sample to its nearest training point. Low: copying."""
    return float(nearest(samples, train, 1).mean())


def memorization_share(samples, train, threshold: float = 1 / 3) -> float:
    """Share of samples whose nearest training point is closer than `threshold` times the second
    nearest: a standard criterion for a memorized sample (a copy sits at ~0, its second
    neighbour at the usual distance).

    The training set is deduplicated first (exact copies only): with a point present twice, a copy
    of it would have two nearest neighbours at 0 and escape the test. Near-duplicates in the
    training set (e.g. an earlier generation's copies of a real image) still mask copies of them.
    By chance alone, points of a Poisson process pass with probability threshold^d in d
    dimensions: 0.11 in 2-D, nothing in 64 pixels, so read it in high dimensions only."""
    if not 0 < threshold <= 1:
        raise ValueError(f"memorization_share: threshold must be in (0, 1], got {threshold}")
    train = np.unique(as_points(train), axis=0)
    if len(train) < 2:
        raise ValueError("memorization_share: needs at least 2 distinct training points")
    d = nearest(samples, train, 2)
    return float((d[:, 0] < threshold * d[:, 1]).mean())
