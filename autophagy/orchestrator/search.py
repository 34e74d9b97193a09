"""`search.method: threshold`: a Ray Tune search algorithm that refines each series' ratio axis.

Round 0 is the listed grid (plus ratio 0 when `collapse.reference: control` needs it). A series
(one value of every axis but ratio and seed) whose chains have all finished gets its next round
at once, without waiting for the other series: its threshold and 95 % interval are computed
from its rows (analysis/threshold.py), and unless the interval is narrower than
`search.target_width`, up to `search.per_round` new ratios inside it run, each with every
`grid.seed`, or, once two ratios already run lie inside the margin model's interval (only the seed
spread is left to narrow), new seeds beyond the grid's at two ratios already run around the
model's estimate (analysis/refine.py). A series stops when its interval is narrow enough, when nothing it could buy
is left inside it, or when its share of `search.max_chains` is spent: the chains
beyond the listed grid are split evenly over the series, so which series refines how far does
not depend on which chains happened to finish first.

`search.target: compare` buys the comparisons instead (analysis/compare.py, each series against
`analysis.baseline`): once every chain has finished, unless every comparison is decisive, one whole
new seeds, max(seed) + 1, ..., run for every series at once (pairs stay paired by seed) at the
`search.per_round` ratios already run where the series differ most from the baseline in time to
collapse and in the criterion's metric, as many seeds in one round as the open comparisons need
before a sign-flip test could decide them (analysis/refine.compare_round), within
`search.max_chains` over all series.
The threshold target is driven by the model-based interval (analysis/threshold.py's model_low,
model_high: the margin model, from every chain's margin by G).

Tune still schedules, packs, retries and resumes every chain: this class only says which chain
comes next (`suggest`). Its state goes into Tune's experiment checkpoint (`save`/`restore`), so
`--resume` after a dead driver continues the search where it stood, and a chain counts as
finished when its trial completed or its rows on disk end it (all G+1 generations, a divergence,
or a failed row), so no finished chain runs again. DIR/search.json holds every chain and round,
with why each round added what it added; the report reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
from ray.tune.search import Searcher

from autophagy import grid, rows
from autophagy.analysis.axes import label, series_axes
from autophagy.analysis.compare import compare
from autophagy.analysis.margin import chain_margins
from autophagy.analysis.refine import compare_round, decide, ratio_differences
from autophagy.analysis.threshold import collapse_thresholds
from autophagy.analysis.time_to_collapse import time_to_collapse


def round_zero(cfg) -> list[grid.Cell]:
    """The listed grid, plus the ratio-0 control chains a control reference needs (a grid sweep
    must list ratio 0 itself under it: config refuses one that does not, so there this is the grid)."""
    cells = grid.cells(cfg)
    if cfg.collapse.reference == "control" and 0.0 not in cfg.grid["ratio"]:
        cells += grid.cells(cfg, ratios=[0.0])
    return cells


class ThresholdSearch(Searcher):
    def __init__(self, cfg, out_dir):
        super().__init__()
        self.cfg, self.out = cfg, str(out_dir)
        self.axes = list(cfg.grid)
        self.chains: dict[str, dict] = {}  # chain id -> cell dict, every chain of every round
        self.series_of: dict[str, str] = {}  # chain id -> series label
        self.queue: list[str] = []  # chosen, not yet handed to Tune
        self.trials: dict[str, str] = {}  # Tune trial id -> chain id
        self.finished: set[str] = set()
        self.done: dict[str, str] = {}  # series label -> why it stopped
        self.rounds: list[dict] = []
        cells = round_zero(cfg)
        series = sorted({self._series(c) for c in cells})
        extra = (cfg.search.max_chains - len(cells)) // len(series)
        self.budget = {s: sum(self._series(c) == s for c in cells) + extra for s in series}
        for s in series:
            added = [c for c in cells if self._series(c) == s]
            self._add(s, 0, added, "the listed grid" + (" (with the ratio-0 control chains)"
                                                        if cfg.collapse.reference == "control" else ""))

    # ------------------------------------------------------------------ Tune's side

    def suggest(self, trial_id: str):
        # looked at before planning: a chain that ends between the plan and a later look would
        # otherwise end the search without the round it calls for
        settled = all(self._finished(c) for c in self.chains)
        if not self.queue:
            self._plan()
        if self.queue:
            chain = self.queue.pop(0)
            self.trials[trial_id] = chain
            return {"chain": chain, "cell": self.chains[chain]}
        if settled:
            return Searcher.FINISHED
        return None  # chains still running: ask again later

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        if trial_id in self.trials:
            self.finished.add(self.trials[trial_id])

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(self._state()))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.chains, self.series_of, self.queue = state["chains"], state["series_of"], state["queue"]
        self.trials, self.finished = state["trials"], set(state["finished"])
        self.done, self.rounds, self.budget = state["done"], state["rounds"], state["budget"]

    # ------------------------------------------------------------------ the search

    def _series(self, cell: grid.Cell) -> str:
        values = {k: v for k, v in cell.values().items() if k in series_axes(self.axes)}
        return label(values)

    def _add(self, series: str, round_: int, cells: list[grid.Cell], why: str, seeds=()) -> None:
        """Queue a round's chains; `seeds`: the new seeds it adds (none: new ratios with the grid's)."""
        for c in cells:
            self.chains[c.chain_id] = c.to_dict()
            self.series_of[c.chain_id] = series
            self.queue.append(c.chain_id)
        self.rounds.append({"series": series, "round": round_, "ratios": sorted({c.ratio for c in cells}),
                            "seeds": [int(x) for x in seeds], "chains": len(cells), "why": why})
        self._write_log()

    def _finished(self, chain: str) -> bool:
        if chain in self.finished:
            return True
        if chain in self.queue:
            return False
        found = rows.read_chain(Path(self.out) / "metrics", chain)
        # a chain that failed for good is finished for the search too: its rows are all there will be
        ended = rows.ended(found, self.cfg.generations) or any(r["status"] == "failed" for r in found)
        if ended:
            self.finished.add(chain)
        return bool(ended)

    def _plan(self) -> None:
        """Plan the next round of every series that is not done and has no chain outstanding
        (target compare: of every series at once, once no chain is outstanding)."""
        if self.cfg.search.target == "compare":
            if len(self.done) < len(self.budget) and all(self._finished(c) for c in self.chains):
                self._plan_compare()
            return
        for series in sorted(self.budget):
            mine = [c for c, s in self.series_of.items() if s == series]
            if series in self.done or not all(self._finished(c) for c in mine):
                continue
            self._plan_series(series, mine)

    def _plan_series(self, series: str, mine: list[str]) -> None:
        round_ = 1 + max(r["round"] for r in self.rounds if r["series"] == series)
        try:
            t = self._threshold(mine)
        except ValueError as err:  # e.g. a relative criterion refused: the report says it too
            self.done[series] = f"stopped: {err}"
            return
        ran = sorted({self.chains[c]["ratio"] for c in mine})
        s = self.cfg.search
        plan = decide(t, ran, self.cfg.images_per_generation, s.target_width, s.per_round,
                      self.budget[series] - len(mine), self.cfg.grid["seed"], [self.chains[c]["seed"] for c in mine])
        if plan.ratios:
            example = grid.Cell.from_dict(self.chains[mine[0]])
            self._add(series, round_, [grid.make_cell({**example.values(), "ratio": r, "seed": seed})
                                       for r, seed in plan.cells(self.cfg.grid["seed"])], plan.why, plan.seeds)
            return
        self.done[series] = plan.why
        self.rounds.append({"series": series, "round": round_, "ratios": [], "chains": 0, "why": self.done[series]})
        self._write_log()

    def _plan_compare(self) -> None:
        round_ = 1 + max(r["round"] for r in self.rounds)
        table, ttc = self._rows(list(self.chains))
        try:
            comparisons = compare(table, ttc, self.axes, self.cfg.collapse, self.cfg.generations,
                                  baseline=self.cfg.analysis.baseline)
        except ValueError as err:
            seeds, ratios, why = [], [], f"stopped: {err}"
        else:
            s, G = self.cfg.search, self.cfg.generations
            must = (0.0,) if self.cfg.collapse.reference == "control" else ()
            seeds, ratios, why = compare_round(
                comparisons, ratio_differences(ttc, self.axes, self.cfg.analysis.baseline, G, table,
                                               self.cfg.collapse.metric),
                [c["seed"] for c in self.chains.values()], s.per_round, s.max_chains - len(self.chains),
                len(self.budget), must)
        if not seeds:
            for series in self.budget:
                self.done[series] = why
            self.rounds.append({"series": "all", "round": round_, "ratios": [], "chains": 0, "why": why})
            self._write_log()
            return
        for series in sorted(self.budget):
            example = grid.Cell.from_dict(next(self.chains[c] for c, v in self.series_of.items() if v == series))
            self._add(series, round_, [grid.make_cell({**example.values(), "ratio": r, "seed": seed})
                                       for seed in seeds for r in ratios], why, seeds)

    def _rows(self, chains: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        found = [r for c in chains for r in rows.read_chain(Path(self.out) / "metrics", c)]
        table = pd.DataFrame(found) if found else pd.DataFrame(columns=["chain_id", "generation"])
        return table, time_to_collapse(table, self.cfg.collapse, self.cfg.generations, self.axes)

    def _threshold(self, chains: list[str]) -> dict:
        table, ttc = self._rows(chains)
        margins = chain_margins(table, self.cfg.collapse, self.cfg.generations, self.axes) if len(ttc) else None
        return collapse_thresholds(ttc, self.axes, horizon=self.cfg.generations,
                                   margins=margins).iloc[0].to_dict() if len(ttc) \
            else {"ci_low": float("nan"), "ci_high": float("nan"), "threshold": float("nan"),
                  "text": "no chain finished a generation"}

    def _state(self) -> dict:
        return {"chains": self.chains, "series_of": self.series_of, "queue": self.queue, "trials": self.trials,
                "finished": sorted(self.finished), "done": self.done, "rounds": self.rounds, "budget": self.budget}

    def _write_log(self) -> None:
        path = Path(self.out) / "search.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".search.json.tmp")
        tmp.write_text(json.dumps({"chains": self.chains, "rounds": self.rounds, "done": self.done}, indent=1))
        os.replace(tmp, path)

