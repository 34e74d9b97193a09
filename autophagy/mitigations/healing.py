"""`healing`: Bohacek & Farid (arXiv 2311.12202) retrain a poisoned model on real images only. After
generation h, generations h+1..h+k train on N real images (no synthetic share); from h+k+1 the
loop resumes at the cell's ratio. h and k: `mitigation_params.healing.after` / `.generations`."""

import dataclasses

from autophagy.mitigations.policy import Policy


def apply(policy: Policy, params) -> Policy:
    p = params.healing
    return dataclasses.replace(policy, heal=(p.after, p.generations))
