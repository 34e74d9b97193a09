"""The driver's Tune callback: a progress line per generation, and the row of a chain that failed.

A running chain's rows and sample grids are written by its own trial (orchestrator/trial.py),
before it reports the generation's checkpoint: Tune saves the experiment state that a resume
starts from only after that report, so a resumed sweep never skips a row; it may run a
generation again, and the row is then replaced (rows.py: idempotent). DIR must therefore be
storage that every node reaches, as Tune already requires of its checkpoints (DIR/tune).

A chain that exhausts its retries gets a row with status 'failed' (and the error) at the
generation it could not finish; a later `--resume` that finishes it replaces that row.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ray import tune

from autophagy import rows


class Progress(tune.Callback):
    def __init__(self, out_dir: Path, cfg, cells: dict[str, dict], progress: bool = True):
        self.metrics_dir = Path(out_dir) / "metrics"
        self.schema = rows.schema(cfg)
        self.generations, self.retries, self.metric = cfg.generations, cfg.retries, cfg.collapse.metric
        self.cells, self.progress = cells, progress
        self.done: set[str] = set()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        for g in result.get("generations", ()):
            status = "" if g["status"] == "ok" else f"  {g['status'].upper()}"
            self._say(f"{g['chain_id']:<32} gen {g['generation']:>3}/{self.generations}"
                      f"  {self.metric} {g['value']:8.3f}  ({g['seconds']:5.1f} s){status}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done.add(trial.config["chain"])
        failed = (trial.last_result or {}).get("failed")  # ended by the trial itself: a retry would fail too
        outcome = f"FAILED at generation {trial.last_result['failed_at']}, not retried: {failed}" if failed else "finished"
        total = f"{len(self.done)}/{len(self.cells)}" if "cell" not in trial.config else f"{len(self.done)} so far"
        self._say(f"chain {trial.config['chain']} {outcome} ({total} chains)")

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._say(f"chain {trial.config['chain']} failed ({_error(trial)}); retrying from its "
                  f"last checkpoint ({trial.run_metadata.num_failures}/{self.retries})")

    def on_trial_error(self, iteration, trials, trial, **info):
        cell = trial.config.get("cell") or self.cells[trial.config["chain"]]  # a search's cells come with the trial
        generation = rows.ChainRows(self.metrics_dir, cell["chain_id"], self.schema).fail(cell, _error(trial))
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
