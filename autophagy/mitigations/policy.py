"""The loop's knobs that mitigations turn. The default is the plain replace loop.

A `Policy` is everything the chain loop and `mixing.build_training_set` need to know about a
cell's mitigation, its parameters (from the sweep's `mitigation_params:`) included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np

from autophagy.counts import round_half_up
from autophagy.mitigations import selection
from autophagy.sections import Section


@dataclass(frozen=True)
class Selection:
    """How the synthetic share is chosen from a larger pool of candidates (Shi et al., arXiv 2509.16499)."""

    kind: Literal["greedy", "threshold_decay"]
    pool_factor: float  # m: candidates per image chosen
    space: Literal["pixels", "features"]
    tau0: Optional[float] = None  # threshold_decay only; None: from the pool's own distances
    decay: float = 0.95  # threshold_decay only

    def candidates(self, count: int) -> int:
        """round(m * count), half up, as every count of the training mix."""
        return round_half_up(self.pool_factor * count)

    def choose(self, vectors: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of `count` of the rows of `vectors` (candidates as flat vectors)."""
        if self.kind == "greedy":
            return selection.farthest_point(vectors, count, rng)
        return selection.threshold_decay(vectors, count, rng, self.tau0, self.decay)


@dataclass(frozen=True)
class Policy:
    # Which generations the synthetic share is drawn from: the last one (replace, Bohacek & Farid)
    # or every earlier one (accumulate, accumulate_all).
    synthetic_from: Literal["last", "all"] = "last"
    # With synthetic_from "all": False splits the synthetic share over the earlier generations
    # (a fixed N, accumulate); True takes the whole share from each of them (the set grows, accumulate_all).
    grow: bool = False
    real_as_source: bool = False  # accumulate: the real images are one more source of the synthetic share
    # Where the real share is drawn from each generation: the chain's fixed N real images, or the
    # whole real training pool afresh (the "fresh data" loop of Alemohammad et al.).
    real_from: Literal["fixed", "fresh"] = "fixed"
    select: Optional[Selection] = None  # None: a uniform random draw of the synthetic share
    heal: Optional[tuple[int, int]] = None  # (h, k): generations h+1..h+k train on real images only
    # ReDiFine's condition drop and CFG schedule (its redifine.Params, which imports this file); None: the sweep's own
    redifine: Optional[Section] = None

    def healing(self, generation: int) -> bool:
        if self.heal is None:
            return False
        after, k = self.heal
        return after < generation <= after + k

    def samples_per_generation(self, n: int) -> int:
        """How many samples a generation draws: N, or the m*N candidates a selection chooses from."""
        return max(n, self.select.candidates(n)) if self.select else n

    def configure(self, cfg):
        """The sweep config as this policy's chains run it: ReDiFine replaces the finetune's
        condition drop and the sampler's CFG schedule; every other policy leaves it as it is."""
        if self.redifine is None:
            return cfg
        r = self.redifine
        return cfg.model_copy(update={
            "finetune": cfg.finetune.model_copy(update={"cond_drop": r.cond_drop}),
            "sampling": cfg.sampling.model_copy(update={"cfg_schedule": r.cfg_schedule, "cfg_end": r.cfg_end})})
