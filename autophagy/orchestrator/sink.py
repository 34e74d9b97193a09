"""The Parquet sink: a Tune callback on the driver that writes each reported generation's row.

Rows (and each generation's sample grid, a small PNG: grids.py) travel with Tune's results to the driver, so workers on any node need no shared filesystem.
Tune processes a result's checkpoint and its callbacks in the same step, before the experiment
state that a resume starts from is saved, so a resumed sweep never skips a row; it may report a
generation again, and `rows.write_row` replaces it (idempotent).

A chain that exhausts its retries gets a row with status 'failed' (and the error) at the
generation it could not finish; a later `--resume` that finishes it replaces that row.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ray import tune

from autophagy import grids, rows


class ParquetSink(tune.Callback):
    def __init__(self, out_dir: Path, cfg, chains: int, progress: bool = True):
        self.out_dir = Path(out_dir)
        self.metrics_dir = self.out_dir / "metrics"
        self.schema = rows.schema(cfg)
        self.generations, self.retries, self.metric = cfg.generations, cfg.retries, cfg.collapse.metric
        self.chains, self.progress = chains, progress
        self.done: set[str] = set()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        row = result.get("row")
        if not row:
            return
        if result.get("grid"):  # before the row: a row on disk means its grid is too
            grids.write(self.out_dir, row["chain_id"], row["generation"], result["grid"])
        rows.write_row(self.metrics_dir, row, self.schema)
        value = row.get(self.metric, float("nan"))
        busy = sum(v for k, v in row.items() if k.startswith("seconds_"))
        status = "" if row["status"] == "ok" else f"  {row['status'].upper()}"
        self._say(f"{row['chain_id']:<32} gen {row['generation']:>3}/{self.generations}"
                  f"  {self.metric} {value:8.3f}  ({busy:5.1f} s){status}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done.add(trial.config["cell"]["chain_id"])
        self._say(f"chain {trial.config['cell']['chain_id']} finished ({len(self.done)}/{self.chains} chains)")

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._say(f"chain {trial.config['cell']['chain_id']} failed ({_error(trial)}); retrying from its "
                  f"last finished generation ({trial.run_metadata.num_failures}/{self.retries})")

    def on_trial_error(self, iteration, trials, trial, **info):
        cell = trial.config["cell"]
        done = rows.read_chain(self.metrics_dir, cell["chain_id"])
        generation = max((r["generation"] for r in done if r["status"] == "ok"), default=-1) + 1
        rows.write_row(self.metrics_dir, {**cell, "generation": generation, "status": "failed",
                                          "error": _error(trial)}, self.schema)
        self._say(f"chain {cell['chain_id']} FAILED at generation {generation} after {self.retries} retries: "
                  f"{_error(trial)}")

    def _say(self, line: str) -> None:
        if self.progress:
            print(f"[autophagy] {line}", file=sys.stderr, flush=True)


def _error(trial) -> str:
    """The last line of the trial's error (the exception), for the row and the log."""
    try:  # the local copy of error.txt; Tune syncs it to storage only later
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else "unknown error"
