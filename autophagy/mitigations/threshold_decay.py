"""`threshold_decay`: Threshold Decay Filter (Shi et al. 2025, arXiv 2509.16499). Like `greedy`, the
synthetic share is chosen from m times as many candidates, here by accepting those farther than
tau from every accepted one, tau decaying after each pass (selection.py)."""

import dataclasses
from typing import Literal, Optional

from pydantic import Field

from autophagy.mitigations.policy import Policy, Selection
from autophagy.sections import Section


class Params(Section):
    """Threshold Decay Filter (Shi et al., arXiv 2509.16499): accept candidates farther than tau from
    every accepted one, tau *= decay after each pass."""

    pool_factor: float = Field(2.0, ge=1, description="1 keeps every candidate")
    space: Literal["pixels", "features"] = "pixels"
    # None: the median pairwise distance of the candidate pool. The public code's fixed tau0 (2000
    # on CIFAR pixels, 60 on DINOv2 features) has no meaning at another scale; the median starts
    # strict (a first pass accepts a few spread-out candidates) and needs no tuning per backend.
    tau0: Optional[float] = Field(None, gt=0, description="or null: from the pool")
    decay: float = Field(0.95, gt=0, lt=1)  # the public code's value (0.8 for features under accumulate)


def apply(policy: Policy, params: Params) -> Policy:
    if policy.select is not None:
        raise ValueError(f"threshold_decay conflicts with {policy.select.kind}: both choose the synthetic share; pick one")
    p = params
    return dataclasses.replace(policy, select=Selection("threshold_decay", p.pool_factor, p.space, p.tau0, p.decay))
