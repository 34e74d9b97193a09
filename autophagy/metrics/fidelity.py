"""FID, KID and precision/recall between two sets of features, through torch-fidelity's own
metric functions (what `torch_fidelity.calculate_metrics` runs after extracting features).

Backend-independent: the caller extracts features with whatever network its data needs (digits:
the offline classifier; image backends: Inception) and may compute the real set's statistics
once (`statistics`) and compare many generations against them. Imports torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

MIN_SAMPLES = 10  # KID needs subsets of at least 5 (half the smaller set), precision 3 neighbours + 1


def _tensor(features) -> torch.Tensor:
    return torch.as_tensor(np.asarray(features, dtype=np.float32))


def statistics(features) -> dict[str, np.ndarray]:
    """FID's Gaussian statistics {mu, sigma} of (n, d) features, in float64."""
    return fid_features_to_statistics(_tensor(features).double())


def compare(fake, real, seed: int, real_stats: dict | None = None) -> dict[str, float]:
    """fid, kid, precision, recall of generated features `fake` against real features `real`
    ((n, d) each). `real_stats`: `statistics(real)`, when it is reused across calls.

    KID draws 100 subsets of half the smaller set (at most 1000) with `seed`: subsets of all of it
    would be 100 copies of one. Precision/recall: torch-fidelity's convention (input1 generated,
    input2 real), 3 nearest neighbours."""
    fake, real = _tensor(fake), _tensor(real)
    n = min(len(fake), len(real))
    if n < MIN_SAMPLES:
        raise ValueError(f"FID/KID/precision need at least {MIN_SAMPLES} samples in each set, "
                         f"got {len(fake)} and {len(real)}")
    real_stats = statistics(real) if real_stats is None else real_stats
    fid = fid_statistics_to_metric(fid_features_to_statistics(fake.double()), real_stats, verbose=False)
    kid = kid_features_to_metric(fake, real, kid_subset_size=min(n // 2, 1000), rng_seed=seed % 2**32, verbose=False)
    prc = prc_features_to_metric(fake, real, verbose=False)
    return {"fid": float(fid[KEY_METRIC_FID]), "kid": float(kid[KEY_METRIC_KID_MEAN]),
            "precision": float(prc["precision"]), "recall": float(prc["recall"])}
