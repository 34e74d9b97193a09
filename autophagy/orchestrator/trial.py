"""The Tune trial of one chain: start its actor, then report one generation at a time.

The trial itself reserves nothing (an empty head bundle: a 0.01-CPU one would keep 2 one-CPU
chains off a 2-core node); the chain's model lives in a `ChainActor` scheduled on the placement
group's chain bundle, which holds the chain's CPUs and GPU share, and is reused by the next chain
that Tune runs in the same trainable process (see `_kept`).
Every generation is reported with a checkpoint, so a retried trial (Tune's FailureConfig) or a
resumed sweep (`Tuner.restore`) continues from the last finished generation.
"""

from __future__ import annotations

import logging
import tempfile

import ray
from ray import tune
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from autophagy import checkpoint, faults, grid
from autophagy.actors import ChainActor


def placement(cfg) -> tune.PlacementGroupFactory:
    chain = {"CPU": cfg.resources.cpus}
    if cfg.resources.gpus:
        chain["GPU"] = cfg.resources.gpus
    return tune.PlacementGroupFactory([{}, chain])


# This trainable process's chain actor and the placement group it lives in, kept when a chain
# finishes: Tune (reuse_actors=True) hands the process, with its placement group, to the next
# chain, which then reuses the actor instead of starting a new worker process.
_kept: dict = {}


def _chain_actor(cfg, cell, assets: dict[str, bytes], files: dict[str, bytes] | None):
    group = ray.util.get_current_placement_group()
    kept = _kept.pop("actor", None)
    if kept is not None:
        actor, group_id = kept
        if group_id == group.id:
            try:
                ray.get(actor.reset.remote(cfg, cell, assets, files))
                return actor
            except ray.exceptions.RayActorError:  # it died with its last chain: start another
                pass
        else:
            ray.kill(actor)
    return ChainActor.options(
        num_cpus=cfg.resources.cpus,
        num_gpus=cfg.resources.gpus,
        scheduling_strategy=PlacementGroupSchedulingStrategy(
            group, placement_group_bundle_index=len(group.bundle_specs) - 1),
    ).remote(cfg, cell, assets, files)


def run_chain(param: dict, *, cfg, assets: dict[str, bytes]) -> None:
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)  # a line per checkpoint
    cell = grid.Cell.from_dict(param["cell"])
    files = None
    if (last := tune.get_checkpoint()) is not None:
        with last.as_directory() as directory:
            files = checkpoint.read_dir(directory)
    actor = _chain_actor(grid.cell_config(cfg, cell), cell, assets, files)
    finished = False
    try:
        while not ray.get(actor.finished.remote()):
            if faults.due("kill", cell.chain_id, ray.get(actor.next_generation.remote())):
                ray.kill(actor)
            row, files, strip = ray.get(actor.step.remote())
            with tempfile.TemporaryDirectory(prefix="autophagy-ckpt-") as directory:
                checkpoint.write_dir(files, directory)
                tune.report({"row": row, "grid": strip}, checkpoint=tune.Checkpoint.from_directory(directory))
        finished = True
    finally:
        if finished:
            _kept["actor"] = (actor, ray.util.get_current_placement_group().id)
        else:  # a failed chain's actor may be broken: the retry starts a fresh one
            ray.kill(actor)
