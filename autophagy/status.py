"""Where a sweep stands, read from its directory alone: `autophagy status DIR`, `Run.chains`.

It reads DIR/config.yaml, the rows (DIR/metrics), Tune's experiment state (DIR/tune/experiment_state-*.json:
each trial's status and retries), DIR/search.json (a threshold search's chains) and DIR/driver.json (the
driver's lock: {"host", "pid", "started_at", "heartbeat_at"}, ISO UTC; optional), so it works from any
machine that mounts DIR, while the sweep runs and after its driver died. It never writes and never
locks; it imports no Ray (Tune's JSON is read as JSON, nothing unpickled).

A chain is `done` (its rows end it: every generation, or a divergence), `failed` (its last row says so,
or Tune gave up on it), `running` (started, not ended), or `not started`. The sweep is `finished` when
every chain is done or failed, `running` while its driver lives, else `stopped`. The driver lives while
driver.json's record is not stale by the lock's rule (orchestrator/lock.py: its pid alive on the same
host, its heartbeat under lock.STALE_S old); a driver that ended removes the record. Only a sweep from
before the lock (no DIR/driver.lock) falls back to Tune's last saved state, which a SIGKILLed driver
leaves saying "running".
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from autophagy import grid
from autophagy.config import SweepConfig
from autophagy.orchestrator.lock import read_record, stale
from autophagy.run_dir import load_run

STATES = ("running", "stopped", "finished")
CHAIN_STATUSES = ("done", "running", "failed", "not started")
COLUMNS = ("chain_id", "generation", "status", "worker", "error", "finished_at")  # what status reads of the rows


def expected_cells(out_dir: Path, cfg: SweepConfig) -> list[dict]:
    """Every chain the sweep has planned so far: a search's from search.json, else the grid's."""
    search = Path(out_dir) / "search.json"
    if search.is_file():
        return list(json.loads(search.read_text())["chains"].values())
    return [c.to_dict() for c in grid.cells(cfg)]


def tune_trials(out_dir: Path) -> dict[str, dict]:
    """{chain_id: {"tune_status", "retries"}} from the newest experiment state in DIR/tune ({} if none)."""
    states = sorted((Path(out_dir) / "tune").glob("experiment_state-*.json"))
    if not states:
        return {}
    try:
        data = json.loads(states[-1].read_text())["trial_data"]
    except (OSError, ValueError, KeyError):  # being rewritten this instant: the rows still tell most of it
        return {}
    out = {}
    for trial_json, metadata_json in data:
        trial, metadata = json.loads(trial_json), json.loads(metadata_json)
        chain = (trial.get("config") or {}).get("chain")
        if isinstance(chain, str):
            out[chain] = {"tune_status": trial.get("status"), "retries": int(metadata.get("num_failures") or 0)}
    return out


def chain_table(out_dir: Path, cfg: SweepConfig, got: pd.DataFrame) -> pd.DataFrame:
    """One row per chain: chain_id, axes, status, last_generation (its last 'ok' one), worker (the last named:
    a failed row has none), retries (Tune's), error (a failed chain's)."""
    trials = tune_trials(out_dir)
    table = pd.DataFrame(expected_cells(out_dir, cfg))
    if len(got):
        ok = got["status"] == "ok"
        per = got.assign(failed=got["status"] == "failed", diverged=got["status"] == "diverged",
                         ok_generation=got["generation"].where(ok),
                         in_range=got["generation"].where(ok & got["generation"].between(0, cfg.generations))
                         ).groupby("chain_id").agg(
            failed=("failed", "any"), diverged=("diverged", "any"), last_generation=("ok_generation", "max"),
            generations=("in_range", "nunique"), last_status=("status", "last"), worker=("worker", "last"),
            error=("error", "last"))
        # as rows.ended: a divergence, or every generation 0..G, and no 'failed' row
        ended = ~per["failed"] & (per["diverged"] | (per["generations"] == cfg.generations + 1))
        per["status"] = "running"
        per.loc[ended, "status"] = "done"
        per.loc[per["last_status"] == "failed", "status"] = "failed"
        per["error"] = per["error"].where(per["status"] == "failed")
        table = table.join(per[["status", "last_generation", "worker", "error"]], on="chain_id")
    else:
        table = table.assign(status=None, last_generation=None, worker=None, error=None)
    table["status"] = table["status"].fillna("not started")
    table["last_generation"] = table["last_generation"].astype("Int64")
    tune_status = table["chain_id"].map(lambda c: trials.get(c, {}).get("tune_status"))
    table.loc[tune_status == "ERROR", "status"] = "failed"
    table.loc[tune_status.isin(["RUNNING", "PENDING"]) & (table["status"] == "failed"), "status"] = "running"  # retried
    table["retries"] = table["chain_id"].map(lambda c: trials.get(c, {}).get("retries", 0)).astype(int)
    return table


def driver(out_dir: Path) -> dict | None:
    """DIR/driver.json with `alive` added (judged by the lock's own rule, orchestrator/lock.stale),
    or None when there is none (no driver now, or a sweep from before the lock)."""
    info = read_record(Path(out_dir))
    if info is None:
        return None
    try:
        info["alive"] = stale(info) is None
    except (KeyError, TypeError, ValueError):  # a record cut short: no heartbeat to trust
        info["alive"] = False
    return info


def status(out_dir: Path, cfg: SweepConfig | None = None, got: pd.DataFrame | None = None) -> dict:
    """The sweep's state as plain data (what `autophagy status --json` prints)."""
    out_dir = Path(out_dir)
    if cfg is None or got is None:
        loaded, got = load_run(out_dir, got, columns=COLUMNS)
        cfg = cfg or loaded
    chains = chain_table(out_dir, cfg, got)
    lock = driver(out_dir)
    if not chains["status"].isin(["running", "not started"]).any():
        state = "finished"
    elif lock is not None:
        state = "running" if lock["alive"] else "stopped"
    elif (out_dir / "driver.lock").exists():  # the lock's record is removed when its driver ends
        state = "stopped"
    else:  # no lock (a sweep from before it): Tune's last saved state, which a SIGKILLed driver leaves as it was
        state = "running" if _running(out_dir) & set(chains["chain_id"]) else "stopped"
    series_axes = [a for a in cfg.grid if a not in ("ratio", "seed")]
    per_series = {" ".join(f"{a}={v}" for a, v in zip(series_axes, key if isinstance(key, tuple) else (key,))):
                  _counts(sub) for key, sub in chains.groupby(series_axes, sort=True)}
    active = chains[chains["status"].isin(["running", "failed"])]
    return {"dir": str(out_dir), "state": state, "driver": lock, "overall": _counts(chains), "series": per_series,
            "chains": [{k: _plain(r[k]) for k in ["chain_id", "status", "last_generation", "worker", "retries", "error"]}
                       for _, r in active.iterrows()],
            **_timing(got, chains, cfg, lock, state)}


def _running(out_dir: Path) -> set[str]:
    return {chain for chain, t in tune_trials(out_dir).items() if t["tune_status"] == "RUNNING"}


def _counts(chains: pd.DataFrame) -> dict[str, int]:
    """A running chain Tune has retried counts as retrying."""
    status, retried = chains["status"], chains["retries"] > 0
    return {"finished": int((status == "done").sum()), "running": int(((status == "running") & ~retried).sum()),
            "retrying": int(((status == "running") & retried).sum()), "failed": int((status == "failed").sum()),
            "not_started": int((status == "not started").sum()), "total": len(chains)}


def _timing(got: pd.DataFrame, chains: pd.DataFrame, cfg: SweepConfig, lock: dict | None, state: str) -> dict:
    """Elapsed since the driver started (else the first row), and the ETA at the rate so far: the
    generations left times the seconds per generation finished, as the driver's progress line counts."""
    stamps = got["finished_at"].dropna() if "finished_at" in got else pd.Series(dtype="datetime64[ns, UTC]")
    start = _parse_time((lock or {}).get("started_at")) or (stamps.min().to_pydatetime() if len(stamps) else None)
    end = datetime.now(timezone.utc) if state == "running" else (stamps.max().to_pydatetime() if len(stamps) else None)
    if start is None or end is None:
        return {"elapsed_s": None, "eta_s": None}
    elapsed = max(0.0, (end - start).total_seconds())
    per_chain = cfg.generations + 1
    left = sum(0 if s in ("done", "failed") else per_chain - (0 if g is None or pd.isna(g) else int(g) + 1)
               for s, g in zip(chains["status"], chains["last_generation"]))
    done = int((got["status"] == "ok").sum()) if len(got) else 0
    eta = None if state != "running" or not done else elapsed / done * left
    return {"elapsed_s": elapsed, "eta_s": eta}


def format_status(s: dict) -> str:
    """The text `autophagy status DIR` prints."""
    def line(name: str, c: dict) -> str:
        return (f"  {name:<28} {c['finished']}/{c['total']} finished, {c['running']} running, {c['retrying']} retrying, "
                f"{c['failed']} failed, {c['not_started']} not started")

    what = {"running": "running", "stopped": "stopped: the driver is gone and chains are unfinished "
            "(`autophagy run --resume` goes on)", "finished": "finished"}[s["state"]]
    out = [f"{s['dir']}: {what}"]
    if s["driver"]:
        d = s["driver"]
        out.append(f"  driver {d.get('host')} pid {d.get('pid')}, started {d.get('started_at')}"
                   + ("" if d["alive"] else ", no longer running"))
    out.append(line("all chains", s["overall"]))
    out += [line(name, c) for name, c in s["series"].items()]
    if s["elapsed_s"] is not None:
        eta = f"  ETA {_duration(s['eta_s'])}" if s["eta_s"] is not None else ""
        out.append(f"  elapsed {_duration(s['elapsed_s'])}{eta}")
    for c in s["chains"]:
        gen = "none" if c["last_generation"] is None else c["last_generation"]  # failed before generation 0
        out.append(f"  {c['status']:<8} {c['chain_id']}  last generation {gen}  on {c['worker'] or '?'}"
                   + (f"  retries {c['retries']}" if c["retries"] else ""))
        if c["error"]:
            out.append(f"           {c['error']}")
    return "\n".join(out)


def _duration(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def _parse_time(text) -> datetime | None:
    if not text:
        return None
    t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _plain(value):
    """JSON-ready: numpy scalars to Python, NaN to None."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value
