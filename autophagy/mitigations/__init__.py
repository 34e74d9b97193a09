"""Mitigations, chosen by name on the `mitigation` grid axis; names compose with `+`.

A mitigation is a function `apply(policy, params) -> policy` that switches on its part of the
loop (where the synthetic share comes from, where the real share comes from, how the synthetic
share is chosen, ...); `params` is the sweep's `mitigation_params:` section. The chain loop reads
only the resulting `Policy`. Adding one is one new file and one line in REGISTRY.

    none             replace: synthetic share from the last generation, real from the chain's fixed set
    accumulate       synthetic share split evenly over every earlier generation (fixed N)
    accumulate_all   the whole synthetic share from each earlier generation (the set grows)
    fresh_data       real share drawn afresh from the whole real pool each generation
    redifine         condition-drop finetuning + a decaying CFG schedule (ReDiFine)
    greedy           farthest-point selection of the synthetic share from m x as many samples
    threshold_decay  threshold-decay selection of the synthetic share from m x as many samples
    healing          generations h+1..h+k on real images only

A part that equals `none` at ratio 0 says so (`SAME_AS_NONE_AT_RATIO_0 = True` in its module:
accumulate, accumulate_all, healing); `twin` then names the chain it equals, which a sweep runs
once. greedy and threshold_decay do not: they sample m x N candidates, whose first N (the ones
scored) are not the N a `none` chain samples.

Parts that set the same knob conflict (greedy+threshold_decay, both choosing the synthetic share)
and `none` stands alone; every other combination composes (accumulate+greedy+healing).
"""

from __future__ import annotations

from autophagy.config import MitigationParams
from autophagy.mitigations import accumulate, accumulate_all, fresh_data, greedy, healing, none, redifine, threshold_decay
from autophagy.mitigations.policy import Policy, Selection

REGISTRY = {
    "none": none.apply,
    "accumulate": accumulate.apply,
    "accumulate_all": accumulate_all.apply,
    "fresh_data": fresh_data.apply,
    "redifine": redifine.apply,
    "greedy": greedy.apply,
    "threshold_decay": threshold_decay.apply,
    "healing": healing.apply,
}

SAME_AS_NONE_AT_RATIO_0 = {name for name, module in {
    "accumulate": accumulate, "accumulate_all": accumulate_all, "fresh_data": fresh_data, "greedy": greedy,
    "healing": healing, "redifine": redifine, "threshold_decay": threshold_decay}.items()
    if getattr(module, "SAME_AS_NONE_AT_RATIO_0", False)}

__all__ = ["REGISTRY", "Policy", "Selection", "names", "parse", "twin"]


def twin(name: str, ratio: float) -> str | None:
    """The mitigation whose chain this one's equals at this ratio, row for row; None if none does."""
    parts = name.split("+")
    if name != "none" and ratio == 0 and all(p in SAME_AS_NONE_AT_RATIO_0 for p in parts):
        return "none"
    return None


def names() -> list[str]:
    return sorted(REGISTRY)


def parse(name: str, params=None) -> Policy:
    """`accumulate+greedy` -> the composed Policy, with parameters from `params` (a
    config.MitigationParams; None: the defaults). An unknown or conflicting name raises ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a mitigation is a name such as 'none' or 'accumulate', got {name!r}")
    parts = name.split("+")
    unknown = [p for p in parts if p not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown mitigation {unknown[0]!r} (known: {', '.join(names())}; compose with '+')")
    if len(set(parts)) != len(parts):
        raise ValueError(f"mitigation {name!r} names a part twice")
    if "none" in parts and len(parts) > 1:
        raise ValueError(f"mitigation {name!r}: 'none' cannot be combined with others")
    params = MitigationParams() if params is None else params
    policy = Policy()
    for part in parts:
        try:
            policy = REGISTRY[part](policy, params)
        except ValueError as err:
            raise ValueError(f"mitigation {name!r}: {err}") from None
    return policy
