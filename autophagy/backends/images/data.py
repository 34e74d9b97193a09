"""The real images: scikit-learn's bundled 8x8 digits, or an `.npz` file named by `data.path`.

Both become uint8 (N, 1, H, W) images and int64 labels, split once into a training pool and a
held-out evaluation set with the fixed `split` stream, so that every chain of every sweep with the
same data sees the same split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autophagy import seeding
from autophagy.samples import Samples


def load(path: str | None) -> Samples:
    return _sklearn_digits() if path is None else _npz(Path(path))


def split(data: Samples, holdout: int) -> tuple[Samples, Samples]:
    """(training pool, held-out set of `holdout` images), the same permutation every time."""
    if holdout >= len(data):
        raise ValueError(f"data.holdout: {holdout} held-out images leave none to train on "
                         f"(the data set holds {len(data)})")
    order = seeding.rng(0, "split").permutation(len(data))
    return data.take(np.sort(order[holdout:])), data.take(np.sort(order[:holdout]))


def without_classes(data: Samples, classes: tuple[int, ...]) -> Samples:
    """`data` less every image of `classes` (the eval-only classes no chain may train on)."""
    if not classes:
        return data
    present = set(np.unique(data.y).tolist())
    missing = sorted(set(classes) - present)
    if missing:
        raise ValueError(f"data.eval_only_classes: classes {missing} have no images in the data")
    if present <= set(classes):
        raise ValueError("data.eval_only_classes: holds out every class of the data, leaving nothing to train on")
    return data.take(np.flatnonzero(~np.isin(data.y, classes)))


def only_classes(data: Samples, classes: tuple[int, ...]) -> Samples:
    return data.take(np.flatnonzero(np.isin(data.y, classes)))


def balanced_labels(n: int, classes) -> np.ndarray:
    """n labels cycling through `classes` (sorted): class counts differ by at most one."""
    classes = np.sort(np.asarray(classes, dtype=np.int64))
    return classes[np.arange(n) % len(classes)]


def _sklearn_digits() -> Samples:
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel counts 0..16 map to 0..255 by round(v * 255 / 16): 0 -> 0, 16 -> 255, and each of the
    # 17 levels stays distinct, so real images use the same uint8 range as sampled ones.
    x = np.round(digits.images * (255 / 16)).astype(np.uint8)[:, None]
    return Samples(x, digits.target.astype(np.int64))


def _npz(path: Path) -> Samples:
    where = f"data.path={str(path)!r}"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file (expected an .npz with arrays 'images' and 'labels')")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"{where}: not a readable .npz file ({err})") from None
    missing = [k for k in ("images", "labels") if k not in arrays]
    if missing:
        raise ValueError(f"{where}: missing array(s) {missing}; found {sorted(arrays)}")
    x, y = arrays["images"], arrays["labels"]
    if x.dtype != np.uint8:
        raise ValueError(f"{where}: 'images' must be uint8 (0..255), got {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"{where}: 'images' must be (N, H, W) or (N, 1, H, W) grayscale, got shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{where}: 'labels' must be {len(x)} integers, got {y.dtype} of shape {y.shape}")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{where}: 'labels' must be class ids 0..9, got {y.min()}..{y.max()}")
    return Samples(np.ascontiguousarray(x), y.astype(np.int64))
