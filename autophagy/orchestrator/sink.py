"""The Parquet sink: a Tune callback on the driver that writes each reported generation's row.

Rows travel with Tune's results to the driver, so workers on any node need no shared filesystem.
Tune processes a result's checkpoint and its callbacks in the same step, before the experiment
state that a resume starts from is saved, so a resumed sweep never skips a row; it may report a
generation again, and `rows.write_row` replaces it (idempotent).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ray import tune

from autophagy import rows


class ParquetSink(tune.Callback):
    def __init__(self, out_dir: Path, generations: int, chains: int, metric: str, progress: bool = True):
        self.metrics_dir = Path(out_dir) / "metrics"
        self.generations, self.chains, self.metric, self.progress = generations, chains, metric, progress
        self.done: set[str] = set()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        row = result.get("row")
        if not row:
            return
        rows.write_row(self.metrics_dir, row)
        if self.progress:
            value = row.get(self.metric, float("nan"))
            busy = sum(row[k] for k in row if k.startswith("seconds_"))
            status = "" if row["status"] == "ok" else f"  {row['status'].upper()}"
            self._say(f"{row['chain_id']:<32} gen {row['generation']:>3}/{self.generations}"
                      f"  {self.metric} {value:8.3f}  ({busy:5.1f} s){status}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done.add(trial.config["cell"]["chain_id"])
        self._say(f"chain {trial.config['cell']['chain_id']} finished ({len(self.done)}/{self.chains} chains)")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._say(f"chain {trial.config['cell']['chain_id']} FAILED: {trial.error_file or 'see the Tune log'}")

    def _say(self, line: str) -> None:
        if self.progress:
            print(f"[autophagy] {line}", file=sys.stderr, flush=True)
