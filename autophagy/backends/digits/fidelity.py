"""FID, KID and precision/recall in the classifier's feature space, through torch-fidelity.

The classifier is registered with torch-fidelity as a feature extractor, so
`torch_fidelity.calculate_metrics(..., feature_extractor=NAME, feature_extractor_weights_path=...)`
works offline on Datasets of uint8 3xHxW images. The backend builds the same extractor but skips
`calculate_metrics`' input plumbing: it extracts features itself (the held-out set's once per
backend, not once per generation) and hands them to torch-fidelity's own metric functions, which
is what `calculate_metrics` does after extraction.
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
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torch_fidelity.utils import create_feature_extractor

from autophagy.backends.digits.classifier import Classifier

NAME = "autophagy-digits"
FEATURES, LOGITS = "features", "logits"


class DigitsFeatureExtractor(FeatureExtractorBase):
    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"feature extractor {NAME!r} has no default weights to download: pass "
                             "feature_extractor_weights_path (see autophagy.backends.digits.fidelity.weights_file)")
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
def extract(model: DigitsFeatureExtractor, x: np.ndarray, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(features float32 (N, hidden), predicted class int64 (N,)) of uint8 images (N, C, H, W)."""
    device = next(model.parameters()).device
    feats, preds = [], []
    for start in range(0, len(x), batch):
        f, logits = model(torch.from_numpy(x[start:start + batch]).to(device))
        feats.append(f.cpu())
        preds.append(logits.argmax(1).cpu())
    return torch.cat(feats).numpy(), torch.cat(preds).numpy()


class RealReference:
    """The held-out set's features and FID statistics, computed once and compared many times."""

    def __init__(self, features: np.ndarray):
        self.features = torch.from_numpy(features)
        self.fid_stats = fid_features_to_statistics(self.features.double())

    def compare(self, features: np.ndarray, seed: int) -> dict[str, float]:
        """fid, kid, precision, recall of generated `features` against this reference."""
        fake = torch.from_numpy(features)
        n = min(len(fake), len(self.features))
        if n < 10:
            raise ValueError(f"images_per_generation: FID/KID/precision need at least 10 samples, got {n}")
        fid = fid_statistics_to_metric(fid_features_to_statistics(fake.double()), self.fid_stats, verbose=False)
        # Subsets of half the smaller set: 100 subsets of all 500 images would be 100 copies of one.
        kid = kid_features_to_metric(fake, self.features, kid_subset_size=min(n // 2, 1000),
                                     rng_seed=seed % 2**32, verbose=False)
        # torch-fidelity's convention: input1 generated, input2 real; 3 nearest neighbours.
        prc = prc_features_to_metric(fake, self.features, verbose=False)
        return {"fid": float(fid[KEY_METRIC_FID]), "kid": float(kid[KEY_METRIC_KID_MEAN]),
                "precision": float(prc["precision"]), "recall": float(prc["recall"])}
