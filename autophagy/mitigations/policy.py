"""The loop's knobs that mitigations turn. The default is the plain replace loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Policy:
    # Which generations the synthetic share is drawn from: the last one (replace, Bohacek & Farid)
    # or every earlier one in equal parts (accumulate, Shi et al.; Gerstgrasser et al.).
    synthetic_from: Literal["last", "all"] = "last"
