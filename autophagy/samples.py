"""`Samples`: a batch of data points and their labels, as the chain loop passes them around.

Images are uint8 (N, C, H, W), as they would be saved to disk by a real pipeline; low-dimensional
backends (gmm) use float32 (N, D). Labels are int64 class ids, -1 where a backend has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
