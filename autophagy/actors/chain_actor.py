"""`ChainActor`: a Ray actor holding one chain's model on its GPU share (or CPU share).

The Tune trial that owns it (orchestrator/trial.py) asks for one generation at a time; the actor
answers, in one round trip, with the generation's record (generation.py: row, sample strip,
timings), whether the chain is done and, when a checkpoint is due (`checkpoint_interval_s` since the last one, or the chain's end), the
checkpoint files to persist. Keeping the model in a
long-lived actor means the weights, the base pipeline and the imports (about 4 s of torch and
diffusers) are loaded once per chain, not once per generation.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import ray

from autophagy import faults
from autophagy.generation import GenerationRecord
from autophagy.samples import SampleStore


@ray.remote
class ChainActor:
    def __init__(self):
        """Light on purpose: the chain is loaded by `reset`, a method call, so that an error in it
        (a config or data error) reaches the trial as itself, not as a dead actor, and the trial
        can tell an error that a retry would repeat from a lost process (trial.PERMANENT)."""
        context = ray.get_runtime_context()
        gpus = ",".join(str(i) for i in ray.get_gpu_ids())
        share = context.get_assigned_resources().get("GPU", 0)
        # Where this chain runs, for its rows: the node's IP and Ray node id (two raylets on one host
        # share the IP), and the GPU(s) with this chain's share of them.
        self.worker = (f"{ray.util.get_node_ip_address()} node {context.get_node_id()} "
                       + (f"GPU {gpus} x{share:g}" if gpus else "CPU"))
        self.chain = None

    def reset(self, cfg, cell, assets: dict[str, bytes], checkpoint_files: dict[str, bytes] | None = None,
              samples_dir: str | None = None) -> tuple[int, bool]:
        """Take on another chain (a new cell, or the same one from a checkpoint). The trial reuses
        its actor for the next chain on the same placement group: the process, its imports and its
        CUDA context outlive one chain, which saves seconds per chain (benchmarks/sweep_efficiency.py).
        `samples_dir`: DIR/samples, where the chain's samples are written once (samples.SampleStore).
        Returns `position()`."""
        from autophagy.backends import backend_class
        from autophagy.chain import Chain

        if self.chain is not None:
            self.chain.backend.close()
        self.chain = None  # let the last chain's model go before the next one loads
        cls = backend_class(cfg.backend)
        device = "cpu"
        if cls.needs_torch:
            import torch

            # One intra-op thread per CPU reserved for this chain: packed chains must not fight over cores.
            torch.set_num_threads(max(1, int(cfg.resources.cpus)))
            device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
        store = SampleStore(Path(samples_dir) / cell.chain_id) if samples_dir else None
        self.chain = Chain(cfg, cell, cls(cfg, assets, device), store)
        if checkpoint_files:
            self.chain.restore(checkpoint_files, where=f"checkpoint of {cell.chain_id}")
        self.checkpoint_due = time.monotonic() + cfg.checkpoint_interval_s
        return self.position()

    def position(self) -> tuple[int, bool]:
        """(the next generation to run, whether the chain is finished)."""
        return self.chain.next_generation, self.chain.finished

    def step(self) -> tuple[GenerationRecord, dict[str, bytes] | None, bool]:
        """Run the next generation; return its record (row, sample strip, timings: generation.py)
        with what only the actor knows added (the worker, the checkpoint's seconds, when it
        finished), the checkpoint that follows it (None when none is due yet) and whether the chain
        is now finished."""
        chain_id, generation = self.chain.cell.chain_id, self.chain.next_generation
        faults.inject(chain_id, generation)
        with faults.diverging(self.chain.backend, chain_id, generation):
            record = self.chain.run_generation()
        record.worker = self.worker
        files = None
        if self.chain.finished or time.monotonic() >= self.checkpoint_due:
            start = time.perf_counter()
            files = self.chain.checkpoint_files()
            record.seconds.checkpoint += time.perf_counter() - start  # after the samples' write
            self.checkpoint_due = time.monotonic() + self.chain.cfg.checkpoint_interval_s
        record.finished_at = datetime.now(timezone.utc)
        return record, files, self.chain.finished
