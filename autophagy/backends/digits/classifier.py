"""The evaluation network: an MLP digit classifier trained on the real training pool.

Its last hidden layer is the feature space of FID, KID and precision/recall (Inception would
need a download and 299x299 inputs; an 8x8 digit is 64 numbers), and its prediction gives the
class agreement of samples with their conditioning label.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autophagy.backends.digits.config import CLASSES
from autophagy.samples import Samples


class Classifier(nn.Module):
    def __init__(self, pixels: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(pixels, 256), nn.ReLU(), nn.Linear(256, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, CLASSES)

    @staticmethod
    def from_state_dict(tensors: dict[str, torch.Tensor]) -> "Classifier":
        hidden, pixels = tensors["body.2.weight"].shape[0], tensors["body.0.weight"].shape[1]
        with torch.random.fork_rng(devices=[]):  # the throwaway initial weights must not consume global RNG
            model = Classifier(pixels, hidden)
        model.load_state_dict(tensors)
        return model.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (N, C, H, W), C = 1 or 3 (torch-fidelity's RGB): (features, logits)."""
        pixels = x[:, 0].reshape(len(x), -1).float() / 255
        features = self.body(pixels)
        return features, self.head(features)


def train(data: Samples, hidden: int, steps: int, seed: int, device: str = "cpu",
          batch_size: int = 128, lr: float = 1e-3) -> Classifier:
    """AdamW on random minibatches; weights and batches drawn from `seed` only."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(int(np.prod(data.x.shape[2:])), hidden).to(device)
    x = torch.from_numpy(data.x).to(device)
    y = torch.from_numpy(data.y).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=g).to(device)
        _, logits = model(x[idx])
        loss = nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()
