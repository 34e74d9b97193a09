"""The Tune trial of one chain: start its actor, then report one generation at a time.

The trial itself reserves nothing (an empty head bundle: a 0.01-CPU one would keep 2 one-CPU
chains off a 2-core node); the chain's model lives in a `ChainActor` scheduled on the placement
group's chain bundle, which holds the chain's CPUs and GPU share, and is reused by the next chain
that Tune runs in the same trainable process (see `_kept`).
Generations are reported to Tune with a checkpoint (every generation, or every few for
millisecond ones: `checkpoint_interval_s`), so a retried trial (Tune's FailureConfig) or a resumed
sweep (`Tuner.restore`) continues from the last checkpointed generation.

Per generation: one round trip to the actor (`step`). When it brings a checkpoint, the trial
writes the sample grids and rows of the generations since the last one (DIR/grids, DIR/metrics)
*before* reporting it, so a resume from that checkpoint never skips a row. Meanwhile the actor
already runs the next generation (it is asked for it first), so a chain does not wait on the
trial's writes nor on Tune's round trip to the driver.
"""

from __future__ import annotations

import logging
import numbers
import os
import shutil
import tempfile
from pathlib import Path

import ray
from ray import tune
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from autophagy import checkpoint, faults, grid, rows, sample_strips
from autophagy.actors import ChainActor
from autophagy.orchestrator import disk


def placement(cfg) -> tune.PlacementGroupFactory:
    chain = {"CPU": cfg.resources.cpus}
    if cfg.resources.gpus:
        chain["GPU"] = cfg.resources.gpus
    return tune.PlacementGroupFactory([{}, chain])


# This trainable process's chain actor and the placement group it lives in, kept when a chain
# finishes: Tune (reuse_actors=True) hands the process, with its placement group, to the next
# chain, which then reuses the actor instead of starting a new worker process.
_kept: dict = {}


def _chain_actor(cfg, cell, assets: ray.ObjectRef, files: dict[str, bytes] | None, samples_dir: str):
    """This chain's actor, loaded with the chain, and its position (next generation, finished)."""
    group = ray.util.get_current_placement_group()
    actor, group_id = _kept.pop("actor", (None, None))
    if actor is not None:
        if group_id == group.id:
            try:
                return actor, _load(actor, cfg, cell, assets, files, samples_dir)
            except ray.exceptions.RayActorError:  # it died with its last chain: start another
                pass
        else:
            ray.kill(actor)
    actor = ChainActor.options(
        num_cpus=cfg.resources.cpus,
        num_gpus=cfg.resources.gpus,
        scheduling_strategy=PlacementGroupSchedulingStrategy(
            group, placement_group_bundle_index=len(group.bundle_specs) - 1),
    ).remote()
    return actor, _load(actor, cfg, cell, assets, files, samples_dir)


def _load(actor, cfg, cell, assets: ray.ObjectRef, files: dict[str, bytes] | None, samples_dir: str) -> tuple[int, bool]:
    try:
        return ray.get(actor.reset.remote(cfg, cell, assets, files, samples_dir))
    except BaseException:  # an actor holding a half-loaded chain serves nobody
        ray.kill(actor)
        raise


def _start(actor, chain_id: str, generation: int):
    """Ask the actor for `generation` (the 'kill' fault drill kills it instead)."""
    if faults.due("kill", chain_id, generation):
        ray.kill(actor)
    return actor.step.remote()


# Errors of the chain's actor that a retry from the same checkpoint would raise again: a config or
# data error (e.g. images_per_generation above the real pool, raised as the chain loads), a corrupt
# checkpoint.
# They fail the chain at once; anything else (a dead actor, worker or node; out of memory) is
# Tune's to retry (FailureConfig). Tune has no error type it does not retry
# (TuneController._process_trial_failure retries while num_failures <= max_failures), so the trial
# catches these itself, writes the 'failed' row and ends normally.
PERMANENT = (ValueError, TypeError, LookupError, FileNotFoundError, checkpoint.CheckpointError)


SCRATCH = "autophagy-ckpt-"
# Where sweep.py moves a Tune experiment whose state cannot be read: its trials' checkpoints stay
# there for the fresh experiment's trials to resume from (DIR/tune-unreadable-1/<chain>/checkpoint_*).
UNREADABLE = "tune-unreadable-"


def set_aside_dirs(out: Path, chain_id: str) -> list[Path]:
    """This chain's trial directories in the experiments sweep.py set aside, newest first."""
    numbered = {int(p.name[len(UNREADABLE):]): p for p in out.glob(UNREADABLE + "*") if p.name[len(UNREADABLE):].isdigit()}
    return [numbered[n] / chain_id for n in sorted(numbered, reverse=True)]


