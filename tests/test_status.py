"""status.py and `autophagy status`: a sweep whose driver was SIGKILLed mid-sweep, built by hand (rows,
Tune's experiment state, driver.json naming a process killed and reaped), so nothing races a clock."""

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from autophagy import cli, grid, rows, status, sweepfile

ROOT = Path(__file__).resolve().parents[1]
G = 3


def _sweep(out: Path):
    """2 ratios x 2 seeds x 2 mitigations; `none` chains: 0.0/s0 done, 0.0/s1 at generation 1 (retried once
    by Tune), 1.0/s0 failed at generation 2, 1.0/s1 not started; `accumulate` chains all done."""
    cfg = sweepfile.load(ROOT / "sweeps" / "smoke.yaml", {
        "generations": G, "grid.ratio": [0.0, 1.0], "grid.seed": [0, 1], "grid.mitigation": ["none", "accumulate"]})
    out.mkdir()
    sweepfile.dump(cfg, out / "config.yaml")
    cells = {(c.mitigation, c.ratio, c.seed): c for c in grid.cells(cfg)}
    last = {("none", 0.0, 1): 1, ("none", 1.0, 0): 1, ("none", 1.0, 1): None}
    for key, cell in cells.items():
        upto = last.get(key, G)
        chain = rows.ChainRows(out / "metrics", cell.chain_id, rows.schema(cfg))
        if upto is not None:
            chain.put(*[{**cell.to_dict(), "generation": g, "status": "ok", "worker": f"10.0.0.{g} cpu",
                         "finished_at": datetime(2026, 1, 1, 0, g, tzinfo=timezone.utc)} for g in range(upto + 1)])
    rows.ChainRows(out / "metrics", cells["none", 1.0, 0].chain_id, rows.schema(cfg)).put({
        **cells["none", 1.0, 0].to_dict(), "generation": 2, "status": "failed", "finished_at": datetime(
            2026, 1, 1, 0, 3, tzinfo=timezone.utc), "error": "RuntimeError: CUDA error: an illegal memory access"})
    trial = lambda c, s: json.dumps({"status": s, "config": {"chain": cells[c].chain_id}})  # noqa: E731
    (out / "tune").mkdir()
    (out / "tune" / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": [
        [trial(("none", 0.0, 1), "RUNNING"), json.dumps({"num_failures": 1})],
        [trial(("none", 1.0, 0), "ERROR"), json.dumps({"num_failures": 1})],
        [trial(("none", 0.0, 0), "TERMINATED"), json.dumps({"num_failures": 0})]]}))
    return cfg, cells


def _driver(out: Path, pid: int) -> None:
    """The lock's record (orchestrator/lock.py) of a driver with pid `pid` that has just beaten."""
    from autophagy.orchestrator import lock

    lock.write_record(out, {"host": socket.gethostname(), "pid": pid, "started_at": "2026-01-01T00:00:00+00:00",
                            "heartbeat_at": lock.iso(lock.now())})


def _tree(out: Path) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(out.rglob("*"))}


def test_a_sweep_whose_driver_was_killed_reads_as_stopped(tmp_path, capsys):
    out = tmp_path / "run"
    cfg, cells = _sweep(out)
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        _driver(out, driver.pid)
        assert status.status(out)["state"] == "running"
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)  # reaped: its pid names no process now
    before = _tree(out)
    s = status.status(out)
    assert _tree(out) == before  # read only: nothing written, no lock taken

    assert s["state"] == "stopped" and s["driver"]["alive"] is False
    assert s["overall"] == {"finished": 5, "running": 0, "retrying": 1, "failed": 1, "not_started": 1, "total": 8}
    assert s["series"]["mitigation=none"] == {"finished": 1, "running": 0, "retrying": 1, "failed": 1,
                                              "not_started": 1, "total": 4}
    assert s["series"]["mitigation=accumulate"]["finished"] == 4
    by_id = {c["chain_id"]: c for c in s["chains"]}
    failed, retrying = by_id[cells["none", 1.0, 0].chain_id], by_id[cells["none", 0.0, 1].chain_id]
    assert (failed["status"], failed["last_generation"], failed["worker"]) == ("failed", 1, "10.0.0.1 cpu")
    assert failed["error"].startswith("RuntimeError: CUDA error")
    assert (retrying["status"], retrying["last_generation"], retrying["retries"], retrying["worker"]) == \
        ("running", 1, 1, "10.0.0.1 cpu")
    assert s["elapsed_s"] == 3 * 60 and s["eta_s"] is None  # elapsed to the last row; no ETA once stopped

    assert cli.main(["status", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "stopped"
    assert cli.main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "stopped: the driver is gone" in text and "CUDA error" in text and "no longer running" in text

    (out / "driver.json").unlink()  # a sweep from before the lock: Tune's saved state is all there is
    assert status.status(out)["state"] == "running"  # it says a trial runs
    (out / "tune" / "experiment_state-2026-01-01_00-00-00.json").unlink()
    assert status.status(out)["state"] == "stopped"


def test_eta_while_running_and_finished_once_every_chain_ends(tmp_path):
    out = tmp_path / "run"
    cfg, cells = _sweep(out)
    _driver(out, os.getpid())  # this process stands in for a live driver
    s = status.status(out)
    ok_rows = 5 * (G + 1) + 2 + 2  # generations finished: 4 accumulate and 1 none chain whole, two to 1
    left = (G - 1) + (G + 1)  # the running chain's, the unstarted one's (a failed chain has none left)
    assert s["state"] == "running"
    assert s["eta_s"] == pytest.approx(s["elapsed_s"] / ok_rows * left)

    for key in [("none", 0.0, 1), ("none", 1.0, 1), ("none", 1.0, 0)]:
        chain = rows.ChainRows(out / "metrics", cells[key].chain_id, rows.schema(cfg))
        chain.put(*[{**cells[key].to_dict(), "generation": g, "status": "ok"} for g in range(G + 1)])
    (out / "tune" / "experiment_state-2026-01-01_00-00-00.json").unlink()
    assert status.status(out)["state"] == "finished"


def test_status_of_a_directory_that_is_no_sweep(tmp_path, capsys):
    assert cli.main(["status", str(tmp_path)]) == 2
    assert f"{tmp_path}: not a sweep directory (no config.yaml)" in capsys.readouterr().err
