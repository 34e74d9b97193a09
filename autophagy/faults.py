"""Fault injection, for the fault-tolerance tests and for drills on a real cluster.

Set AUTOPHAGY_FAULTS to a JSON file (in the environment Ray's workers inherit) holding a list of
    {"kind": "raise" | "exit" | "kill" | "diverge", "chain": "<substring of a chain_id>", "generation": g}
 - raise: the chain actor raises before running generation g (an exception in user code);
 - diverge: generation g's finetune returns a NaN loss (a retry on a GPU that diverges where the
   first attempt did not);
 - exit:  the chain actor's worker process dies with os._exit (a crashed worker or node);
 - kill:  the trial `ray.kill`s its chain actor before generation g (a lost actor).
Each fault fires once: a marker file beside the JSON records it, so the retry goes through.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from pathlib import Path


def due(kind: str, chain_id: str, generation: int) -> bool:
    """True (once) if a fault of `kind` is planned for this chain and generation."""
    spec = os.environ.get("AUTOPHAGY_FAULTS")
    if not spec or not Path(spec).is_file():
        return False
    for i, fault in enumerate(json.loads(Path(spec).read_text())):
        if fault["kind"] == kind and fault["chain"] in chain_id and fault["generation"] == generation:
            marker = Path(f"{spec}.fired-{i}")
            try:
                marker.touch(exist_ok=False)  # atomic: only one process fires it
            except FileExistsError:
                continue
            return True
    return False


def inject(chain_id: str, generation: int) -> None:
    """Called by the chain actor before each generation."""
    if due("raise", chain_id, generation):
        raise RuntimeError(f"injected fault: exception in chain {chain_id} at generation {generation}")
    if due("exit", chain_id, generation):
        os._exit(17)


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
