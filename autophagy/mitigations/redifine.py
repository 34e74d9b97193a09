"""`redifine`: ReDiFine (Yoon et al. 2024, arXiv 2407.17493): finetune with condition drop p and sample
with a CFG scale that decays over the sampling steps, from sampling.cfg_scale to cfg_end.

It replaces the chain's finetune.cond_drop and sampling.cfg_schedule/cfg_end by those of
`mitigation_params.redifine` (defaults and why in `Params` below). A backend without
condition drop or guidance (gmm) runs it as the plain loop.
"""

import dataclasses
from typing import Literal

from pydantic import Field

from autophagy.mitigations.policy import Policy
from autophagy.sections import Section


class Params(Section):
    """ReDiFine (Yoon et al., arXiv 2407.17493): condition-drop finetuning plus a decaying CFG scale.
    The paper's values were not found (docs/papers.md); these defaults are our choice."""

    # 0.2, the top of the 0.1-0.2 range usually quoted: twice the baseline's finetune.cond_drop,
    # so that the drop itself differs from the plain loop and is not a no-op.
    cond_drop: float = Field(0.2, ge=0, lt=1)
    # cosine from sampling.cfg_scale down to 1: the early, coarse steps (class identity, layout)
    # stay guided almost as strongly as the baseline, and the late, detail steps are left to the
    # plain conditional model, where a high scale adds the high-frequency artifacts Yoon et al.
    # blame for collapse. 1, not below: w < 1 pushes samples away from their class.
    cfg_schedule: Literal["constant", "linear", "cosine"] = "cosine"
    cfg_end: float = Field(1.0, ge=0)


def apply(policy: Policy, params: Params) -> Policy:
    return dataclasses.replace(policy, redifine=params)
