"""Sample strips (the report's sample grids): each generation's fixed set of samples, as one PNG strip per (chain, generation).

A backend with images (`Backend.grid_images > 0`) samples the same noise and labels every
generation (the chain's `grid` seed stream, not keyed by generation), so a chain's strips, stacked,
show what the generations did to the same starting noise. The actor encodes the strip; the chain's
trial writes it to DIR/grids/<chain_id>/gen<GGG>.png; the report stacks them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image


def encode(images: np.ndarray) -> bytes:
    """uint8 images (N, C, H, W), C in {1, 3}, side by side with a 1-pixel gap, as PNG bytes."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"sample_strips.encode: needs uint8 (N, 1|3, H, W) images, got {images.dtype} {images.shape}")
    n, c, h, w = images.shape
    strip = np.full((h, n * (w + 1) - 1, c), 128, np.uint8)  # grey gaps: visible on black or white
    for i, image in enumerate(images):
        strip[:, i * (w + 1):i * (w + 1) + w] = image.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(strip[..., 0] if c == 1 else strip).save(buffer, format="PNG")
    return buffer.getvalue()


def decode(png: bytes) -> np.ndarray:
    """The strip as an (H, W) or (H, W, 3) uint8 array."""
    return np.asarray(Image.open(io.BytesIO(png)))


def path(out_dir: Path, chain_id: str, generation: int) -> Path:
    return Path(out_dir) / "grids" / chain_id / f"gen{generation:03d}.png"


def write(out_dir: Path, chain_id: str, generation: int, png: bytes) -> None:
    """Atomically, so a retried generation replaces its strip and a reader never sees half a file."""
    target = path(out_dir, chain_id, generation)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(png)
    os.replace(tmp, target)


def read_chain(out_dir: Path, chain_id: str) -> dict[int, np.ndarray]:
    """generation -> strip, for every strip the chain has so far."""
    folder = Path(out_dir) / "grids" / chain_id
    files = sorted(folder.glob("gen[0-9][0-9][0-9].png")) if folder.is_dir() else []
    return {int(f.stem[3:]): decode(f.read_bytes()) for f in files}
