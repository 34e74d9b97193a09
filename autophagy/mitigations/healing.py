"""`healing`: Bohacek & Farid (arXiv 2311.12202) retrain a poisoned model on real images only. After
generation h, generations h+1..h+k train on N real images (no synthetic share); from h+k+1 the
loop resumes at the cell's ratio. h and k: `mitigation_params.healing.after` / `.generations`."""

import dataclasses

from autophagy.mitigations.policy import Policy

# At ratio 0 there is no synthetic share to draw: the chain is the `none` chain of its cell, row
# for row (tests/test_sweep.py runs both), and a sweep runs it once (grid.twins).
SAME_AS_NONE_AT_RATIO_0 = True


def apply(policy: Policy, params) -> Policy:
    p = params.healing
    return dataclasses.replace(policy, heal=(p.after, p.generations))
