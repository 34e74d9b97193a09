"""Bounded checkpoint retention (`checkpoint_keep: K`): each chain keeps its last K checkpoints, and
never one that `--resume` could need.

Tune's own `CheckpointConfig(num_to_keep=K)` deletes a trial's oldest checkpoint as soon as the
K+1th is registered, but saves the experiment state that `Tuner.restore` reads only every 10 s or
more (and syncs it to DIR/tune afterwards): a driver killed in between leaves a state pointing at a
deleted checkpoint, and the chain cannot resume (Ray issue #30073; seen in tests/test_faults.py).
So Tune keeps every checkpoint, and this driver callback deletes them instead, reading what the
newest experiment state in DIR/tune would resume each trial from: a trial's checkpoint is deleted
only when it is older than both its K newest on disk and the one that state names. Between two
snapshots a chain holds K plus the checkpoints made since (a digits chain 2-3, at one per 5-s
generation); once the sweep ends (Tune saves the state before `on_experiment_end`), exactly K.
"""

from __future__ import annotations

import json
import math
import pickle
import shutil
import time
from pathlib import Path

from ray import tune
from ray.tune.trainable.metadata import _TrainingRunMetadata

# Tune's state snapshots come at most every 10 s (its "auto" period): pruning more often finds
# nothing new, and each prune parses the state (about 20 kB per trial).
PERIOD_S = 5.0


def resume_points(experiment: Path) -> dict[str, float] | None:
    """{trial directory: index of the checkpoint a restore would start from} from the newest saved
    experiment state (inf for a finished trial that names none: nothing restores it; a running one
    that names none is left out, untouched); None when there is none or it cannot be read (being
    written: prune later)."""
    states = sorted(Path(experiment).glob("experiment_state-*.json"))  # Tune restores from max(name)
    if not states:
        return None
    try:
        points = {}
        for trial_json, metadata_json in json.loads(states[-1].read_text())["trial_data"]:
            # What Trial.latest_checkpoint_result restores from, decoded as Tune decodes it (Ray
            # 2.60). Not the last result's checkpoint_dir_name: Tune updates the last result before
            # it registers that result's checkpoint, and a snapshot in between resumes from the one
            # before (the first version of this drill lost such a checkpoint).
            latest = _TrainingRunMetadata.from_json_state(metadata_json).checkpoint_manager.latest_checkpoint_result
            trial = json.loads(trial_json)
            if latest is not None:
                points[trial["relative_logdir"]] = _index(Path(latest.checkpoint.path).name)
            elif trial.get("status") == "TERMINATED":
                # Finished without a checkpoint Tune knows of: a trial that found its chain's rows
                # complete and reported none (trial.run_chain), after a driver killed before its
                # state saved the checkpoints an earlier attempt made. Nothing resumes it: keep K.
                points[trial["relative_logdir"]] = math.inf
        return points
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pickle.UnpicklingError):
        return None


def prune(experiment: Path, keep: int) -> int:
    """Delete every trial's checkpoints older than both its `keep` newest and its resume point.
    Returns how many were deleted."""
    points = resume_points(experiment)
    deleted = 0
    for trial_dir, point in (points or {}).items():
        saved = sorted((Path(experiment) / trial_dir).glob("checkpoint_*"), key=lambda p: _index(p.name))
        if len(saved) <= keep:
            continue
        cutoff = min(point, _index(saved[-keep].name))
        for path in saved:
            if _index(path.name) < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                deleted += 1
    return deleted


def _index(name: str) -> int:
    return int(name.rsplit("_", 1)[1])


class Retention(tune.Callback):
    """Prunes DIR/tune every PERIOD_S seconds while the sweep runs, and once at its end."""

    def __init__(self, experiment: Path, keep: int):
        self.experiment, self.keep = Path(experiment), keep
        self.next_prune = 0.0  # wall clock: this callback is pickled with the Tuner and restored

    def on_step_end(self, iteration, trials, **info):
        if time.time() >= self.next_prune:
            prune(self.experiment, self.keep)
            self.next_prune = time.time() + PERIOD_S

    def on_experiment_end(self, trials, **info):
        prune(self.experiment, self.keep)
