"""One driver per sweep directory: DIR/driver.lock and the record DIR/driver.json.

`autophagy run` holds both while it runs (`held`); `report`, `compare` and `status` never take
them. The record, read by `autophagy status` too:
    {"host": "<hostname>", "pid": 1234, "started_at": "<ISO UTC>", "heartbeat_at": "<ISO UTC>"}
with heartbeat_at rewritten every HEARTBEAT_S by a daemon thread of the driver.

The OS lock (filelock's flock) goes with its process on a local filesystem, but NFS may not honour
flock at all (every driver gets it) or keep it for a client that died. So the record and its
heartbeat decide whether the holder lives: a record is stale when its heartbeat is older than
STALE_S (any host: a live driver refreshes it every HEARTBEAT_S, so an old one is a dead driver,
a frozen host, or a pid since reused), or when its host is this one and its pid is gone. A stale
record is taken over, even where the OS lock could not be had.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from autophagy.config import ConfigError

LOCK, RECORD = "driver.lock", "driver.json"
HEARTBEAT_S = 30
# 4 heartbeats: a driver busy for a minute (its host swapping) is not taken for dead.
STALE_S = 120


class DriverBusy(ConfigError):
    """Another live driver holds the sweep directory (exit code 2, as every refused run)."""


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def record(started_at: datetime, heartbeat_at: datetime) -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started_at": iso(started_at), "heartbeat_at": iso(heartbeat_at)}


def read_record(out: Path) -> dict | None:
    """DIR/driver.json, or None when there is none (or a torn one: a driver killed while writing)."""
    try:
        return json.loads((Path(out) / RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_record(out: Path, rec: dict) -> None:
    tmp = Path(out) / f"{RECORD}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(rec) + "\n")
    os.replace(tmp, Path(out) / RECORD)  # atomic: a reader sees the old record or the new one


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def stale(rec: dict, at: datetime | None = None, host: str | None = None) -> str | None:
    """Why the driver of this record is gone (see the module's docstring), or None if it may live."""
    at, host = at or now(), host or socket.gethostname()
    age = (at - datetime.fromisoformat(rec["heartbeat_at"])).total_seconds()
    if age > STALE_S:
        return f"its heartbeat is {age:.0f} s old (over {STALE_S} s)"
    if rec["host"] == host and not pid_alive(int(rec["pid"])):
        return f"pid {rec['pid']} is gone from {host}"
    return None


def busy_line(out: Path, rec: dict | None) -> str:
    if rec is None:  # the lock is held and its record not yet written: a driver starting
        return (f"{out}: another driver holds {out / LOCK} (starting: no {RECORD} yet); "
                f"wait for it, or run again in a few seconds")
    return (f"{out}: a driver is already running this sweep: host {rec['host']} pid {rec['pid']}, started "
            f"{rec['started_at']}, heartbeat {rec['heartbeat_at']}; wait for it to end (`autophagy status {out}`), "
            f"or stop it (kill {rec['pid']} on {rec['host']}) and `autophagy run ... --resume`")


def _heartbeat(out: Path, rec: dict, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        write_record(out, {**rec, "heartbeat_at": iso(now())})


@contextmanager
def held(out: Path, log=lambda message: None):
    """Hold DIR for this driver, or raise DriverBusy naming the live holder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out / LOCK)
    try:
        lock.acquire(blocking=False)
        locked = True
    except Timeout:
        locked = False
    old = read_record(out)
    why = stale(old) if old else None
    mine = old is not None and (old["host"], old["pid"]) == (socket.gethostname(), os.getpid())  # a pid reused
    if (old and why is None and not mine) or (not locked and old is None):
        if locked:
            lock.release()
        raise DriverBusy(busy_line(out, old))
    if old and why:
        log(f"taking over {out} from the driver of {old['host']} pid {old['pid']}: {why}")
    started = now()
    rec = record(started, started)
    write_record(out, rec)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(out, rec, stop), daemon=True, name="driver-heartbeat")
    beat.start()
    try:
        yield rec
    finally:
        stop.set()
        beat.join()
        if (read_record(out) or {}).get("pid") == rec["pid"]:
            (out / RECORD).unlink(missing_ok=True)
        if locked:
            lock.release()
