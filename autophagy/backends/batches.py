"""Minibatch indices for the backends' training loops, from the chain's torch.Generator."""

from __future__ import annotations

import torch


def batches(n: int, batch_size: int, count: int, generator: torch.Generator):
    """`count` index batches from successive random permutations: every image is seen once per epoch."""
    order = torch.empty(0, dtype=torch.long)
    for _ in range(count):
        while len(order) < batch_size:
            order = torch.cat([order, torch.randperm(n, generator=generator)])
        yield order[:batch_size]
        order = order[batch_size:]
