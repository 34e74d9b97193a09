"""`none`: the replace loop. Generation g trains on round(ratio*N) samples of generation g-1 plus
the chain's fixed real images."""

from autophagy.mitigations.policy import Policy


def apply(policy: Policy, params) -> Policy:
    return policy
