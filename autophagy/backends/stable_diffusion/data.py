"""The real images: an image folder with `metadata.jsonl` (the diffusers / datasets "imagefolder"
convention), one JSON object per line: {"file_name": "faces/0001.png", "text": "a photo of ..."}.

Every image becomes uint8 (3, R, R), centre-cropped to a square and resized to R = model.resolution
(what diffusers' training scripts do). A caption is carried as its row index: `Samples.y[i]` is the
line of metadata.jsonl the image came from, so mixing and provenance move captions with the images
unchanged, and a synthetic image keeps the index of the caption it was drawn for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from autophagy import seeding
from autophagy.samples import Samples

METADATA = "metadata.jsonl"


@dataclass(frozen=True)
class ImageFolder:
    images: np.ndarray  # uint8 (N, 3, R, R), in metadata order
    captions: tuple[str, ...]  # captions[i] belongs to images[i]

    def samples(self) -> Samples:
        return Samples(self.images, np.arange(len(self.images), dtype=np.int64))


def read_metadata(path: str | None) -> list[tuple[str, str]]:
    """(file_name, text) of every row, checked: the folder, the file, each row and each image file."""
    if path is None:
        raise FileNotFoundError("data.path: missing (required by the stable-diffusion backend): an image "
                                f"folder with a {METADATA} of {{\"file_name\", \"text\"}} rows")
    root = Path(path)
    where = f"data.path={str(path)!r}"
    if not root.is_dir():
        raise FileNotFoundError(f"{where}: no such directory (an image folder with a {METADATA})")
    meta = root / METADATA
    if not meta.is_file():
        raise FileNotFoundError(f"{where}: no {METADATA} in it (one JSON object per line: "
                                '{"file_name": "0001.png", "text": "a caption"})')
    rows = []
    for number, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        at = f"{meta}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{at}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{at}: expected a JSON object with file_name and text, got {type(row).__name__}")
        for key in ("file_name", "text"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise ValueError(f"{at}: {key!r} must be a non-empty string, got {row.get(key)!r}")
        if not (root / row["file_name"]).is_file():
            raise FileNotFoundError(f"{at}: image {row['file_name']!r} not found in {root}")
        rows.append((row["file_name"], row["text"]))
    if not rows:
        raise ValueError(f"{meta}: no rows")
    return rows


def load(path: str | None, resolution: int) -> ImageFolder:
    rows = read_metadata(path)
    images = np.empty((len(rows), 3, resolution, resolution), dtype=np.uint8)
    for i, (name, _) in enumerate(rows):
        images[i] = _image(Path(path) / name, resolution)
    return ImageFolder(images, tuple(text for _, text in rows))


def split(folder: ImageFolder, holdout: int) -> tuple[Samples, Samples]:
    """(training pool, held-out set of `holdout` images), the same permutation every time (the
    fixed `split` stream, as for digits), so every chain of every sweep sees the same split."""
    n = len(folder.captions)
    if holdout >= n:
        raise ValueError(f"data.holdout: {holdout} held-out images leave none to train on "
                         f"(the image folder holds {n})")
    order = seeding.rng(0, "split").permutation(n)
    everything = folder.samples()
    return everything.take(np.sort(order[holdout:])), everything.take(np.sort(order[:holdout]))


def _image(file: Path, resolution: int) -> np.ndarray:
    try:
        with Image.open(file) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            # Centre crop to a square, then resize: the aspect ratio is kept, the borders go.
            img = ImageOps.fit(img, (resolution, resolution), Image.Resampling.BICUBIC)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"data.path: {file} is not a readable image ({err})") from None
