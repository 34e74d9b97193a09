"""Collapse criteria: when does one chain's metric series count as collapsed?

A criterion (`CollapseConfig`) compares a metric, generation by generation, with a limit:

  relative  limit = threshold x the chain's own generation-0 value: `fid` up 2.0 is "FID doubled",
            `recall` down 0.5 is "recall fell to half". Generation 0 is the reference, so it can
            never collapse itself (with threshold <= 1 it would, trivially).
  absolute  limit = threshold: `recall` down 0.3 is "recall at or below 0.3" (generation 0 may
            already be collapsed: a base model that bad collapses at time 0).

Direction `up`: larger is worse (value >= limit holds); `down`: smaller is worse (value <= limit).
The criterion must hold `persist` consecutive generations (a gap in the generations breaks a
run); the collapse time is the first generation of the first such run. A run still open at the
last observed generation but shorter than `persist` is not (yet) a collapse: the chain is censored.

A diverged generation (the chain's last row, metrics NaN) either
  - counts as collapse (`diverged_is_collapse`): it holds, and since a diverged model stays broken
    it satisfies persistence on its own; the collapse time is the start of the run it ends (the
    diverged generation itself unless the criterion already held just before), or
  - censors the chain at that generation: we lost the chain there without seeing it collapse.
A 'failed' row (the chain crashed and ran out of retries) is no observation and is skipped: the
chain is censored at its last observed generation. A chain without a generation-0 row (it
diverged or failed there) has nothing to compare with in relative mode: it can then only
collapse by diverging. A reference value that was measured but is <= 0 or not finite makes a
relative criterion meaningless (KID at generation 0 is about 0, so `kid>=2x` would hold for every
chain): time_to_collapse refuses it, naming the metric.

`collapse.reference: control` replaces the chain's own generation 0 with the control chain's value
at the same generation (ratio 0, same seed and series: finetuned on real images only), so that
what finetuning does without any synthetic data is not counted as collapse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autophagy.config import CollapseConfig

# How each mode turns (threshold, generation-0 value) into the limit; a new mode is one line.
MODES = {
    "relative": lambda threshold, gen0: threshold * gen0,
    "absolute": lambda threshold, gen0: threshold,
}


@dataclass(frozen=True)
class ChainOutcome:
    time: int  # generation of collapse, or the last observed generation when censored
    collapsed: bool
    diverged: bool
    last_generation: int

    @property
    def censored(self) -> bool:
        return not self.collapsed


def limit(criterion: CollapseConfig, gen0_value):
    """The limit the metric is compared with: a number, or one per generation for an array."""
    if criterion.mode not in MODES:
        raise ValueError(f"unknown collapse mode {criterion.mode!r} (known: {', '.join(MODES)})")
    value = MODES[criterion.mode](criterion.threshold, gen0_value)
    return value if isinstance(value, np.ndarray) else float(value)


def holds(values: np.ndarray, bound: float, direction: str) -> np.ndarray:
    """Per generation: is the value on the bad side of `bound`? NaN values never hold."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        if direction == "up":
            return values >= bound
        if direction == "down":
            return values <= bound
    raise ValueError(f"unknown collapse direction {direction!r} (known: up, down)")


def first_run(generations: np.ndarray, flags: np.ndarray, persist: int, terminal: bool = False) -> int | None:
    """Index where the first run of `persist` consecutive holding generations starts, or None.
    `terminal`: the last entry ends the chain for good, so a run reaching it counts at any length."""
    start = None
    for i, flag in enumerate(flags):
        if not flag:
            start = None
            continue
        if start is None or generations[i] != generations[i - 1] + 1:
            start = i
        if i - start + 1 >= persist or (terminal and i == len(flags) - 1):
            return start
    return None


def chain_outcome(generations, statuses, values, criterion: CollapseConfig, reference=None) -> ChainOutcome:
    """Apply `criterion` to one chain: its generations, row statuses and metric values.
    `reference` (relative mode): per row, the value the threshold multiplies, instead of the
    chain's own generation 0 (collapse.reference: control passes the control chain's values)."""
    status = np.asarray(statuses, dtype=object)
    seen = status != "failed"  # a crash of the software, not of the model: not an observation
    gens = np.asarray(generations, dtype=int)[seen]
    order = np.argsort(gens, kind="stable")
    gens, status, vals = gens[order], status[seen][order], np.asarray(values, dtype=float)[seen][order]
    ref = None if reference is None else np.asarray(reference, dtype=float)[seen][order]
    if len(gens) == 0:
        raise ValueError("chain_outcome: a chain needs at least one observed ('ok' or 'diverged') row")
    bad = np.flatnonzero(status == "diverged")
    if len(bad):  # nothing after a divergence can be real; the chain ends there
        gens, status, vals = gens[: bad[0] + 1], status[: bad[0] + 1], vals[: bad[0] + 1]
        ref = None if ref is None else ref[: bad[0] + 1]
    diverged = bool(len(bad))

    base = ref if ref is not None else (vals[gens == 0][0] if (gens == 0).any() else np.nan)
    flags = holds(vals, limit(criterion, base), criterion.direction) & (status == "ok")
    if criterion.mode == "relative":
        flags &= gens != 0
    terminal = diverged and criterion.diverged_is_collapse
    if terminal:
        flags[-1] = True
    start = first_run(gens, flags, criterion.persist, terminal=terminal)
    last = int(gens[-1])
    if start is None:
        return ChainOutcome(time=last, collapsed=False, diverged=diverged, last_generation=last)
    return ChainOutcome(time=int(gens[start]), collapsed=True, diverged=diverged, last_generation=last)
