"""Bounded checkpoint retention (orchestrator/retention.py): the last `checkpoint_keep` checkpoints
of a chain, never one the saved experiment state would resume from; a driver SIGKILLed at many
random moments of one sweep resumes every time and ends with an uninterrupted run's rows."""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import raynodes
from test_faults import _uninterrupted
from ray.train._internal.checkpoint_manager import _CheckpointManager
from ray.train._internal.session import _TrainingResult
from ray.tune import Checkpoint, CheckpointConfig
from ray.tune.trainable.metadata import _TrainingRunMetadata

from autophagy import grid, rows, sweepfile
from autophagy.orchestrator import retention, trial

ROOT = Path(__file__).resolve().parents[1]


def _experiment(tmp_path, resume_from: dict[str, int], on_disk: int = 10) -> Path:
    """A DIR/tune with `on_disk` checkpoints per trial and a state naming each one's resume point."""
    tune = tmp_path / "tune"
    for trial in ("a", "b", "c"):
        for i in range(on_disk):
            (tune / trial / f"checkpoint_{i:06d}").mkdir(parents=True)
    trials = []
    for trial, i in resume_from.items():  # the run metadata as Tune writes it into its state
        metadata = _TrainingRunMetadata()
        metadata.checkpoint_manager = _CheckpointManager(CheckpointConfig())
        path = tune / trial / f"checkpoint_{i:06d}"
        metadata.checkpoint_manager.register_checkpoint(_TrainingResult(Checkpoint(str(path)), {}))
        trials.append([json.dumps({"relative_logdir": trial}), metadata.get_json_state()])
    (tune / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": trials}))
    return tune


def _left(tune, trial):
    return [int(p.name.split("_")[1]) for p in sorted((tune / trial).glob("checkpoint_*"))]


def test_prune_keeps_the_last_k_and_what_the_saved_state_resumes_from(tmp_path):
    tune = _experiment(tmp_path, {"a": 4, "b": 9})
    assert retention.prune(tune, keep=2) == 4 + 8
    assert _left(tune, "a") == [4, 5, 6, 7, 8, 9]  # the state lags: it would resume a from 4
    assert _left(tune, "b") == [8, 9]
    assert _left(tune, "c") == list(range(10))  # a trial the state does not know yet: untouched


def test_a_finished_trial_the_state_names_no_checkpoint_for_keeps_k_and_a_running_one_all(tmp_path):
    """A driver killed after its chains finished but before its state saved their checkpoints: the
    next driver's trials find the rows complete and report no checkpoint (trial.run_chain), so the
    newest state names none for them. Nothing restores a finished trial: its old checkpoints go but
    the last K. A running trial without one keeps them all (its first may still be on its way)."""
    tune = _experiment(tmp_path, {})
    state = tune / "experiment_state-2026-01-01_00-00-00.json"
    empty = _TrainingRunMetadata()
    empty.checkpoint_manager = _CheckpointManager(CheckpointConfig())
    trials = [[json.dumps({"relative_logdir": "a", "status": "TERMINATED"}), empty.get_json_state()],
              [json.dumps({"relative_logdir": "b", "status": "RUNNING"}), empty.get_json_state()]]
    state.write_text(json.dumps({"trial_data": trials}))
    assert retention.prune(tune, keep=2) == 8
    assert _left(tune, "a") == [8, 9] and _left(tune, "b") == list(range(10))


def test_prune_deletes_nothing_while_the_state_cannot_be_read(tmp_path):
    tune = _experiment(tmp_path, {"a": 9})
    newest = tune / "experiment_state-2026-01-01_00-00-01.json"  # newer, half-written
    newest.write_text('{"trial_data": [["{\\"relative_logdir')
    assert retention.prune(tune, keep=1) == 0 and _left(tune, "a") == list(range(10))


def test_a_killed_trials_checkpoint_scratch_is_removed_by_the_next_trial(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that has ended: its pid is free
    for pid in (gone.pid, os.getpid()):
        (tmp_path / f"{trial.SCRATCH}{pid}").mkdir()
        (tmp_path / f"{trial.SCRATCH}{pid}" / "state.safetensors").write_bytes(b"x")
    (tmp_path / f"{trial.SCRATCH}k3j2_x").mkdir()  # not a name of trial.scratch_dir's
    assert trial.remove_dead_scratch() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{trial.SCRATCH}{os.getpid()}", f"{trial.SCRATCH}k3j2_x"]
    assert trial.scratch_dir() == tmp_path / f"{trial.SCRATCH}{os.getpid()}"


def test_driver_sigkilled_at_20_random_moments_resumes_every_time(tmp_path):
    """20 `autophagy run --resume` drivers on one Ray cluster (a head node the test starts), each
    SIGKILLed at a random moment: while it imports and connects, while Tune restores, mid-chain,
    mid-checkpoint (half at a random time after its start, half when the chain files have
    grown by a random 1-12 rows, plus up to 0.2 s). Every driver is alive until killed or exits 0;
    the last, left alone, finishes; the rows equal an uninterrupted run's, each chain keeps
    exactly checkpoint_keep checkpoints, and the killed trials' checkpoint scratch directories are
    gone but for the last attempt's at most. Seed: AUTOPHAGY_DRILL_SEED (default 15)."""
    seed = int(os.environ.get("AUTOPHAGY_DRILL_SEED", "15"))
    moments = random.Random(seed)
    out = tmp_path / "run"
    # 2 chains x 161 generations, each checkpointed: a kill can land in any of 322 checkpoints.
    sets = ["generations=160", "grid.seed=[0]", "grid.mitigation=[none]", "grid.ratio=[0.5, 1.0]",
            "checkpoint_interval_s=0", "retries=0"]
    scratch = tmp_path / "scratch"  # the trials' TMPDIR: where their checkpoint scratch goes
    scratch.mkdir()
    head = raynodes.Node(cpus=2, env={"TMPDIR": str(scratch)})
    try:
        raynodes.wait_for_cpus(head.address, 2)
        cmd = [sys.executable, "-m", "autophagy", "run", str(ROOT / "sweeps" / "smoke.yaml"), "--out", str(out),
               "--address", head.address, *[a for s in sets for a in ("--set", s)]]
        killed_mid_chain = 0
        for attempt in range(20):
            before = len(rows.read_rows(out))
            driver = subprocess.Popen(cmd + (["--resume"] if attempt else []), env=raynodes.ENV,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
            started = time.time()
            if moments.random() < 1 / 2:
                until, grown = started + moments.uniform(0.2, 4.0), None
            else:
                until, grown = started + 120, moments.randint(1, 12)
            written = None
            while time.time() < until and driver.poll() is None:
                # rows are read only when a chain's file changed: the test's reads would take a
                # share of the 2 cores the sweep runs on
                if grown is not None and written != (written := _written(out)) and len(rows.read_rows(out)) >= before + grown:
                    until = time.time() + moments.uniform(0, 0.2)
                    grown = None
                time.sleep(0.02)
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
            else:
                assert driver.returncode == 0, f"attempt {attempt} (seed {seed}): {driver.stderr.read()[-3000:]}"
            driver.stderr.close()
            killed_mid_chain += len(rows.read_rows(out)) > before
        assert killed_mid_chain >= 5, f"only {killed_mid_chain} drivers got as far as a row (seed {seed})"
        done = subprocess.run(cmd + ["--resume"], env=raynodes.ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    finally:
        head.stop()

    cfg = sweepfile.load(out / "config.yaml")
    got = rows.read_rows(out)
    want = _uninterrupted(cfg)
    assert not got.duplicated(rows.KEY).any() and (got.status == "ok").all()
    values = rows.KEY + ["train_loss", "variance", "kl", "loglik", "n_synthetic"]
    pd.testing.assert_frame_equal(got[values], want[values], check_dtype=False)
    for cell in grid.cells(cfg):
        assert len(list((out / "tune" / cell.chain_id).glob("checkpoint_*"))) == cfg.checkpoint_keep
    # a trial killed in tune.report leaves its scratch; the next trial on the node removes it, but
    # the workers of the attempt just before the last may still have been alive when it started
    left = sorted(p.name for p in scratch.glob(trial.SCRATCH + "*"))
    assert len(left) <= len(grid.cells(cfg)), left


def _written(out: Path) -> list[tuple[str, int]]:
    return sorted((p.name, p.stat().st_mtime_ns) for p in (out / "metrics").glob("*.parquet")) if (out / "metrics").is_dir() else []
