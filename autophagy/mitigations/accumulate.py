"""`accumulate`: the synthetic share is split evenly over every earlier generation's samples
(generations 0..g-1), so early, near-real samples stay in the mix and the set stays N. This is
Shi et al.'s (2025) accumulate and Kazdan et al.'s (2025) "accumulate-subsample"; the growing set
of Gerstgrasser et al. (2024), who find it keeps the error bounded, is `accumulate_all`. With
`mitigation_params.accumulate.real_as_source` the real images are one more source of the share
(Shi et al.'s code at ratio 1: N/(g+1) from the real set and from each of generations 0..g-1)."""

import dataclasses


from autophagy.mitigations.policy import Policy
from autophagy.sections import Section

# At ratio 0 there is no synthetic share to draw: the chain is the `none` chain of its cell, row
# for row (tests/test_sweep.py runs both), and a sweep runs it once (grid.twins).
SAME_AS_NONE_AT_RATIO_0 = True


class Params(Section):
    """`accumulate` (fixed N): over which sources its synthetic share is split."""

    # false: generations 0..g-1 only; true: the chain's real images count as one more source, so at
    # ratio 1 generation g trains on N/(g+1) real images and N/(g+1) of each earlier generation's
    # samples (Shi et al.'s code, `accumulate`: equal shares of every earlier iteration, real included).
    real_as_source: bool = False


def apply(policy: Policy, params: Params) -> Policy:
    if policy.synthetic_from != "last":
        raise ValueError("accumulate conflicts with another mitigation choosing the synthetic source")
    return dataclasses.replace(policy, synthetic_from="all", real_as_source=params.real_as_source)
