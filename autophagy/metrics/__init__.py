"""Metric families of the collapse studies, as pure functions over arrays (no Ray, no files).

    distances.py     L2 distance matrices, nearest neighbours, pairwise-distance summaries (Pu)
    entropy.py       Kozachenko–Leonenko entropy (Shi et al.) and the Gaussian closed form
    memorization.py  generalization score and memorization share against a training set
    fidelity.py      FID, KID, precision/recall on precomputed features (torch-fidelity; torch)

Inputs are numpy arrays (a CPU torch tensor converts through `np.asarray`) of shape (n, d);
images are flattened by the caller, which also picks the scale (digits: pixels in [0, 1]).
Everything but `fidelity` is numpy-only, so torch-free backends (gmm) can use it. Nothing is
imported here: `import autophagy.metrics.entropy` must not pull in torch.
"""
