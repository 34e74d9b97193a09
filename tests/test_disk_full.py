"""A full disk is a stop, not a loss: the sweep ends at once (exit 3, one line, no retry burned, no
'failed' row), and `--resume` after space is freed finishes it with the rows of an uninterrupted
run, even from an unreadable Tune experiment state (orchestrator/disk.py, sweep.py)."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autophagy import grid, preflight, rows, sweepfile
from autophagy.orchestrator import disk, sweep, trial
from test_faults import EVENT_BOUND_S, ROOT, _assert_same_as_uninterrupted, _cfg, _plan, held, release, wait_until


@pytest.fixture
def small_fs(tmp_path):
    """A 32 MB tmpfs at tmp_path/fs, unmounted afterwards; skipped where it cannot be mounted."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {got.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path) -> None:
    """Write `path` until the filesystem is full (ENOSPC), keeping what was written."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    with open(path, "ab", buffering=0) as f:  # the last partial block
        try:
            while True:
                f.write(b"\0")
        except OSError as err:
            assert err.errno == errno.ENOSPC, err


def test_disk_fills_mid_sweep_then_grows(_faults, small_fs):
    out = small_fs / "run"
    sets = ["--set", "generations=12", "--set", "grid.seed=[0]", "--set", "grid.mitigation=[none]",
            "--set", "checkpoint_interval_s=0", "--set", "retries=2"]
    cmd = [sys.executable, "-m", "autophagy", "run", str(ROOT / "sweeps" / "smoke.yaml"), "--out", str(out), *sets]
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", sweepfile.parse_set(sets[1::2]))
    target = grid.cells(cfg)[1].chain_id
    _plan(_faults, [{"kind": "hold", "chain": target, "generation": 6}])
    env = {**os.environ, "RAY_ADDRESS": ""}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        wait_until(held(_faults, 0).exists, "held chain", driver)
        _fill(small_fs / "ballast")
        release(_faults, 0)
        _, err = driver.communicate(timeout=EVENT_BOUND_S)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, 9)
            driver.wait()
    assert driver.returncode == disk.EXIT_CODE, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("autophagy: stopped: ") and str(out) in line and "free" in line and "--resume" in line, line
    assert "disk full" in line and "TuneError" not in err
    partial = rows.read_rows(out)
    assert (partial.status == "ok").all(), "the generation that met the full disk was recorded as failed"
    assert (partial.chain_id == target).sum() <= 6
    # The filesystem grows and the ballast goes: the same command with --resume finishes the sweep.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)], check=True)
    (small_fs / "ballast").unlink()
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=EVENT_BOUND_S)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same_as_uninterrupted(cfg, out)


@pytest.mark.parametrize("state", ["truncated", "missing"])
def test_resume_from_dirs_record_when_tune_state_is_unreadable(ray_local, _faults, tmp_path, state):
    cfg = _cfg(retries=1)
    target = grid.cells(cfg)[0].chain_id
    _plan(_faults, [{"kind": "raise", "chain": target, "generation": 3}] * 2)  # two faults > one retry
    out = tmp_path / "run"
    sweep.run(cfg, out, progress=False)
    before = rows.read_chain(out / "metrics", target)
    assert [r["status"] for r in before] == ["ok", "ok", "ok", "failed"]
    for path in (out / "tune").glob("experiment_state-*.json"):
        if state == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            path.unlink()
    assert not sweep.restorable(out / "tune")
    _plan(_faults, [])
    results = sweep.run(cfg, out, resume=True, progress=False)
    assert all(r.error is None for r in results)
    _assert_same_as_uninterrupted(cfg, out)
    after = rows.read_chain(out / "metrics", target)
    # Generations 0-2 were not run again: the chain went on from its last intact checkpoint.
    assert [r["finished_at"] for r in after[:3]] == [r["finished_at"] for r in before[:3]]
    assert not list(out.glob(trial.UNREADABLE + "*")), "the unreadable experiment was kept after the sweep ended"


def test_disk_cause_finds_enospc_behind_other_errors():
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    try:
        try:
            raise full
        except OSError as err:
            raise RuntimeError("writing rows") from err
    except RuntimeError as wrapped:
        assert disk.cause(wrapped) is full
    assert disk.cause(OSError(errno.EDQUOT, "quota")) is not None
    assert disk.cause(OSError(f"pyarrow copy: {os.strerror(errno.ENOSPC)}")) is not None  # no errno
    assert disk.cause(OSError(errno.EACCES, "denied")) is None and disk.cause(ValueError("x")) is None


def test_preflight_warns_when_the_disk_is_smaller_than_the_sweep(tmp_path, monkeypatch):
    cfg = sweepfile.load(ROOT / "sweeps" / "demo.yaml")
    need, counted = preflight.disk_needed(cfg)
    per_chain = (cfg.generations + 1) * cfg.images_per_generation * (8 * 8 + 8) + (cfg.checkpoint_keep + 1) * 35_000
    assert counted and need == len(grid.cells(cfg)) * per_chain
    usage = type("Usage", (), {"free": need - 1})
    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: usage)
    warning = preflight.disk_warning(cfg, tmp_path / "not-yet")
    assert warning is not None and str(tmp_path / "not-yet") in warning and "--resume" in warning
    usage.free = need
    assert preflight.disk_warning(cfg, tmp_path) is None
