"""`accumulate`: the synthetic share is split evenly over every earlier generation's samples
(generations 0..g-1), so early, near-real samples stay in the mix and the set stays N. This is
Shi et al.'s (2025) accumulate and Kazdan et al.'s (2025) "accumulate-subsample"; the growing set
of Gerstgrasser et al. (2024), who find it keeps the error bounded, is `accumulate_all`. With
`mitigation_params.accumulate.real_as_source` the real images are one more source of the share
(Shi et al.'s code at ratio 1: N/(g+1) from the real set and from each of generations 0..g-1)."""

import dataclasses

from autophagy.mitigations.policy import Policy

# At ratio 0 there is no synthetic share to draw: the chain is the `none` chain of its cell, row
# for row (tests/test_sweep.py runs both), and a sweep runs it once (grid.twins).
SAME_AS_NONE_AT_RATIO_0 = True


def apply(policy: Policy, params) -> Policy:
    if policy.synthetic_from != "last":
        raise ValueError("accumulate conflicts with another mitigation choosing the synthetic source")
    return dataclasses.replace(policy, synthetic_from="all", real_as_source=params.accumulate.real_as_source)
