"""Mitigations, chosen by name on the `mitigation` grid axis; names compose with `+`.

A mitigation is a function `apply(policy) -> policy` that switches on its part of the loop
(where the synthetic share comes from, where the real share comes from, ...). The chain loop
reads only the resulting `Policy`. Adding one is one new file and one line in REGISTRY.
"""

from __future__ import annotations

from autophagy.mitigations import accumulate, none
from autophagy.mitigations.policy import Policy

REGISTRY = {
    "none": none.apply,
    "accumulate": accumulate.apply,
}


def names() -> list[str]:
    return sorted(REGISTRY)


def parse(name: str) -> Policy:
    """`accumulate+greedy` -> the composed Policy; an unknown or conflicting name raises ValueError."""
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
        policy = REGISTRY[part](policy)
    return policy