def scratch_dir() -> Path:
    """This trainable process's directory for the checkpoint it reports: tune.report copies it to
    DIR/tune, then blocks until the driver takes the result. A process SIGKILLed there (its driver
    or node lost) never removes it, so the name is the process's own: one per process at most,
    never one per checkpoint."""
    return Path(tempfile.gettempdir()) / f"{SCRATCH}{os.getpid()}"


def remove_dead_scratch() -> int:
    """Remove the scratch directories of this node's processes that are gone; returns how many."""
    removed = 0
    for old in Path(tempfile.gettempdir()).glob(SCRATCH + "*"):
        pid = old.name[len(SCRATCH):]
        if not pid.isdigit():
            continue  # not a name of scratch_dir's
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(old, ignore_errors=True)
            removed += 1
        except PermissionError:  # alive, another user's
            pass
    return removed


def run_chain(param: dict, *, cfg, refs: dict[str, ray.ObjectRef], out: str) -> None:
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)  # a line per checkpoint
    remove_dead_scratch()  # a killed attempt's, on this node
    cell = grid.Cell.from_dict(param["cell"])  # a grid's as a search's (sweep._tuner)
    record = rows.ChainRows(Path(out) / "metrics", cell.chain_id, rows.schema(cfg))
    if rows.ended(record.rows.values(), cfg.generations):
        # Its rows end the chain, but Tune's experiment snapshot (taken every few seconds) was
        # older than its last report when the driver died: a resume would run it again for nothing.
        tune.report({"generations": [], "done": True})
        return
    try:
        _run(cfg, cell, refs, out, record)
    except Exception as err:
        if (full := disk.cause(err)) is not None:  # a stop, not a failure: no retry, no 'failed' row
            tune.report({"generations": [], "done": False, "disk_full": disk.one_line(full)})
            return
        # raised in the chain's actor; the trial's own I/O may be transient
        if not isinstance(err, ray.exceptions.RayTaskError) or not isinstance(err.cause, PERMANENT):
            raise
        message = f"{type(err.cause).__name__}: {(str(err.cause).splitlines() or [''])[0]}"[:500]
        generation = record.fail(cell.to_dict(), message)
        tune.report({"generations": [], "done": True, "failed": message, "failed_at": generation})


def _run(cfg, cell, refs: dict[str, ray.ObjectRef], out: str, record: rows.ChainRows) -> None:
    if (last := tune.get_checkpoint()) is not None:
        with last.as_directory() as directory:
            files = checkpoint.read_dir(directory)
    else:  # a fresh start, or a fresh experiment over an unreadable one (sweep.py): DIR's own record
        files = checkpoint.newest_intact(set_aside_dirs(Path(out), cell.chain_id))
    actor, (generation, done) = _chain_actor(grid.cell_config(cfg, cell), cell, refs["assets"], files,
                                             str(Path(out) / "samples"))
    record.drop_after(generation - 1)  # rows a failed attempt wrote past this checkpoint
    finished = False
    try:
        running = None if done else _start(actor, cell.chain_id, generation)
        unsaved = []  # the generation records since the last checkpoint
        while running is not None:
            generation, files, done = ray.get(running)
            running = None if done else _start(actor, cell.chain_id, generation.generation + 1)
            unsaved.append(generation)
            if files is None:
                continue
            for g in unsaved:
                if g.strip:  # before the row: a row on disk means its strip is too
                    sample_strips.write(out, cell.chain_id, g.generation, g.strip)
            record.put(*unsaved)
            # The last report says done: Tune then ends the trial (raising SystemExit in this
            # thread) without another round trip, and the finished chain's actor is kept.
            finished = done
            directory = scratch_dir()
            shutil.rmtree(directory, ignore_errors=True)  # the last checkpoint's files
            checkpoint.write_dir(files, directory)
            report = [progress(g.row(), full=bool(cfg.loggers)) for g in unsaved]
            try:
                tune.report({"generations": report, "done": done},
                            checkpoint=tune.Checkpoint.from_directory(str(directory)))
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            unsaved = []
        finished = True
    finally:
        if finished:
            _kept["actor"] = (actor, ray.util.get_current_placement_group().id)
        else:  # a failed chain's actor may be broken: the retry starts a fresh one
            ray.kill(actor)


def progress(row: dict, full: bool = False) -> dict:
    """What Tune's driver gets of a generation: enough to count it, not the whole row (Tune tracks
    every reported number of every trial; the Parquet rows are the record). With `loggers`, also
    the row's numbers, nested where Tune does not track them, for the trackers."""
    short = {"chain_id": row["chain_id"], "generation": row["generation"], "status": row["status"]}
    if full:  # numbers.Real: numpy's scalars too
        short["metrics"] = {k: float(v) for k, v in row.items() if isinstance(v, numbers.Real) and not isinstance(v, bool)}
    return short
