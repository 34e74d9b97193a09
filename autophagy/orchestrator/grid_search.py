"""The grid as a Ray Tune search algorithm: every trial gets its whole cell in its config.

`search.method: grid` hands Tune the listed chains one by one in grid order, each as
{"chain": chain_id, "cell": cell dict}; `search.method: threshold` (search.py) is this class
with rounds planned on top. So a trial always finds its cell in its own config, one way.

Why a Searcher and not `tune.grid_search`: Tune deep-copies a grid's search space once per trial and
keeps every trial's config in its experiment state, so a grid of whole cells costs time and state
quadratic in the number of chains (a grid of chain ids alone needed the cells shipped beside it).
Here each trial's config is its one cell: linear. The queue goes into Tune's experiment checkpoint
(`save`/`restore`), so `--resume` after a dead driver hands out what was not handed out yet; the
chains already handed out come back from Tune's experiment state with their configs.
"""

from __future__ import annotations

import json
from pathlib import Path

from ray.tune.search import Searcher

from autophagy import grid


class GridSearch(Searcher):
    def __init__(self, cells: list[grid.Cell]):
        super().__init__()
        self.chains: dict[str, dict] = {}  # chain id -> cell dict, every chain planned
        self.queue: list[str] = []  # planned, not yet handed to Tune
        self.trials: dict[str, str] = {}  # Tune trial id -> chain id
        self.finished: set[str] = set()
        for c in cells:
            self._queue(c)

    def suggest(self, trial_id: str):
        # looked at before planning: a chain that ends between the plan and a later look would
        # otherwise end the search without the round it calls for
        settled = self._settled()
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
        self._set_state(json.loads(Path(checkpoint_path).read_text()))

    # ------------------------------------------------------------------ what a search overrides

    def _settled(self) -> bool:
        """Whether nothing more can be planned: a grid plans everything up front."""
        return True

    def _plan(self) -> None:
        """Queue the next chains, if any (a grid has none beyond its cells)."""

    def _queue(self, cell: grid.Cell) -> None:
        self.chains[cell.chain_id] = cell.to_dict()
        self.queue.append(cell.chain_id)

    def _state(self) -> dict:
        return {"chains": self.chains, "queue": self.queue, "trials": self.trials, "finished": sorted(self.finished)}

    def _set_state(self, state: dict) -> None:
        self.chains, self.queue = state["chains"], state["queue"]
        self.trials, self.finished = state["trials"], set(state["finished"])
