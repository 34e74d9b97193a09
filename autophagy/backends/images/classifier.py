"""`metrics.features: classifier`: an MLP on pixels trained on the real pool's class labels.

Its last hidden layer is the feature space; its prediction gives the class agreement of samples
with their conditioning label. Cheap and offline, but it knows only the classes, not image
quality in general: use inception or dinov2 for data sets where those weights are at hand.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from autophagy.samples import Samples


class Classifier(nn.Module):
    def __init__(self, pixels: int, hidden: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(pixels, 256), nn.ReLU(), nn.Linear(256, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    @staticmethod
    def from_state_dict(tensors: dict[str, torch.Tensor]) -> "Classifier":
        pixels, hidden, classes = tensors["body.0.weight"].shape[1], tensors["body.2.weight"].shape[0], tensors["head.weight"].shape[0]
        with torch.random.fork_rng(devices=[]):  # the throwaway initial weights must not consume global RNG
            model = Classifier(pixels, hidden, classes)
        model.load_state_dict(tensors)
        return model.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (N, C, H, W): (features, logits). Channels beyond the data's are dropped:
        torch-fidelity hands a greyscale extractor (digits) its images repeated to RGB."""
        channels = self.body[0].in_features // (x.shape[2] * x.shape[3])
        features = self.body(x[:, :channels].reshape(len(x), -1).float() / 255)
        return features, self.head(features)


def train(data: Samples, classes: int, hidden: int, steps: int, seed: int, device: str = "cpu",
          batch_size: int = 128, lr: float = 1e-3) -> Classifier:
    """AdamW on random minibatches; weights and batches drawn from `seed` only."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(int(np.prod(data.x.shape[1:])), hidden, classes).to(device)
    x, y = torch.from_numpy(data.x).to(device), torch.from_numpy(data.y).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch_size,), generator=g).to(device)
        loss = nn.functional.cross_entropy(model(x[idx])[1], y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def extract(model: Classifier, x: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (N, hidden), logits float32 (N, classes))."""
    device = next(model.parameters()).device
    parts = [model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])).to(device)) for i in range(0, len(x), batch)]
    return torch.cat([f for f, _ in parts]).cpu().numpy(), torch.cat([z for _, z in parts]).cpu().numpy()
