"""`Samples`: a batch of data points and their labels, as the chain loop passes them around.

Images are uint8 (N, C, H, W), as they would be saved to disk by a real pipeline; low-dimensional
backends (gmm) use float32 (N, D). Labels are int64 class ids, -1 where a backend has none.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy

from autophagy.checkpoint import CheckpointError


@dataclass(frozen=True)
class Samples:
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"Samples: {len(self.x)} points but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: np.ndarray) -> "Samples":
        return Samples(self.x[index], self.y[index])

    @staticmethod
    def concat(parts: list["Samples"]) -> "Samples":
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError("Samples.concat: nothing to concatenate")
        return Samples(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


def flat_pixels(x: np.ndarray) -> np.ndarray:
    """Each sample as one float32 vector: the selections' space `pixels`, and a backend's
    `features` unless it has its own."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


class SampleStore:
    """One chain's samples on disk, each generation written once: DIR/samples/<chain_id>/genGGG.safetensors
    (arrays `x`, `y`; the sha256 of their bytes in the safetensors header). A checkpoint then holds
    no samples, only which generations it needs and one digest over theirs (`digest`), so its size
    does not grow with the generation under any mitigation, and restore reads the samples from here.

    DIR must be storage every node reaches (as DIR/tune already must). A file is replaced
    atomically; a retry that redoes generation g rewrites it (on a GPU it may differ in the last
    bits), and a checkpoint from before that redo still names the content it was made with:
    `load` refuses a mismatch, naming the file, instead of resuming from other samples.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def path(self, generation: int) -> Path:
        return self.directory / f"gen{generation:03d}.safetensors"

    def write(self, generation: int, samples: Samples) -> str:
        """Write generation `generation`'s samples; returns their sha256."""
        digest = _sha256(samples)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(generation)
        tmp = self.directory / f".{target.name}.{socket.gethostname()}-{os.getpid()}"
        tmp.write_bytes(safetensors.numpy.save({"x": np.ascontiguousarray(samples.x), "y": np.ascontiguousarray(samples.y)},
                                               metadata={"sha256": digest}))
        os.replace(tmp, target)
        return digest

    def read(self, generation: int) -> tuple[Samples, str]:
        """Generation `generation`'s samples and their sha256, checked against the file's own."""
        path = self.path(generation)
        try:
            blob = path.read_bytes()
            arrays = safetensors.numpy.load(blob)
            with safetensors.safe_open(path, "numpy") as f:
                recorded = (f.metadata() or {}).get("sha256")
        except (OSError, safetensors.SafetensorError) as err:
            raise SampleStoreError(f"{path}: unreadable ({err})") from None
        samples = Samples(arrays["x"], arrays["y"])
        if _sha256(samples) != recorded:
            raise SampleStoreError(f"{path}: corrupt (sha256 of its arrays does not match its header)")
        return samples, recorded


def digest(digests: list[str]) -> str:
    """One sha256 over several generations' (in generation order): what a checkpoint records."""
    return hashlib.sha256(" ".join(digests).encode()).hexdigest()


class SampleStoreError(CheckpointError):
    """A generation's samples are missing, unreadable or not the ones a checkpoint was made with
    (a checkpoint error: a retry from the same checkpoint would meet the same files)."""


def _sha256(samples: Samples) -> str:
    h = hashlib.sha256()
    for a in (samples.x, samples.y):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
