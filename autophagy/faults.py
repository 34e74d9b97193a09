"""Fault injection, for the fault-tolerance tests and for drills on a real cluster.

Set AUTOPHAGY_FAULTS to a JSON file (in the environment Ray's workers inherit) holding a list of
    {"kind": "raise" | "exit" | "kill" | "diverge" | "hold", "chain": "<substring of a chain_id>", "generation": g}
 - raise: the chain actor raises before running generation g (an exception in user code);
 - diverge: generation g's finetune returns a NaN loss (a retry on a GPU that diverges where the
   first attempt did not);
 - exit:  the chain actor's worker process dies with os._exit (a crashed worker or node);
 - kill:  the trial `ray.kill`s its chain actor before generation g (a lost actor);
 - hold:  the chain actor, before generation g, writes `<plan>.held-<i>` (i: the fault's index in
   the list) and blocks until `<plan>.release-<i>` exists or its process is killed: a test waits
   for the marker to act mid-sweep (kill the driver, start a second one) at a moment it knows,
   instead of racing the chains' speed.
Each fault fires once: a marker file beside the JSON records it, so the retry goes through.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path


# How often a held chain looks for its release file: a check of one path, cheap at any rate.
HOLD_POLL_S = 0.1


def _fire(kind: str, chain_id: str, generation: int) -> int | None:
    """The index of a fault of `kind` planned for this chain and generation, once; else None."""
    spec = os.environ.get("AUTOPHAGY_FAULTS")
    if not spec or not Path(spec).is_file():
        return None
    for i, fault in enumerate(json.loads(Path(spec).read_text())):
        if fault["kind"] == kind and fault["chain"] in chain_id and fault["generation"] == generation:
            marker = Path(f"{spec}.fired-{i}")
            try:
                marker.touch(exist_ok=False)  # atomic: only one process fires it
            except FileExistsError:
                continue
            return i
    return None


def due(kind: str, chain_id: str, generation: int) -> bool:
    """True (once) if a fault of `kind` is planned for this chain and generation."""
    return _fire(kind, chain_id, generation) is not None


def hold(chain_id: str, generation: int) -> None:
    """A planned 'hold': say so in `<plan>.held-<i>`, then wait for `<plan>.release-<i>`."""
    i = _fire("hold", chain_id, generation)
    if i is None:
        return
    spec = os.environ["AUTOPHAGY_FAULTS"]
    Path(f"{spec}.held-{i}").write_text(f"{chain_id} {generation} {os.getpid()}\n")
    release = Path(f"{spec}.release-{i}")
    while not release.exists():
        time.sleep(HOLD_POLL_S)


def inject(chain_id: str, generation: int) -> None:
    """Called by the chain actor before each generation."""
    if due("raise", chain_id, generation):
        raise RuntimeError(f"injected fault: exception in chain {chain_id} at generation {generation}")
    if due("exit", chain_id, generation):
        os._exit(17)
    hold(chain_id, generation)


@contextmanager
def diverging(backend, chain_id: str, generation: int):
    """Around the chain actor's generation: a planned 'diverge' makes its finetune's loss NaN."""
    if not due("diverge", chain_id, generation):
        yield
        return
    finetune = backend.finetune
    backend.finetune = lambda train, seed: {**finetune(train, seed), "loss": math.nan}
    try:
        yield
    finally:
        del backend.finetune  # the instance attribute: the class's method is back
