"""Pixel-space and label metrics of one generation's digits: pure functions over arrays.

Distances are on pixels scaled to [0, 1] (uint8 / 255), so an 8x8 image pair is at most 8 apart.
The backend-independent families (distances, entropy, memorization, fidelity) live in
`autophagy/metrics/`; this file holds what needs the digits' pixel scale or their class labels.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from autophagy.metrics import distances, entropy, memorization

# Half a grey level: pixel distances below it are not measurable (see entropy.kozachenko_leonenko).
PIXEL_RESOLUTION = 0.5 / 255
# Floors the k-NN distance of the feature-space entropy: only duplicated images come this close,
# and without a floor k+1 copies of one image make the entropy -inf (pixels: PIXEL_RESOLUTION).
FEATURE_RESOLUTION = 1e-6


def diversity_and_copying(samples, train, features, train_features, m, subsample_seed: int) -> dict[str, float]:
    """What the digits and ddpm backends both score of a generation, beside fidelity and classes:
    Pu's pairwise distances (per class, on a seeded subsample), spread, copying (nearest training
    image in pixels and in features, the share of copies) and the Kozachenko-Leonenko entropy of
    the samples and of the training set in both spaces. `m` is the sweep's `metrics:` section."""
    x, t = pixels(samples.x), pixels(train.x)
    pairs = distances.pairwise_summary(x, samples.y, m.pairwise_max, subsample_seed)
    out = {"pairwise_l2" if k == "mean" else f"pairwise_l2_{k}": v for k, v in pairs.items()}
    out.update(
        sample_std=sample_std(samples.x),
        nearest_train_l2=memorization.generalization_score(x, t),
        generalization_score=memorization.generalization_score(features, train_features),
        memorization_share=memorization.memorization_share(x, t, m.memorization_threshold),
        entropy_train_pixels=entropy.kozachenko_leonenko(t, m.entropy_k, PIXEL_RESOLUTION),
        entropy_samples_pixels=entropy.kozachenko_leonenko(x, m.entropy_k, PIXEL_RESOLUTION),
        entropy_train_features=entropy.kozachenko_leonenko(train_features, m.entropy_k, FEATURE_RESOLUTION),
        entropy_samples_features=entropy.kozachenko_leonenko(features, m.entropy_k, FEATURE_RESOLUTION),
    )
    return out


def pixels(x: np.ndarray) -> np.ndarray:
    """uint8 images (N, C, H, W) as float64 (N, C*H*W) in [0, 1]."""
    return x.reshape(len(x), -1).astype(np.float64) / 255


def pairwise_l2(x: np.ndarray, y: np.ndarray) -> float:
    """Mean L2 distance over unordered pairs of samples that share a label, averaged over labels
    (Pu's diversity measure, within class so that it does not mix up "fewer styles" with "other
    digits"). `distances.pairwise_summary` gives its spread and quantiles too."""
    return distances.pairwise_summary(pixels(x), y, max_points=len(x))["mean"]


def sample_std(x: np.ndarray) -> float:
    """Per-pixel standard deviation across samples, averaged over pixels."""
    return float(pixels(x).std(axis=0).mean())


def class_std(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean, min) over labels of the within-label sample_std: the spread of each digit's samples,
    which falls as a class collapses onto a few shapes even while the classes stay apart."""
    per_class = [sample_std(x[y == c]) for c in np.unique(y)]
    return float(np.mean(per_class)), float(np.min(per_class))


def class_agreement(predicted: np.ndarray, y: np.ndarray) -> float:
    """Share of samples the classifier assigns the label they were conditioned on."""
    return float((predicted == y).mean())


def class_agreement_min(predicted: np.ndarray, y: np.ndarray) -> float:
    """The worst label's class agreement: one digit turning into another shows here first."""
    return float(min((predicted[y == c] == c).mean() for c in np.unique(y)))


def class_coverage(predicted: np.ndarray, y: np.ndarray) -> float:
    """Share of the conditioned classes for which at least half the samples are recognised as that
    class: 1.0 while every digit can still be drawn, lower once some digit has turned into another."""
    classes = np.unique(y)
    return float(np.mean([(predicted[y == c] == c).mean() >= 0.5 for c in classes]))


def class_confidence(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean classifier probability of the conditioned label, averaged per label then over labels
    (softmax of `logits`, (N, classes)): below class_agreement's all-or-nothing, it sees a digit
    growing ambiguous before it flips."""
    p = np.exp(log_softmax(np.asarray(logits, np.float64), axis=1)[np.arange(len(y)), y])
    return float(np.mean([p[y == c].mean() for c in np.unique(y)]))
