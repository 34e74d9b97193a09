"""One self-consuming chain, generation after generation:

    build_training_set -> finetune -> sample -> evaluate -> record (-> the caller checkpoints)

Backend-agnostic: the model lives in a `Backend`; this file owns the loop, the chain's real
images, the history of synthetic samples and the row of each generation. No Ray in here: the
actor in `autophagy/actors/` wraps it, and tests drive it directly.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import numpy as np

from autophagy import checkpoint, mitigations, mixing, seeding
from autophagy.backends.base import Backend
from autophagy.grid import Cell
from autophagy.samples import Samples

TIMINGS = ("seconds_build", "seconds_finetune", "seconds_sample", "seconds_evaluate", "seconds_checkpoint")


class DataError(ValueError):
    """The real data cannot supply what the sweep asks of it."""


@contextmanager
def _timed(timings: dict, key: str):
    start = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - start


class Chain:
    def __init__(self, cfg, cell: Cell, backend: Backend):
        """`cfg` is the cell's config, `grid.cell_config(sweep, cell)`, from which `backend` was built
        too: extra axes and what the mitigation changes in the config (ReDiFine) already applied."""
        self.policy = mitigations.parse(cell.mitigation, cfg.mitigation_params)
        if self.policy.configure(cfg) != cfg:
            raise ValueError(f"chain {cell.chain_id}: pass grid.cell_config(cfg, cell), not the sweep's config "
                             f"(mitigation {cell.mitigation!r} changes the finetune or sampling settings)")
        self.cfg, self.cell, self.backend = cfg, cell, backend
        pool, _ = backend.real_data()
        n = cfg.images_per_generation
        if n > len(pool):
            raise DataError(f"images_per_generation={n} but the real training pool holds only {len(pool)} images")
        if self.policy.real_from == "fresh":  # fresh_data: each generation draws from the whole pool
            self.real = pool
        else:  # the chain's own real images, fixed for its whole life (the "synthetic augmentation" loop)
            self.real = pool.take(np.sort(seeding.rng(cell.seed, "data").choice(len(pool), n, replace=False)))
        self.history: dict[int, Samples] = {}  # generation -> its samples, as far as the policy needs them
        self.next_generation = 0
        self.diverged = False

    @property
    def finished(self) -> bool:
        return self.diverged or self.next_generation > self.cfg.generations

    def run_generation(self) -> dict:
        g, seed, n = self.next_generation, self.cell.seed, self.cfg.images_per_generation
        timings = dict.fromkeys(TIMINGS, 0.0)
        with _timed(timings, "seconds_build"):
            train, source = mixing.build_training_set(
                g, self.cell.ratio, n, self.real, self.history, self.policy, seeding.rng(seed, "data", g),
                mixing=self.cfg.mixing, features=self._selection_space(), select_rng=seeding.rng(seed, "select", g))
        with _timed(timings, "seconds_finetune"):
            fit = self.backend.finetune(train, seeding.int_seed(seed, "train", g))
        metrics = dict.fromkeys(self.backend.metric_names(self.cfg), math.nan)
        self.diverged = not math.isfinite(fit["loss"])
        if not self.diverged:
            with _timed(timings, "seconds_sample"):
                samples = self.backend.sample(self.policy.samples_per_generation(n), seeding.int_seed(seed, "sample", g))
            with _timed(timings, "seconds_evaluate"):
                # The first N: a selection's extra candidates feed the next training set, but the
                # model is scored on as many samples as every other chain's.
                shown = samples.take(np.arange(n)) if len(samples) > n else samples
                metrics.update(self.backend.evaluate(shown, train, seeding.int_seed(seed, "eval", g)))
            self._remember(g, samples)
        self.next_generation = g + 1
        return {
            **self.cell.to_dict(),
            "generation": g,
            "status": "diverged" if self.diverged else "ok",
            "n_real": int((source == -1).sum()),
            "n_synthetic": int((source >= 0).sum()),
            "train_loss": float(fit["loss"]),
            "error": None,
            **{k: float(v) for k, v in metrics.items()},
            **timings,
        }

    def _selection_space(self):
        """The selection's vectors: None for flat pixels (mixing's default), else the backend's features."""
        select = self.policy.select
        return self.backend.features if select is not None and select.space == "features" else None

    def _remember(self, g: int, samples: Samples) -> None:
        self.history[g] = samples
        if self.policy.synthetic_from == "last":  # replace needs only the latest generation
            self.history = {g: samples}

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_files(self) -> dict[str, bytes]:
        arrays = {f"backend/{k}": v for k, v in self.backend.state().items()}
        for g, s in self.history.items():
            arrays[f"history/{g}/x"], arrays[f"history/{g}/y"] = s.x, s.y
        meta = {"chain_id": self.cell.chain_id, "next_generation": self.next_generation, "diverged": self.diverged}
        return checkpoint.pack(arrays, meta)

    def restore(self, files: dict[str, bytes], where: str = "checkpoint") -> None:
        arrays, meta = checkpoint.unpack(files, where)
        if meta["chain_id"] != self.cell.chain_id:
            raise checkpoint.CheckpointError(f"{where}: belongs to chain {meta['chain_id']}, not {self.cell.chain_id}")
        self.backend.load_state({k[len("backend/"):]: v for k, v in arrays.items() if k.startswith("backend/")})
        gens = sorted({int(k.split("/")[1]) for k in arrays if k.startswith("history/")})
        self.history = {g: Samples(arrays[f"history/{g}/x"], arrays[f"history/{g}/y"]) for g in gens}
        self.next_generation, self.diverged = meta["next_generation"], meta["diverged"]
