"""Evaluation networks of the stable-diffusion backend, all from local files: torch-fidelity's
Inception-v3 (FID, KID, precision, recall) and a transformers CLIP model (CLIP score); plus the
pixel-space measures on images resized to `model.pixel_size`.

The metric functions themselves live in autophagy/metrics/ (pure, shared with digits); this file
turns images into what they take.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch_fidelity.utils import create_feature_extractor

INCEPTION = "inception-v3-compat"  # torch-fidelity's FID Inception, the one FID numbers are quoted for
INCEPTION_FEATURE = "2048"  # the pool3 layer FID is defined on
BATCH = 32


def inception(weights_path: str, device: str):
    return create_feature_extractor(INCEPTION, [INCEPTION_FEATURE], cuda=device.startswith("cuda"),
                                    feature_extractor_weights_path=weights_path, verbose=False)


@torch.no_grad()
def inception_features(model, x: np.ndarray) -> np.ndarray:
    """(N, 2048) float32 pool3 features of uint8 images (N, 3, H, W); the extractor resizes to 299."""
    device = next(model.parameters()).device
    out = [model(torch.from_numpy(x[i:i + BATCH]).to(device))[0].float().cpu() for i in range(0, len(x), BATCH)]
    return torch.cat(out).numpy()


class ClipScorer:
    """CLIP score as torchmetrics defines it: 100 * max(cos(image, text), 0), averaged over images."""

    def __init__(self, path: str, device: str):
        from transformers import CLIPModel, CLIPProcessor

        self.model = CLIPModel.from_pretrained(path, local_files_only=True).to(device).eval()
        self.processor = CLIPProcessor.from_pretrained(path, local_files_only=True)
        self.device = device

    @torch.no_grad()
    def __call__(self, x: np.ndarray, prompts: list[str]) -> float:
        scores = []
        for i in range(0, len(x), BATCH):
            inputs = self.processor(text=prompts[i:i + BATCH], images=list(x[i:i + BATCH].transpose(0, 2, 3, 1)),
                                    return_tensors="pt", padding=True, truncation=True)
            out = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
            scores.append(100 * (out.image_embeds * out.text_embeds).sum(-1).clamp(min=0).cpu())
        return float(torch.cat(scores).mean())


def pixels(x: np.ndarray, size: int | None) -> np.ndarray:
    """(N, 3*size*size) float32 in [0, 1]: images area-resized to `size` (None: as they are)."""
    t = torch.from_numpy(x).float() / 255
    if size is not None and size != x.shape[-1]:
        t = F.interpolate(t, size=(size, size), mode="area")
    return t.reshape(len(x), -1).numpy()
