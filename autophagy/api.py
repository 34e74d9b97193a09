"""The public Python API: a run directory as an object, for notebooks and scripts.

    import autophagy
    run = autophagy.open("runs/smoke")      # finished, still running, stopped, or copied from elsewhere
    run.config                              # the resolved SweepConfig (DIR/config.yaml)
    run.rows                                # every row so far, one per (chain, generation): a DataFrame
    run.chains                              # one row per chain: axes, status, last generation, worker, retries
    run.time_to_collapse()                  # one row per chain: collapse time or censoring
    run.thresholds()                        # per series: the collapse threshold and its 95 % interval
    run.compare()                           # each series against the baseline (comparisons.csv)
    run.phase_diagram()                     # a matplotlib Figure; nothing is written

Everything is computed from DIR alone and nothing is written there; the rows are read on first need
and kept; `refresh()` rereads them for a sweep still running. The names docs/api.md lists are
stable; anything else is private.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from autophagy import status as _status
from autophagy.config import CollapseConfig, SweepConfig
from autophagy.run_dir import load_config as _load_config
from autophagy.run_dir import load_rows as _load_rows

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The analysis (statsmodels, scipy) and the figures (matplotlib) load on first use, inside the methods:
# `autophagy.open(DIR).chains` then imports pandas and pyarrow only (2,050 chains: BENCHMARKS.md).

__all__ = ["Run", "open"]

Criterion = CollapseConfig | str | None


def open(path: str | Path) -> Run:  # noqa: A001 (autophagy.open, as pandas.read_* and mlflow's names go)
    """Open a run directory (one holding config.yaml): finished, partial or copied. Reads its config
    now and its rows once, on first need (`chains` and `status` alone read only the columns they use).
    Raises FileNotFoundError when `path` is no sweep directory."""
    return Run(path)


class Run:
    """One sweep's directory, read-only. `criterion` arguments take a CollapseConfig or text
    (`"fid>=2x:persist=2"`, see the README); None is the sweep's own criterion."""

    def __init__(self, path: str | Path):
        self.path: Path = Path(path)
        self.config: SweepConfig = _load_config(self.path)
        self._full: pd.DataFrame | None = None  # every row, read on first need
        self._few: pd.DataFrame | None = None  # the columns chains and status read (status.COLUMNS)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}: {self.config.name}, {self._rows['chain_id'].nunique()} chains with rows)"

    @property
    def _rows(self) -> pd.DataFrame:
        if self._full is None:
            self._full = _load_rows(self.path, self.config)
        return self._full

    @property
    def _status_rows(self) -> pd.DataFrame:
        """The rows chains and status need: the full rows once read, else those columns alone (a
        sixth of the columns, half the time on 2,050 chains: BENCHMARKS.md)."""
        if self._full is not None:
            return self._full
        if self._few is None:
            self._few = _load_rows(self.path, self.config, _status.COLUMNS)
        return self._few

    @property
    def axes(self) -> list[str]:
        """The sweep's axes, as row columns: ratio, seed, mitigation, then extra axes by dotted key."""
        return list(self.config.grid)

    @property
    def rows(self) -> pd.DataFrame:
        """Every row so far (DIR/metrics), sorted by chain and generation; columns as rows.py documents."""
        return self._rows

    @property
    def chains(self) -> pd.DataFrame:
        """One row per chain planned: chain_id, axes, status ('done', 'running', 'failed', 'not started'),
        last_generation, worker, retries, error."""
        return _status.chain_table(self.path, self.config, self._status_rows)

    def refresh(self) -> Run:
        """Reread the rows (a sweep still running); returns self."""
        self.config, self._full, self._few = _load_config(self.path), None, None
        return self

    def status(self) -> dict:
        """What `autophagy status DIR --json` prints: state ('running', 'stopped', 'finished'), counts, ETA."""
        return _status.status(self.path, self.config, self._status_rows)

    def criterion(self, criterion: Criterion = None) -> CollapseConfig:
        """The collapse criterion that applies: the one given (checked against the rows), else the sweep's."""
        from autophagy.analysis.report import resolve_criterion

        return resolve_criterion(criterion, self.config, self._rows)

    def time_to_collapse(self, criterion: Criterion = None) -> pd.DataFrame:
        """One row per started chain: axes, time_to_collapse, censored, collapsed, last_generation, ..."""
        from autophagy.analysis.time_to_collapse import time_to_collapse

        return time_to_collapse(self._rows, self.criterion(criterion), self.config.generations, self.axes)

    def thresholds(self, horizon: int | None = None, criterion: Criterion = None) -> pd.DataFrame:
        """Per series: the ratio where collapse within `horizon` generations (default G) becomes likely,
        the model-based estimate and interval, and the exact interval as cross-check (thresholds.csv)."""
        from autophagy.analysis.threshold import collapse_thresholds

        horizon = self.config.generations if horizon is None else horizon
        return collapse_thresholds(self.time_to_collapse(criterion), self.axes, horizon=horizon,
                                    margins=self._margins(criterion))

    def phase_boundary(self, criterion: Criterion = None) -> pd.DataFrame:
        """The threshold at every horizon 1..G (phase_boundary.csv)."""
        from autophagy.analysis.phase_boundary import phase_boundary

        return phase_boundary(self.time_to_collapse(criterion), self.axes, self.config.generations,
                               margins=self._margins(criterion))

    def _margins(self, criterion: Criterion = None) -> pd.DataFrame | None:
        """Each chain's margin by every horizon (analysis/margin.py), which the model thresholds use."""
        from autophagy.analysis.margin import chain_margins

        return chain_margins(self._rows, self.criterion(criterion), self.config.generations, self.axes) \
            if len(self._rows) else None

    def summary(self, criterion: Criterion = None) -> pd.DataFrame:
        """One row per cell: median time to collapse with its distribution-free interval (summary.csv)."""
        from autophagy.analysis.report import read_search_log
        from autophagy.analysis.summary import summarize

        grid = self.config.grid if read_search_log(self.path) is None else None
        return summarize(self.time_to_collapse(criterion), self.axes, grid=grid)

    def compare(self, baseline: str | None = None, pairs: str | None = None, criterion: Criterion = None) -> pd.DataFrame:
        """Each series against `baseline` (default: the sweep's analysis.baseline, "none"), paired by seed;
        pairs="all" for every pair (comparisons.csv)."""
        from autophagy.analysis.report import comparisons_of

        crit = self.criterion(criterion)
        return comparisons_of(self.config, self._rows, self.time_to_collapse(crit), crit,
                                      baseline=baseline, pairs=pairs)

    def phase_diagram(self, criterion: Criterion = None, seed: int = 0) -> Figure:
        """Time to collapse against ratio per series, with the phase boundary; a Figure, not saved."""
        from autophagy.analysis.phase_boundary import phase_boundary
        from autophagy.analysis.plots.phase_diagram import plot_phase_diagram
        from autophagy.analysis.summary import summarize

        crit = self.criterion(criterion)
        ttc = self._started(crit)
        summary = summarize(ttc, self.axes, interval=False)
        boundary = phase_boundary(ttc, self.axes, self.config.generations)
        return plot_phase_diagram(ttc, summary, self.axes, self.config.generations, crit, None, seed=seed,
                                   boundary=boundary)

    def survival_plot(self, criterion: Criterion = None) -> Figure:
        """Kaplan–Meier survival per cell; a Figure, not saved."""
        from autophagy.analysis.plots.survival_curves import plot_survival

        crit = self.criterion(criterion)
        return plot_survival(self._started(crit), self.axes, self.config.generations, crit, None)

    def metric_curves(self, metric: str | None = None, criterion: Criterion = None) -> Figure:
        """A metric (default: the criterion's) against generation per series; a Figure, not saved."""
        crit = self.criterion(criterion)
        metric = metric or crit.metric
        if metric not in self._rows.columns:
            raise ValueError(f"{self.path}: unknown metric column {metric!r}")
        from autophagy.analysis.plots.metric_curves import metric_curves_figure

        return metric_curves_figure(self._rows, self.axes, metric, crit)

    def _started(self, crit: CollapseConfig) -> pd.DataFrame:
        ttc = self.time_to_collapse(crit)
        if ttc.empty:
            raise ValueError(f"{self.path}: no chain has finished generation 0 yet: nothing to draw")
        return ttc
