"""Feature spaces of image backends (`metrics.features`), from local files only, never a hub:

    inception  torch-fidelity's Inception-v3 (the FID network), pool3 (2048-d), from
               metrics.inception_weights (weights-inception-2015-12-05-6726825d.pth)
    dinov2     transformers' Dinov2Model from the directory metrics.dinov2_path (save_pretrained),
               its CLS token after the final layer norm (384-d for DINOv2-small), as Shi et al.
    classifier the backend's own classifier trained on the real pool (backends/images/classifier.py)

Each extractor maps uint8 images (N, C, H, W), C = 1 or 3, to float32 (N, D). `check` only looks
at paths (no torch): `autophagy validate` runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from autophagy.config import ConfigError

INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")
# The DINOv2 image processor's crop: 224 px, ImageNet mean and std (what DINOv2-small was trained on).
DINO_SIZE = 224
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
BATCH = 64

Extractor = Callable[[np.ndarray], np.ndarray]


def check(m) -> None:
    """Refuse missing weights by the field that names them (m: the sweep's MetricsConfig)."""
    if m.features == "inception" and not Path(m.inception_weights).is_file():
        raise ConfigError(f"metrics.inception_weights={m.inception_weights!r}: no such file. Download "
                          f"{INCEPTION_URL} on a machine with network and copy it there")
    if m.features == "dinov2" and not (Path(m.dinov2_path) / "config.json").is_file():
        raise ConfigError(f"metrics.dinov2_path={m.dinov2_path!r}: no Dinov2Model directory (config.json). "
                          "`huggingface-cli download facebook/dinov2-small --local-dir DIR` on a machine with "
                          "network, then copy DIR there")


def rgb(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 3, H, W): greyscale repeated; other channel counts have no RGB network input."""
    if x.shape[1] == 3:
        return x
    if x.shape[1] == 1:
        return np.repeat(x, 3, axis=1)
    raise ValueError(f"metrics.features: Inception and DINOv2 take 1- or 3-channel images, got {x.shape[1]}")


def inception(weights_path: str, device: str) -> Extractor:
    import torch
    from torch_fidelity.utils import create_feature_extractor

    net = create_feature_extractor("inception-v3-compat", ["2048"], cuda=device.startswith("cuda"),
                                   feature_extractor_weights_path=weights_path, verbose=False)

    @torch.no_grad()
    def extract(x: np.ndarray) -> np.ndarray:
        x = rgb(x)  # the extractor resizes to 299 itself, as torch-fidelity does for FID
        out = [net(torch.from_numpy(np.ascontiguousarray(x[i:i + BATCH])).to(device))[0].float().cpu()
               for i in range(0, len(x), BATCH)]
        return torch.cat(out).numpy()

    return extract


def dinov2(path: str, device: str) -> Extractor:
    import torch
    import torch.nn.functional as F
    from transformers import Dinov2Model

    net = Dinov2Model.from_pretrained(path, local_files_only=True).to(device).eval()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    @torch.no_grad()
    def extract(x: np.ndarray) -> np.ndarray:
        x = rgb(x)
        out = []
        for i in range(0, len(x), BATCH):
            t = torch.from_numpy(np.ascontiguousarray(x[i:i + BATCH])).to(device).float() / 255
            t = F.interpolate(t, size=(DINO_SIZE, DINO_SIZE), mode="bicubic", align_corners=False).clamp(0, 1)
            out.append(net(pixel_values=(t - mean) / std).pooler_output.float().cpu())  # CLS, layer-normed
        return torch.cat(out).numpy()

    return extract
