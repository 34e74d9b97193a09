"""Mitigations, chosen by name on the `mitigation` grid axis; names compose with `+`.

A mitigation is a module whose `apply(policy, params) -> policy` switches on its part of the loop
(where the synthetic share comes from, where the real share comes from, how the synthetic share is
chosen, ...); `params` is its own section of the sweep's `mitigation_params:`, the `Params` model
declared in the same file (None for a mitigation without one). The chain loop reads only the
resulting `Policy`. Adding one, parameters included, is one new file and one line in REGISTRY:
config.py builds `mitigation_params` from the registry (tests/test_mitigations.py adds one).

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

from autophagy.mitigations import accumulate, accumulate_all, fresh_data, greedy, healing, none, redifine, threshold_decay
from autophagy.mitigations.policy import Policy, Selection

# name -> its module: `apply(policy, params) -> policy`, and where it has them, `Params` (its
# `mitigation_params.<name>` section), `check_sweep(cfg)` (rules for a sweep that runs it) and
# `SAME_AS_NONE_AT_RATIO_0`. The order is the order of mitigation_params' sections.
REGISTRY = {
    "none": none,
    "accumulate": accumulate,
    "accumulate_all": accumulate_all,
    "fresh_data": fresh_data,
    "redifine": redifine,
    "greedy": greedy,
    "threshold_decay": threshold_decay,
    "healing": healing,
}

__all__ = ["REGISTRY", "Policy", "Selection", "check_sweep", "names", "parameters", "parse", "twin"]


def parameters() -> dict:
    """name -> the `Params` section of each mitigation that has parameters (config.MitigationParams)."""
    return {name: module.Params for name, module in REGISTRY.items() if hasattr(module, "Params")}


def check_sweep(cfg, listed) -> None:
    """Each mitigation part named in `listed` (grid.mitigation) checks the sweep it runs in."""
    parts = {p for name in listed if isinstance(name, str) for p in name.split("+")}
    for part in sorted(parts & set(REGISTRY)):
        if hasattr(REGISTRY[part], "check_sweep"):
            REGISTRY[part].check_sweep(cfg)


def twin(name: str, ratio: float) -> str | None:
    """The mitigation whose chain this one's equals at this ratio, row for row; None if none does."""
    parts = name.split("+")
    if name != "none" and ratio == 0 and all(getattr(REGISTRY.get(p), "SAME_AS_NONE_AT_RATIO_0", False) for p in parts):
        return "none"
    return None


def names() -> list[str]:
    return sorted(REGISTRY)


def parse(name: str, params=None) -> Policy:
    """`accumulate+greedy` -> the composed Policy; each part gets its own section of `params`
    (a config.MitigationParams; None: the defaults). An unknown or conflicting name raises ValueError."""
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
    policy = Policy()
    for part in parts:
        module = REGISTRY[part]
        own = None if not hasattr(module, "Params") else module.Params() if params is None else getattr(params, part)
        try:
            policy = module.apply(policy, own)
        except ValueError as err:
            raise ValueError(f"mitigation {name!r}: {err}") from None
    return policy
