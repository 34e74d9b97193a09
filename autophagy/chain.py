"""One self-consuming chain, generation after generation:

    build_training_set -> finetune -> sample -> evaluate -> sample strip (-> the caller checkpoints)

Backend-agnostic: the model lives in a `Backend`; this file owns the loop, the chain's real
images, the history of synthetic samples and the record of each generation (generation.py). No Ray in here: the
actor in `autophagy/actors/` wraps it, and tests drive it directly.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager

import numpy as np

from autophagy import checkpoint, mitigations, mixing, sample_strips, samples, seeding
from autophagy.backends.base import Backend
from autophagy.generation import GenerationRecord, Timings
from autophagy.grid import Cell
from autophagy.samples import Samples, SampleStore


class DataError(ValueError):
    """The real data cannot supply what the sweep asks of it."""


@contextmanager
def _timed(seconds: Timings, step: str, add: bool = False):
    start = time.perf_counter()
    yield
    setattr(seconds, step, (getattr(seconds, step) if add else 0.0) + time.perf_counter() - start)


class Chain:
    def __init__(self, cfg, cell: Cell, backend: Backend, store: SampleStore | None = None):
        """`cfg` is the cell's config, `grid.cell_config(sweep, cell)`, from which `backend` was built
        too: extra axes and what the mitigation changes in the config (ReDiFine) already applied.
        `store`: where each generation's samples are written once (DIR/samples/<chain_id>), and
        read back on restore; without one (a chain driven alone) checkpoints hold the samples."""
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
        self.store, self.digests = store, {}  # and, with a store, the sha256 of each one written there
        self.next_generation = 0
        self.diverged = False

    @property
    def finished(self) -> bool:
        return self.diverged or self.next_generation > self.cfg.generations

    def run_generation(self) -> GenerationRecord:
        """Run the next generation: its record holds the row, the sample strip and the timings."""
        g, seed, n = self.next_generation, self.cell.seed, self.cfg.images_per_generation
        record = GenerationRecord(self.cell, g, metrics=dict.fromkeys(self.backend.metric_names(self.cfg), math.nan))
        seconds = record.seconds
        with _timed(seconds, "build"):
            train, source = mixing.build_training_set(
                g, self.cell.ratio, n, self.real, self.history, self.policy, seeding.rng(seed, "data", g),
                mixing=self.cfg.mixing, features=self._selection_space(), select_rng=seeding.rng(seed, "select", g))
        with _timed(seconds, "finetune"):
            fit = self.backend.finetune(train, seeding.int_seed(seed, "train", g))
        record.n_real, record.n_synthetic = int((source == -1).sum()), int((source >= 0).sum())
        record.train_loss = float(fit["loss"])
        self.diverged = not math.isfinite(fit["loss"])
        record.status = "diverged" if self.diverged else "ok"
        if not self.diverged:
            with _timed(seconds, "sample"):
                samples = self.backend.sample(self.policy.samples_per_generation(n), seeding.int_seed(seed, "sample", g))
            with _timed(seconds, "evaluate"):
                # The first N: a selection's extra candidates feed the next training set, but the
                # model is scored on as many samples as every other chain's.
                shown = samples.take(np.arange(n)) if len(samples) > n else samples
                record.metrics = self._checked(self.backend.evaluate(shown, train, seeding.int_seed(seed, "eval", g)),
                                               record.metrics)
            with _timed(seconds, "checkpoint"):  # the sample write is this generation's share of it
                self._remember(g, samples)
            if self.backend.grid_images:  # the same noise and labels every generation (sample_strips.py)
                with _timed(seconds, "sample", add=True):  # counted as sampling: it is sampling
                    strip = self.backend.sample(self.backend.grid_images, seeding.int_seed(seed, "grid"))
                    record.strip = sample_strips.encode(strip.x)
        self.next_generation = g + 1
        return record

    def _checked(self, got: dict, listed: dict) -> dict[str, float]:
        """evaluate's metrics, as floats, in metric_names' order; a listed name it lacks or a name it
        does not list is the backend's bug, named here (a Parquet write would drop it silently)."""
        name = type(self.backend).__name__
        if missing := [m for m in listed if m not in got]:
            raise ValueError(f"{name}.evaluate did not return {', '.join(missing)}, which its metric_names lists")
        if extra := [m for m in got if m not in listed]:
            raise ValueError(f"{name}.evaluate returned {', '.join(extra)}, which its metric_names does not list "
                             "(the Parquet schema's columns)")
        return {m: float(got[m]) for m in listed}

    def _selection_space(self):
        """The selection's vectors: None for flat pixels (mixing's default), else the backend's features."""
        select = self.policy.select
        return self.backend.features if select is not None and select.space == "features" else None

    def _remember(self, g: int, generated: Samples) -> None:
        self.history[g] = generated
        if self.store is not None:
            self.digests[g] = self.store.write(g, generated)
        if self.policy.synthetic_from == "last":  # replace needs only the latest generation
            self.history = {g: generated}
            self.digests = {k: v for k, v in self.digests.items() if k == g}

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_files(self) -> dict[str, bytes]:
        arrays = {f"backend/{k}": v for k, v in self.backend.state().items()}
        meta = {"chain_id": self.cell.chain_id, "next_generation": self.next_generation, "diverged": self.diverged}
        gens = sorted(self.history)
        if self.store is None:
            for g in gens:
                arrays[f"history/{g}/x"], arrays[f"history/{g}/y"] = self.history[g].x, self.history[g].y
        else:  # references only: as runs of generations (accumulate's 0..g-1 is one) and one digest
            meta["samples"] = {"generations": _runs(gens), "sha256": samples.digest([self.digests[g] for g in gens])}
        return checkpoint.pack(arrays, meta)

    def restore(self, files: dict[str, bytes], where: str = "checkpoint") -> None:
        arrays, meta = checkpoint.unpack(files, where)
        if meta["chain_id"] != self.cell.chain_id:
            raise checkpoint.CheckpointError(f"{where}: belongs to chain {meta['chain_id']}, not {self.cell.chain_id}")
        self.backend.load_state({k[len("backend/"):]: v for k, v in arrays.items() if k.startswith("backend/")})
        if "samples" in meta:
            self._restore_samples(meta["samples"], where)
        else:
            gens = sorted({int(k.split("/")[1]) for k in arrays if k.startswith("history/")})
            self.history = {g: Samples(arrays[f"history/{g}/x"], arrays[f"history/{g}/y"]) for g in gens}
        self.next_generation, self.diverged = meta["next_generation"], meta["diverged"]

    def _restore_samples(self, refs: dict, where: str) -> None:
        if self.store is None:
            raise checkpoint.CheckpointError(f"{where}: its samples are in a sweep directory (DIR/samples); "
                                             "restore it with that SampleStore")
        gens = [g for start, end in refs["generations"] for g in range(start, end + 1)]
        read = {g: self.store.read(g) for g in gens}
        if samples.digest([read[g][1] for g in gens]) != refs["sha256"]:
            raise checkpoint.CheckpointError(f"{where}: the samples in {self.store.directory} are not those it was "
                                             "made with (a later attempt at those generations rewrote them)")
        self.history = {g: s for g, (s, _) in read.items()}
        self.digests = {g: d for g, (_, d) in read.items()}


def _runs(gens: list[int]) -> list[list[int]]:
    """Sorted generations as [first, last] runs: [0, 1, 2, 5] -> [[0, 2], [5, 5]]."""
    runs: list[list[int]] = []
    for g in gens:
        if runs and runs[-1][1] == g - 1:
            runs[-1][1] = g
        else:
            runs.append([g, g])
    return runs
