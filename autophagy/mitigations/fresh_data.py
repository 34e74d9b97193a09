"""`fresh_data`: the real share is drawn afresh each generation from the whole real training pool
(the "fresh data" loop of Alemohammad et al. 2023), not from the chain's fixed N real images.

The draw is the chain's `data` stream for that generation, so it repeats exactly and a resumed
chain draws what an uninterrupted one would. The pool is finite (1297 digits): "fresh" means
independent of earlier generations' draws, not never seen before.
"""

import dataclasses

from autophagy.mitigations.policy import Policy


def apply(policy: Policy, params) -> Policy:
    if policy.real_from != "fixed":
        raise ValueError("fresh_data conflicts with another mitigation choosing the real source")
    return dataclasses.replace(policy, real_from="fresh")
