"""One driver per sweep directory (orchestrator/lock.py): a second live driver is refused in one
line naming the holder; a stale record (a dead pid on this host, an old heartbeat on another) is
taken over."""

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from test_faults import _plan, held, release, wait_until

from autophagy.orchestrator import lock

ROOT = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process (until the kernel reuses it)
    return gone.pid


def _write(out: Path, host: str, pid: int, heartbeat_age_s: float) -> dict:
    at = lock.now() - timedelta(seconds=heartbeat_age_s)
    rec = {"host": host, "pid": pid, "started_at": lock.iso(at), "heartbeat_at": lock.iso(at)}
    out.mkdir(parents=True, exist_ok=True)
    (out / lock.RECORD).write_text(json.dumps(rec))
    return rec


def test_record_format_and_cleanup(tmp_path):
    with lock.held(tmp_path / "run") as rec:
        on_disk = json.loads((tmp_path / "run" / lock.RECORD).read_text())
        assert on_disk == rec and list(on_disk) == ["host", "pid", "started_at", "heartbeat_at"]
        assert (on_disk["host"], on_disk["pid"]) == (socket.gethostname(), os.getpid())
        assert lock.stale(on_disk) is None
    assert not (tmp_path / "run" / lock.RECORD).exists()


def test_stale_records(tmp_path):
    at = lock.now()
    fresh = {"host": "elsewhere", "pid": 1, "heartbeat_at": lock.iso(at)}
    assert lock.stale(fresh, at, host="here") is None  # another host's pid cannot be checked: the heartbeat decides
    old = {**fresh, "heartbeat_at": lock.iso(at - timedelta(seconds=lock.STALE_S + 1))}
    assert "heartbeat" in lock.stale(old, at, host="here")
    dead = {"host": "here", "pid": _dead_pid(), "heartbeat_at": lock.iso(at)}
    assert "gone" in lock.stale(dead, at, host="here")
    assert lock.stale({**dead, "pid": os.getpid()}, at, host="here") is None


@pytest.mark.parametrize("host, age", [(socket.gethostname(), 0), ("another-host", lock.STALE_S + 60)])
def test_a_stale_record_is_taken_over(tmp_path, host, age):
    out = tmp_path / "run"
    pid = _dead_pid() if host == socket.gethostname() else 4242
    _write(out, host, pid, age)
    said = []
    with lock.held(out, said.append) as rec:
        assert rec["pid"] == os.getpid() and lock.read_record(out) == rec
    assert len(said) == 1 and f"pid {pid}" in said[0]


def test_a_live_record_on_another_host_refuses(tmp_path):
    out = tmp_path / "run"
    rec = _write(out, "another-host", 4242, 0)
    with pytest.raises(lock.DriverBusy) as refused:
        with lock.held(out):
            pytest.fail("a second driver ran")
    line = str(refused.value)
    assert "\n" not in line and all(str(v) in line for v in rec.values())
    assert lock.read_record(out) == rec  # the live holder's record is left alone


def test_two_drivers_on_one_directory_one_runs(_faults, tmp_path):
    """The first `autophagy run` is held mid-sweep (a hold fault) while the second starts: the second
    is refused with exit code 2 and one line naming the first's host and pid; the first then ends."""
    out = tmp_path / "run"
    sets = ["--set", "generations=3", "--set", "grid.seed=[0]", "--set", "grid.mitigation=[none]",
            "--set", "grid.ratio=[0.5]"]
    cmd = [sys.executable, "-m", "autophagy", "run", str(ROOT / "sweeps" / "smoke.yaml"), "--out", str(out), *sets]
    _plan(_faults, [{"kind": "hold", "chain": "none-r0.5-s0", "generation": 1}])
    env = {**os.environ, "RAY_ADDRESS": ""}
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        wait_until(held(_faults, 0).exists, "held chain", first)
        second = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        refusal = [line for line in second.stderr.splitlines() if "error" in line]
        assert len(refusal) == 1 and f"pid {first.pid}" in refusal[0] and socket.gethostname() in refusal[0]
        assert "Ray" not in second.stderr  # refused before Ray started
        release(_faults, 0)
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err[-3000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, 9)
            first.wait()
    assert not (out / lock.RECORD).exists()
