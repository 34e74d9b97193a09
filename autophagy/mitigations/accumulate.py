"""`accumulate`: the synthetic share is split evenly over every earlier generation's samples
(generations 0..g-1), so early, near-real samples stay in the mix (Shi et al. 2025; Gerstgrasser
et al. 2024 find that accumulating keeps the error bounded where replacing grows it)."""

import dataclasses

from autophagy.mitigations.policy import Policy


def apply(policy: Policy, params) -> Policy:
    if policy.synthetic_from != "last":
        raise ValueError("accumulate conflicts with another mitigation choosing the synthetic source")
    return dataclasses.replace(policy, synthetic_from="all")
