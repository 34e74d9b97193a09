"""How a share of N images becomes a count: round half up, floor(x + 0.5), never Python's
banker's rounding (round(2.5) == 2), so that one ratio gives one count everywhere: the training
mix (mixing.py), a selection's candidates (mitigations/policy.py) and the threshold search's
free training mixes (analysis/refine.py)."""

import math


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))
