"""`greedy`: Greedy Selection (Shi et al. 2025, arXiv 2509.16499). Each generation samples m*N candidates;
the synthetic share from each source generation is the farthest-point selection of `count` out of
round(m*count) of its candidates, which keeps the training set's entropy up (selection.py)."""

import dataclasses
from typing import Literal

from pydantic import Field

from autophagy.mitigations.policy import Policy, Selection
from autophagy.sections import Section


class Params(Section):
    """Greedy Selection (Shi et al., arXiv 2509.16499): farthest-point choice of the synthetic share."""

    # m: each generation samples round(m*N) candidates; the paper uses 2 or 5
    pool_factor: float = Field(2.0, ge=1, description="1 keeps every candidate")
    # pixels, not the backend's features: the digits features are the evaluation classifier's,
    # the space FID is measured in, and selecting there would optimise the yardstick itself.
    space: Literal["pixels", "features"] = "pixels"


def apply(policy: Policy, params: Params) -> Policy:
    if policy.select is not None:
        raise ValueError(f"greedy conflicts with {policy.select.kind}: both choose the synthetic share; pick one")
    return dataclasses.replace(policy, select=Selection("greedy", params.pool_factor, params.space))
