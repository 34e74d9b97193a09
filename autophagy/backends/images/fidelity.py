"""FID, KID and precision/recall in the classifier's feature space, through torch-fidelity.

The classifier is registered with torch-fidelity as a feature extractor, so
`torch_fidelity.calculate_metrics(..., feature_extractor=NAME, feature_extractor_weights_path=...)`
works offline on Datasets of uint8 3xHxW images. The backend builds the same extractor but skips
`calculate_metrics`' input plumbing: it extracts features itself (the held-out set's once per
sweep, in `DigitsBackend.prepare`, shared by every chain as an asset) and hands them to
torch-fidelity's own metric functions (`autophagy.metrics.fidelity`), which is what
`calculate_metrics` does after extraction.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch_fidelity
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import create_feature_extractor

from autophagy.backends.images.classifier import Classifier
from autophagy.metrics import fidelity as fidelity_metrics

NAME = "autophagy-digits"
FEATURES, LOGITS = "features", "logits"


class DigitsFeatureExtractor(FeatureExtractorBase):
    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"feature extractor {NAME!r} has no default weights to download: pass "
                             "feature_extractor_weights_path (see autophagy.backends.images.fidelity.weights_file)")
        self.classifier = Classifier.from_state_dict(safetensors.torch.load_file(feature_extractor_weights_path))

    @staticmethod
    def get_provided_features_list():
        return FEATURES, LOGITS

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return FEATURES

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

    def forward(self, x):
        features, logits = self.classifier(x)
        out = {FEATURES: features, LOGITS: logits}
        return tuple(out[name] for name in self.features_list)


def register() -> None:
    """Idempotent: torch-fidelity refuses a second registration of a name in one process."""
    if NAME not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(NAME, DigitsFeatureExtractor)


def weights_file(classifier_bytes: bytes) -> str:
    """The classifier's safetensors bytes as a file (torch-fidelity loads weights from a path),
    named by content hash so concurrent chains share one file and never see a partial one."""
    digest = hashlib.sha256(classifier_bytes).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"autophagy-digits-classifier-{digest}.safetensors"
    if not path.is_file():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(classifier_bytes)
        os.replace(tmp, path)
    return str(path)


def extractor(weights_path: str, device: str) -> DigitsFeatureExtractor:
    """The registered extractor, built the way `calculate_metrics` builds it."""
    register()
    return create_feature_extractor(NAME, [FEATURES, LOGITS], cuda=device.startswith("cuda"),
                                    feature_extractor_weights_path=weights_path, verbose=False)


@torch.no_grad()
def extract_logits(model: DigitsFeatureExtractor, x: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (N, hidden), logits float32 (N, classes)) of uint8 images (N, C, H, W)."""
    device = next(model.parameters()).device
    feats, logits = [], []
    for start in range(0, len(x), batch):
        f, z = model(torch.from_numpy(np.ascontiguousarray(x[start:start + batch])).to(device))
        feats.append(f.cpu())
        logits.append(z.cpu())
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def extract(model: DigitsFeatureExtractor, x: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (N, hidden), predicted class int64 (N,)) of uint8 images (N, C, H, W)."""
    features, logits = extract_logits(model, x, batch)
    return features, logits.argmax(1).astype(np.int64)


def reference_bytes(features: np.ndarray, labels: np.ndarray) -> bytes:
    """The held-out set's features and labels as a safetensors asset (`DigitsBackend.prepare`)."""
    return safetensors.torch.save({"features": torch.from_numpy(np.ascontiguousarray(features, np.float32)),
                                   "labels": torch.from_numpy(np.ascontiguousarray(labels, np.int64))})


def reference_from_bytes(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `reference_bytes`: (features, labels)."""
    tensors = safetensors.torch.load(blob)
    return tensors["features"].numpy(), tensors["labels"].numpy()


class RealReference:
    """Real features and their FID statistics, computed once and compared many times."""

    def __init__(self, features: np.ndarray):
        self.features = np.asarray(features, np.float32)
        self.fid_stats = fidelity_metrics.statistics(self.features)

    def compare(self, features: np.ndarray, seed: int) -> dict[str, float]:
        """fid, kid, precision, recall of generated `features` against this reference."""
        return fidelity_metrics.compare(features, self.features, seed, self.fid_stats)
