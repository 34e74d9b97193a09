"""`ChainActor`: a Ray actor holding one chain's model on its GPU share (or CPU share).

The Tune trial that owns it (orchestrator/trial.py) asks for one generation at a time; the actor
answers with the generation's row and the checkpoint files to persist. Keeping the model in a
long-lived actor means the weights, the base pipeline and the imports (about 4 s of torch and
diffusers) are loaded once per chain, not once per generation.
"""

from __future__ import annotations

import time

import ray

from autophagy import faults


@ray.remote
class ChainActor:
    def __init__(self, cfg, cell, assets: dict[str, bytes], checkpoint_files: dict[str, bytes] | None = None):
        from autophagy.backends import backend_class
        from autophagy.chain import Chain

        cls = backend_class(cfg.backend)
        device = "cpu"
        if cls.needs_torch:
            import torch

            # One intra-op thread per CPU reserved for this chain: packed chains must not fight over cores.
            torch.set_num_threads(max(1, int(cfg.resources.cpus)))
            device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
        backend = cls(cfg, assets, device)
        self.chain = Chain(cfg, cell, backend)
        if checkpoint_files:
            self.chain.restore(checkpoint_files, where=f"checkpoint of {cell.chain_id}")

    def next_generation(self) -> int:
        return self.chain.next_generation

    def finished(self) -> bool:
        return self.chain.finished

    def step(self) -> tuple[dict, dict[str, bytes]]:
        """Run the next generation; return its row and the checkpoint that follows it."""
        faults.inject(self.chain.cell.chain_id, self.chain.next_generation)
        row = self.chain.run_generation()
        start = time.perf_counter()
        files = self.chain.checkpoint_files()
        row["seconds_checkpoint"] = time.perf_counter() - start
        return row, files
