"""`healing`: Bohacek & Farid (arXiv 2311.12202) retrain a poisoned model on real images only. After
generation h, generations h+1..h+k train on N real images (no synthetic share); from h+k+1 the
loop resumes at the cell's ratio. h and k: `mitigation_params.healing.after` / `.generations`."""

import dataclasses

from pydantic import Field

from autophagy.mitigations.policy import Policy
from autophagy.sections import Section, check

# At ratio 0 there is no synthetic share to draw: the chain is the `none` chain of its cell, row
# for row (tests/test_sweep.py runs both), and a sweep runs it once (grid.twins).
SAME_AS_NONE_AT_RATIO_0 = True


class Params(Section):
    """Healing (Bohacek & Farid, arXiv 2311.12202): after generation `after`, `generations` generations
    train on real images only; then the loop resumes at its ratio."""

    # h: at the demo's 6 generations, 3 poisoned then 3 healing
    after: int = Field(3, ge=1, description="at least one generation on synthetic data")
    generations: int = Field(3, ge=1)  # k


def check_sweep(cfg) -> None:
    """A sweep with healing chains: they must heal within its generations."""
    check(cfg.mitigation_params.healing.after < cfg.generations, "mitigation_params.healing.after",
          f"must be < generations={cfg.generations}, or the healing chains never heal")


def apply(policy: Policy, params: Params) -> Policy:
    return dataclasses.replace(policy, heal=(params.after, params.generations))
