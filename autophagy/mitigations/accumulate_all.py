"""`accumulate_all`: the training set grows. Generation g >= 1 trains on the real share plus
n_syn = floor(ratio*N + 0.5) samples of *each* earlier generation 0..g-1: n_real + g*n_syn images.

This is "accumulate" as Gerstgrasser et al. (2024) and Kazdan et al. ("Collapse or Thrive",
2025) define it: every real image and every generation's samples stay in the data. Their exact
setting is `mixing: bertrand` at ratio 1: N real + N per earlier generation, N*(g+1) in all.
`accumulate` (fixed N, equal shares) is Shi et al.'s accumulate and Kazdan et al.'s
"accumulate-subsample". finetune.steps stays fixed, so each image is seen less often as the set grows.
"""

import dataclasses

from autophagy.mitigations.policy import Policy

# At ratio 0 there is no synthetic share to draw: the chain is the `none` chain of its cell, row
# for row (tests/test_sweep.py runs both), and a sweep runs it once (grid.twins).
SAME_AS_NONE_AT_RATIO_0 = True


def apply(policy: Policy, params) -> Policy:
    if policy.synthetic_from != "last":
        raise ValueError("accumulate_all conflicts with another mitigation choosing the synthetic source")
    return dataclasses.replace(policy, synthetic_from="all", grow=True)
