"""`redifine`: ReDiFine (Yoon et al. 2024, arXiv 2407.17493): finetune with condition drop p and sample
with a CFG scale that decays over the sampling steps, from sampling.cfg_scale to cfg_end.

It replaces the chain's finetune.cond_drop and sampling.cfg_schedule/cfg_end by those of
`mitigation_params.redifine` (defaults and why in config.RedifineConfig). A backend without
condition drop or guidance (gmm) runs it as the plain loop.
"""

import dataclasses

from autophagy.mitigations.policy import Policy


def apply(policy: Policy, params) -> Policy:
    return dataclasses.replace(policy, redifine=params.redifine)
