"""The classifier-free guidance scale over the sampling steps: constant, or ReDiFine's decay
(Yoon et al., arXiv 2407.17493), read from `sampling.cfg_scale`, `sampling.cfg_end` and `sampling.cfg_schedule` by every
backend the same way."""

from __future__ import annotations

import numpy as np


def cfg_schedule(start: float, end: float, kind: str, steps: int) -> np.ndarray:
    """The CFG scale at each of `steps` sampling steps, first (noisiest) to last: `constant` at
    start; `linear` from start to end; `cosine` from start to end along half a cosine period
    (flat at both ends, steepest midway). ReDiFine's decaying scale (Yoon et al., arXiv 2407.17493) is start > end."""
    if kind == "constant" or steps == 1:
        return np.full(steps, float(start))
    progress = np.arange(steps) / (steps - 1)  # 0 at the first step, 1 at the last
    if kind == "linear":
        return start + (end - start) * progress
    if kind == "cosine":
        return end + (start - end) * 0.5 * (1 + np.cos(np.pi * progress))
    raise ValueError(f"sampling.cfg_schedule must be constant, linear or cosine, got {kind!r}")
