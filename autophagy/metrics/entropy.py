"""Kozachenko–Leonenko entropy: the differential entropy of a point set from k-NN distances.

Shi et al. (arXiv 2509.16499) track it on each generation's training set: it falls as a self-consuming
chain narrows, and then the model starts to memorize (their Pearson r = 0.91 against the log
generalization score). In nats; it depends on the data's scale (x -> s.x adds d.log s), so compare
values computed on the same representation only.
"""

from __future__ import annotations

import math

import numpy as np

from autophagy.metrics.distances import as_points, nearest


def log_unit_ball_volume(d: int) -> float:
    """log c_d, c_d = pi^(d/2) / Gamma(d/2 + 1): the volume of the d-dimensional unit ball."""
    return d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1)


def kozachenko_leonenko(x, k: int = 5, min_distance: float = 0.0) -> float:
    """H = psi(n) - psi(k) + log c_d + (d/n) sum_i log r_k(i), r_k(i) the distance from point i to
    its k-th nearest other point. k = 5 as in the public code of Shi et al. (its helper defaults to
    1; larger k lowers the variance and raises the bias).

    Duplicated points give r_k = 0 and H = -inf once a point has k copies. `min_distance` floors
    r_k at the data's resolution (quantised pixels: half a grey level), which keeps the value
    finite and says "no closer than we can measure"; 0 keeps the plain estimator."""
    from scipy.special import digamma  # here, not at the top: the gmm backend's config (every
    # `autophagy status` of a gmm sweep) imports this module, and scipy.special costs it 0.17 s

    x = as_points(x)
    n, d = x.shape
    if not 1 <= k < n:
        raise ValueError(f"kozachenko_leonenko: needs more points than k={k}, got {n}")
    r = nearest(x, x, k, exclude_self=True)[:, -1]
    with np.errstate(divide="ignore"):  # r = 0 gives log 0 = -inf, the estimator's honest answer
        log_r = np.log(np.maximum(r, min_distance))
    return float(digamma(n) - digamma(k) + log_unit_ball_volume(d) + d * log_r.mean())


def gaussian(cov) -> float:
    """Closed form of a d-dimensional Gaussian's entropy: 1/2 log((2 pi e)^d det cov)."""
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError("gaussian: the covariance is not positive definite")
    return 0.5 * (len(cov) * math.log(2 * math.pi * math.e) + logdet)
