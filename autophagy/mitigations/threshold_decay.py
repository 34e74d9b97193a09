"""`threshold_decay`: Threshold Decay Filter (Shi et al. 2025, arXiv 2509.16499). Like `greedy`, the
synthetic share is chosen from m times as many candidates, here by accepting those farther than
tau from every accepted one, tau decaying after each pass (selection.py)."""

import dataclasses

from autophagy.mitigations.policy import Policy, Selection


def apply(policy: Policy, params) -> Policy:
    if policy.select is not None:
        raise ValueError(f"threshold_decay conflicts with {policy.select.kind}: both choose the synthetic share; pick one")
    p = params.threshold_decay
    return dataclasses.replace(policy, select=Selection("threshold_decay", p.pool_factor, p.space, p.tau0, p.decay))
