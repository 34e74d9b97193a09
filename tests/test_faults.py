"""Fault tolerance: chains retried from their last finished generation, rows never duplicated,
final rows equal to an uninterrupted run; exhausted retries marked failed; driver SIGKILL + resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from autophagy import grid, rows, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.orchestrator import sweep

ROOT = Path(__file__).resolve().parents[1]
VALUES = ["train_loss", "variance", "kl", "loglik", "n_synthetic"]


def _cfg(**over):
    # Every generation checkpointed (gmm's take milliseconds: the default would checkpoint a chain once).
    base = {"generations": 4, "grid.seed": [0], "grid.ratio": [0.5, 1.0], "grid.mitigation": ["none"], "retries": 2,
            "checkpoint_interval_s": 0}
    return sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {**base, **over})


def _uninterrupted(cfg) -> pd.DataFrame:
    out = []
    for cell in grid.cells(cfg):
        chain = Chain(cfg, cell, backend_class(cfg.backend)(cfg, {}))
        while not chain.finished:
            out.append(chain.run_generation())
    return pd.DataFrame(out).sort_values(rows.KEY).reset_index(drop=True)


# A generous bound on waiting for an event (a held chain's marker): a driver starting Ray on 2 busy
# cores takes some 20 s to get there. Nothing is asserted about how long it took.
EVENT_BOUND_S = 300


def _plan(faults_file, faults):
    for old in faults_file.parent.glob(faults_file.name + ".*-*"):  # fired-, held-, release- markers
        old.unlink()
    faults_file.write_text(json.dumps(faults))


def wait_until(done, what: str, driver: subprocess.Popen | None = None) -> None:
    """Until `done()` (an event: a hold fault's marker, rows written while a chain is held); fail if
    the driver exits first or the event never comes within the generous bound."""
    deadline = time.monotonic() + EVENT_BOUND_S
    while not done():
        assert driver is None or driver.poll() is None, f"the driver exited ({driver.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {EVENT_BOUND_S} s"
        time.sleep(0.1)


def held(faults_file: Path, i: int) -> Path:
    return faults_file.parent / f"{faults_file.name}.held-{i}"


def release(faults_file: Path, i: int) -> None:
    (faults_file.parent / f"{faults_file.name}.release-{i}").touch()


def _assert_same_as_uninterrupted(cfg, out):
    got = rows.read_rows(out)
    assert not got.duplicated(rows.KEY).any()
    assert (got.status == "ok").all()
    want = _uninterrupted(cfg)
    assert len(got) == len(want) == len(grid.cells(cfg)) * (cfg.generations + 1)
    pd.testing.assert_frame_equal(got[rows.KEY + VALUES], want[rows.KEY + VALUES], check_dtype=False)


@pytest.mark.parametrize("kind", ["raise", "exit", "kill"])
def test_chain_fault_is_retried_from_last_generation(ray_local, _faults, tmp_path, kind):
    cfg = _cfg()
    target = grid.cells(cfg)[1].chain_id
    _plan(_faults, [{"kind": kind, "chain": target, "generation": 2}])
    results = sweep.run(cfg, tmp_path / "run", progress=False)
    assert all(r.error is None for r in results)
    assert (_faults.parent / (_faults.name + ".fired-0")).exists(), "the fault never fired"
    _assert_same_as_uninterrupted(cfg, tmp_path / "run")
    # The retry went on from generation 2's checkpoint: one checkpoint per generation, none redone,
    # and only the last checkpoint_keep of them are left (the last one is generation G's).
    kept = sorted(p.name for p in (tmp_path / "run" / "tune" / target).glob("checkpoint_*"))
    assert kept == [f"checkpoint_{i:06d}" for i in range(cfg.generations + 1 - cfg.checkpoint_keep, cfg.generations + 1)]


def test_exhausted_retries_mark_the_chain_failed_and_the_sweep_goes_on(ray_local, _faults, tmp_path):
    cfg = _cfg(retries=1)
    target = grid.cells(cfg)[0].chain_id
    _plan(_faults, [{"kind": "raise", "chain": target, "generation": 3}] * 2)  # two faults > one retry
    results = sweep.run(cfg, tmp_path / "run", progress=False)
    assert sum(r.error is not None for r in results) == 1
    df = rows.read_rows(tmp_path / "run")
    mine = df[df.chain_id == target]
    assert mine.status.tolist() == ["ok", "ok", "ok", "failed"]
    assert "injected fault" in mine.error.iloc[-1] and mine.variance.isna().iloc[-1]
    other = df[df.chain_id != target]
    assert len(other) == cfg.generations + 1 and (other.status == "ok").all()
    # Resuming retries the failed chain from its checkpoint and replaces the 'failed' row.
    _plan(_faults, [])
    sweep.run(cfg, tmp_path / "run", resume=True, progress=False)
    _assert_same_as_uninterrupted(cfg, tmp_path / "run")


def test_driver_sigkill_then_resume(_faults, tmp_path):
    """A real `autophagy run` process, SIGKILLed while one chain is held mid-sweep, then `--resume`d."""
    out = tmp_path / "run"
    sets = ["--set", "generations=12", "--set", "grid.seed=[0]", "--set", "grid.mitigation=[none]",
            "--set", "checkpoint_interval_s=0"]
    cmd = [sys.executable, "-m", "autophagy", "run", str(ROOT / "sweeps" / "smoke.yaml"), "--out", str(out), *sets]
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", sweepfile.parse_set(sets[1::2]))
    target = grid.cells(cfg)[1].chain_id
    _plan(_faults, [{"kind": "hold", "chain": target, "generation": 6}])  # fires once: the resume is not held
    env = {**os.environ, "RAY_ADDRESS": ""}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(held(_faults, 0).exists, "held chain", driver)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started
        driver.wait()
    partial = rows.read_rows(out)
    assert (partial.chain_id == target).sum() <= 6, "the held chain went past generation 5"
    assert len(partial) < len(grid.cells(cfg)) * (cfg.generations + 1)
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same_as_uninterrupted(sweepfile.load(out / "config.yaml"), out)
