"""The driver's Tune callback: the sweep's progress, and the row of a chain that failed.

Progress is one status line (generations done of the total, chains finished, failed and
retrying, elapsed time, ETA), redrawn in place when stderr is a terminal, and otherwise written as
a plain line every `EVERY_S` seconds and every 5 % of the generations: a 300-chain sweep of 30
generations logs 20 such lines plus one per half minute, not the 9,300 of a line per generation.
Chains that finish, fail or are retried get a line of their own either way.

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
import time
from pathlib import Path

from ray import tune

from autophagy import rows


class Progress(tune.Callback):
    def __init__(self, out_dir: Path, cfg, cells: dict[str, dict], progress: bool = True):
        self.metrics_dir = Path(out_dir) / "metrics"
        self.schema = rows.schema(cfg)
        self.generations, self.retries = cfg.generations, cfg.retries
        self.cells, self.progress = cells, progress
        # a search adds chains round by round, up to its budget
        self.budget = cfg.search.max_chains if cfg.search.method != "grid" else None
        self.done: set[str] = set()
        self.failed: set[str] = set()
        self.retrying: set[str] = set()
        self.generations_done: dict[str, set[int]] = {}  # per chain; a retry's repeats count once
        # The ETA's rate: generations run since this driver's first result, whose wait (Ray's
        # workers starting, assets loading: 40 s for a 3-generation gmm sweep on 2 busy cores) is
        # not a generation's cost.
        self.ran, self.first = 0, None
        self.started = self.shown_at = time.monotonic()
        self.shown_share = 0.0

    def setup(self, **info):
        # Tune pickles this callback with the experiment: a --resume's clock starts now.
        self.started = self.shown_at = time.monotonic()
        self.ran, self.first = 0, None

    def on_trial_start(self, iteration, trials, trial, **info):
        self.generations_done.setdefault(trial.config["chain"], set())

    def on_trial_result(self, iteration, trials, trial, result, **info):
        chain = trial.config["chain"]
        self.retrying.discard(chain)
        for g in result.get("generations", ()):
            self.generations_done.setdefault(chain, set()).add(g["generation"])
            self.ran += 1
        if self.first is None:
            self.first = (time.monotonic(), self.ran)
        self._status()

    def on_experiment_end(self, trials, **info):
        self._status(final=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done.add(trial.config["chain"])
        self.retrying.discard(trial.config["chain"])
        # a chain that ended (finished, diverged or failed) has no generation left to wait for
        self.generations_done[trial.config["chain"]] = set(range(self.generations + 1))
        failed = (trial.last_result or {}).get("failed")  # ended by the trial itself: a retry would fail too
        outcome = f"FAILED at generation {trial.last_result['failed_at']}, not retried: {failed}" if failed else "finished"
        if failed:
            self.failed.add(trial.config["chain"])
        total = f"{len(self.done)}/{len(self.cells)} chains" if "cell" not in trial.config \
            else f"{len(self.done)} chains so far, at most {self.budget}"
        self._say(f"chain {trial.config['chain']} {outcome} ({total})")
        self._status()

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.retrying.add(trial.config["chain"])
        self._say(f"chain {trial.config['chain']} failed ({_error(trial)}); retrying from its "
                  f"last checkpoint ({trial.run_metadata.num_failures}/{self.retries})")

    def on_trial_error(self, iteration, trials, trial, **info):
        cell = trial.config.get("cell") or self.cells[trial.config["chain"]]  # a search's cells come with the trial
        generation = rows.ChainRows(self.metrics_dir, cell["chain_id"], self.schema).fail(cell, _error(trial))
        self.failed.add(cell["chain_id"])
        self.retrying.discard(cell["chain_id"])
        self.generations_done[cell["chain_id"]] = set(range(self.generations + 1))
        self._say(f"chain {cell['chain_id']} FAILED at generation {generation} after {self.retries} retries: "
                  f"{_error(trial)}")

    def _status(self, final: bool = False) -> None:
        chains = max(len(self.cells), len(self.generations_done))
        total = chains * (self.generations + 1)
        done = sum(min(len(g), self.generations + 1) for g in self.generations_done.values())
        if not (self.progress and total):
            return
        now = time.monotonic()
        tty = sys.stderr.isatty()
        due = final or now - self.shown_at >= (REDRAW_S if tty else EVERY_S) or done / total - self.shown_share >= 0.05
        if not due:
            return
        self.shown_at, self.shown_share = now, done / total
        rate = None
        if self.first is not None and self.ran > self.first[1]:
            rate = (now - self.first[0]) / (self.ran - self.first[1])
        text = status_line(done, total, len(self.done - self.failed), len(self.failed), len(self.retrying),
                           chains, now - self.started, rate, self.budget)
        end = "\n" if final or not tty else ""
        print(f"\r\x1b[K[autophagy] {text}" if tty else f"[autophagy] {text}", end=end, file=sys.stderr, flush=True)

    def _say(self, line: str) -> None:
        if self.progress:
            # on a terminal, over the status line, which the next result redraws
            start = "\r\x1b[K" if sys.stderr.isatty() else ""
            print(f"{start}[autophagy] {line}", file=sys.stderr, flush=True)


# A terminal's status line is redrawn at most this often; a log gets one every EVERY_S seconds
# (and every 5 % of the generations): 30 s is 120 lines an hour, the most a log reader scrolls.
REDRAW_S = 0.25
EVERY_S = 30.0


def status_line(done: int, total: int, finished: int, failed: int, retrying: int, chains: int,
                elapsed_s: float, seconds_per_generation: float | None, budget: int | None = None) -> str:
    """`generations 120/400 (30%)  chains 3/10 finished, 1 failed, 2 retrying  elapsed 4m10s  ETA 9m43s`.

    The ETA: the generations left at the sweep's rate so far (None: not known yet). A search
    (`budget`: its max_chains) counts the chains known so far, says so, and adds the ETA were
    the whole budget to run: `ETA 9m43s (at most 21m10s)`."""
    scope = " so far" if budget is not None else ""
    eta = "ETA ?" if seconds_per_generation is None else f"ETA {duration(seconds_per_generation * (total - done))}"
    if budget is not None and seconds_per_generation is not None and budget > chains:
        per_chain = total / chains  # generations per chain
        eta += f" (at most {duration(seconds_per_generation * (budget * per_chain - done))})"
    return (f"generations {done}/{total}{scope} ({100 * done / total:.0f}%)  chains {finished}/{chains}{scope} finished, "
            f"{failed} failed, {retrying} retrying  elapsed {duration(elapsed_s)}  {eta}")


def duration(seconds: float) -> str:
    """45s, 3m05s, 2h03m, 4d07h: two units, the larger first."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _error(trial) -> str:
    """The last line of the trial's error (the exception), for the row and the log."""
    try:  # the local copy of error.txt; Tune syncs it to storage only later
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else "unknown error"
