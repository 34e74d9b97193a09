"""`greedy`: Greedy Selection (Shi et al. 2025, arXiv 2509.16499). Each generation samples m*N candidates;
the synthetic share from each source generation is the farthest-point selection of `count` out of
round(m*count) of its candidates, which keeps the training set's entropy up (selection.py)."""

import dataclasses

from autophagy.mitigations.policy import Policy, Selection


def apply(policy: Policy, params) -> Policy:
    if policy.select is not None:
        raise ValueError(f"greedy conflicts with {policy.select.kind}: both choose the synthetic share; pick one")
    p = params.greedy
    return dataclasses.replace(policy, select=Selection("greedy", p.pool_factor, p.space))
