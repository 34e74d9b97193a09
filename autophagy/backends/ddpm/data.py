"""The real images of a `ddpm` sweep, from `data.path`:

    an image folder   torchvision's ImageFolder layout, root/<class>/<image>: classes are the
                      sorted subfolder names (labels 0..K-1); images directly in root, with no
                      subfolders, are one unlabelled set (an unconditional model)
    an .npz file      'images' uint8 (N, H, W), (N, C, H, W) or (N, H, W, C) with C <= 4, and
                      optionally 'labels' (N,) class ids 0..K-1 (none: unconditional)
    null              scikit-learn's bundled 8x8 digits (labels 0..9), no download

Every image is resized once, here, to model.resolution x model.resolution (bicubic with
antialiasing, torchvision); a non-square image is refused rather than distorted. A folder's
images become 1 channel when every file is greyscale, else RGB (alpha dropped). Unreadable
files, non-square images and classes with fewer than model.min_class_images images raise one
error naming the path; `check` runs them before Ray starts (DDPMModelConfig.preflight).
Labels are int64, -1 where the data has none.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autophagy.config import ConfigError
from autophagy.samples import Samples

UNLABELLED = -1


@dataclass(frozen=True)
class DataInfo:
    n: int
    channels: int
    classes: int  # 0: unlabelled (unconditional)


def check(cfg) -> DataInfo:
    """Load (cached) and check the data against the sweep; what the model needs to know of it."""
    real = load_for(cfg)
    if cfg.data.holdout >= len(real):
        raise ConfigError(f"data.holdout: {cfg.data.holdout} held-out images leave none to train on "
                          f"(data.path={cfg.data.path!r} holds {len(real)})")
    return info(real)


def load_for(cfg) -> Samples:
    """The sweep's real images as its model sees them: labels dropped where model.conditional is false."""
    m = cfg.model
    real = load(cfg.data.path, m.resolution, m.min_class_images)
    return real if m.conditional else Samples(real.x, np.full(len(real), UNLABELLED, np.int64))


def info(real: Samples) -> DataInfo:
    return DataInfo(len(real), real.x.shape[1], int(real.y.max()) + 1 if real.y[0] != UNLABELLED else 0)


def load(path: str | None, resolution: int, min_class_images: int = 1) -> Samples:
    """The data set at `path`, resized to `resolution`; cached per (path, modification time)."""
    stamp = os.stat(path).st_mtime_ns if path is not None and os.path.exists(path) else None
    return _load(path, stamp, resolution, min_class_images)


@functools.lru_cache(maxsize=4)
def _load(path: str | None, _stamp, resolution: int, min_class_images: int) -> Samples:
    where = f"data.path={path!r}"
    if path is None:
        from autophagy.backends.images import data as digits

        x, y = (lambda s: (s.x, s.y))(digits.load(None))
    elif Path(path).is_dir():
        x, y = _folder(Path(path), resolution, where)
    elif Path(path).is_file():
        x, y = _npz(Path(path), where)
    else:
        raise ConfigError(f"{where}: no such file or directory (an image folder or an .npz)")
    if x.shape[-1] != x.shape[-2]:
        raise ConfigError(f"{where}: images are {x.shape[-2]}x{x.shape[-1]}, not square; crop them first")
    _check_classes(y, min_class_images, where)
    return Samples(resize(x, resolution), y)


def resize(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, C, H, W) to (N, C, size, size): torchvision's bicubic with antialiasing, rounded."""
    if x.shape[-1] == size:
        return np.ascontiguousarray(x)
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    out = F.resize(torch.tensor(x, dtype=torch.float32), [size, size], InterpolationMode.BICUBIC, antialias=True)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()


def _check_classes(y: np.ndarray, minimum: int, where: str) -> None:
    if y[0] == UNLABELLED:
        if len(y) < minimum:
            raise ConfigError(f"{where}: {len(y)} images; model.min_class_images={minimum}")
        return
    counts = np.bincount(y)
    few = np.flatnonzero(counts < minimum)
    if len(few):
        raise ConfigError(f"{where}: class {int(few[0])} has {int(counts[few[0]])} images, fewer than "
                          f"model.min_class_images={minimum}")


def _folder(root: Path, resolution: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    if any(p.is_dir() for p in root.iterdir()):
        classes, index = find_classes(str(root))
        files = make_dataset(str(root), index, extensions=IMG_EXTENSIONS)  # ImageFolder's own listing
    else:
        files = [(str(p), UNLABELLED) for p in sorted(root.iterdir()) if p.name.lower().endswith(IMG_EXTENSIONS)]
    if not files:
        raise ConfigError(f"{where}: no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...) in the folder")
    images = [_read(file, where) for file, _ in files]
    rgb = any(im.mode not in ("L", "1", "I;16", "I") for im in images)
    arrays = []
    for (file, _), im in zip(files, images):
        if im.width != im.height:
            raise ConfigError(f"{where}: {file} is {im.width}x{im.height}, not square; crop it first")
        a = np.asarray(im.convert("RGB" if rgb else "L"), np.uint8)
        arrays.append(resize((a.transpose(2, 0, 1) if rgb else a[None])[None], resolution)[0])
    return np.stack(arrays), np.array([label for _, label in files], np.int64)


def _read(file: str, where: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im.load()
            return im.copy()
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ConfigError(f"{where}: cannot read {file} ({type(err).__name__}: {str(err)[:80]})") from None


def _npz(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise ConfigError(f"{where}: not a readable .npz file ({str(err)[:80]})") from None
    if "images" not in arrays:
        raise ConfigError(f"{where}: no array 'images'; found {sorted(arrays)}")
    x = arrays["images"]
    if x.dtype != np.uint8:
        raise ConfigError(f"{where}: 'images' must be uint8 (0..255), got {x.dtype}")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[3] <= 4 < x.shape[1]:
        x = x.transpose(0, 3, 1, 2)  # channels last
    if x.ndim != 4 or len(x) == 0:
        raise ConfigError(f"{where}: 'images' must be (N, H, W), (N, C, H, W) or (N, H, W, C), got {x.shape}")
    if "labels" not in arrays:
        return np.ascontiguousarray(x), np.full(len(x), UNLABELLED, np.int64)
    y = arrays["labels"]
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ConfigError(f"{where}: 'labels' must be {len(x)} class ids >= 0, got {y.dtype} of shape {y.shape}")
    return np.ascontiguousarray(x), y.astype(np.int64)
