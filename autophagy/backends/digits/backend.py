"""`digits`: a class-conditional DDPM on 8x8 handwritten digits, finetuned on its own samples.

A laptop-scale stand-in for the text-to-image studies: a 41k-parameter diffusers UNet pretrained
on scikit-learn's digits (prepare: 35-50 s on one CPU thread), then per generation finetuned
(LoRA or full), sampled with DDIM + classifier-free guidance, and scored in the feature space of a
digit classifier trained on the same real pool. With 500 images, 100 finetune steps at batch 64
and 20 sampling steps, a generation takes about 5 s on one CPU thread (finetune 2.8 s full or
4 s LoRA, sample 2.2 s, evaluate 0.2 s); 6 generations on its own samples multiply FID by 9-12.

Randomness: pretraining and the classifier draw from `model.pretrain_seed`; each generation from
the seeds the chain passes in (torch.Generator on the CPU, never the global one). On CPU a run
repeats exactly; on GPU, cuDNN/cuBLAS reductions may differ in the last bits.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from autophagy import seeding
from autophagy.backends import adapter
from autophagy.backends.base import Backend, fit_summary
from autophagy.backends.digits import diffusion, training, unet
from autophagy.backends.digits.config import CLASSES, eval_only_classes
from autophagy.backends.images import classifier, data, fidelity, lora, metrics
from autophagy.metrics.fidelity import MIN_SAMPLES
from autophagy.samples import Samples

BASE, CLASSIFIER, REFERENCE = "base.safetensors", "classifier.safetensors", "reference.safetensors"
SAMPLE_BATCH = 1000  # images per sampling forward pass (x2 with guidance): bounds memory, not results


class DigitsBackend(Backend):
    grid_images = 20  # two of each digit

    # ------------------------------------------------------------------ shared assets

    @classmethod
    def asset_key(cls, cfg) -> dict:
        # lora_targets shape only the finetune: changing them must not re-pretrain the base.
        model = {k: v for k, v in cfg.model.model_dump().items() if k != "lora_targets"}
        key = {"model": model, "data.path": cfg.data.path, "data.holdout": cfg.data.holdout,
               "assets": [BASE, CLASSIFIER, REFERENCE]}  # a cache entry from before the reference was one is stale
        if cfg.data.path is not None and Path(cfg.data.path).is_file():
            key["data.sha256"] = hashlib.sha256(Path(cfg.data.path).read_bytes()).hexdigest()
        return key

    @classmethod
    def prepare(cls, cfg) -> dict[str, bytes]:
        """Pretrain the base denoiser and the evaluation classifier on the real training pool, and
        extract the held-out set's features once for every chain of the sweep.

        Both networks see every class, `data.eval_only_classes` included: like the pretrained
        text-to-image model of Bohacek & Farid, the base can draw what the chains never retrain on,
        and off-target evaluation asks whether the chains' finetuning damages it."""
        m = cfg.model
        device = "cuda" if torch.cuda.is_available() else "cpu"
        pool, held_out = data.split(data.load(cfg.data.path), cfg.data.holdout)
        size = _square_size(pool)
        seed = seeding.int_seed(m.pretrain_seed, "train")
        net = unet.new(m, size, seed).to(device)
        losses = training.run(net, unet.train_scheduler(m), pool, steps=m.pretrain_steps,
                              batch_size=m.pretrain_batch_size, lr=m.pretrain_lr, weight_decay=0.0,
                              cond_drop=m.pretrain_cond_drop, generator=torch.Generator().manual_seed(seed),
                              device=device)
        if not math.isfinite(losses[-1]):
            raise RuntimeError(f"model.pretrain_lr: pretraining diverged at step {len(losses)} "
                               f"(loss {losses[-1]}); lower model.pretrain_lr={m.pretrain_lr}")
        clf = classifier.train(pool, CLASSES, m.classifier_hidden, m.classifier_steps,
                               seeding.int_seed(m.pretrain_seed, "eval"), device)
        features, _ = fidelity.extract_logits(clf, held_out.x)
        return {BASE: adapter.to_bytes(net.state_dict()), CLASSIFIER: adapter.to_bytes(clf.state_dict()),
                REFERENCE: fidelity.reference_bytes(features, held_out.y)}

    # ------------------------------------------------------------------ one chain's model

    def __init__(self, cfg, assets: dict[str, bytes], device: str = "cpu"):
        super().__init__(cfg, assets, device)
        self.eval_only = eval_only_classes(cfg)
        self.train_classes = tuple(c for c in range(CLASSES) if c not in self.eval_only)
        missing = [name for name in (BASE, CLASSIFIER, REFERENCE) if name not in assets]
        if missing:
            raise KeyError(f"digits backend: assets lack {missing}; they come from DigitsBackend.prepare(cfg)")
        self.size = _square_size(self.real_data()[0])
        self.base = safetensors.torch.load(assets[BASE])
        self.unet = unet.new(cfg.model, self.size, seed=0)  # the seed is moot: base weights replace these
        self.unet.load_state_dict(self.base)
        self.lora = cfg.finetune.lora_rank > 0
        if self.lora:
            lora.inject(self.unet, cfg.finetune.lora_rank, cfg.finetune.lora_alpha, cfg.model.lora_targets)
        self.unet.to(device).eval()
        self.train_scheduler = unet.train_scheduler(cfg.model)
        self.sample_scheduler = unet.sample_scheduler(cfg.model)
        self.fresh = True  # no generation trained (or loaded) yet: the model is the base
        self.extractor = fidelity.extractor(fidelity.weights_file(assets[CLASSIFIER]), device)
        self._references = {}  # offtarget (bool) -> fidelity.RealReference

    def real_data(self) -> tuple[Samples, Samples]:
        if not hasattr(self, "_real"):
            pool, held_out = data.split(data.load(self.cfg.data.path), self.cfg.data.holdout)
            self._real = data.without_classes(pool, self.cfg.data.eval_only_classes), held_out
        return self._real

    def finetune(self, train: Samples, seed: int) -> dict[str, float]:
        f = self.cfg.finetune
        if f.init == "base" or self.fresh:
            lora.restart(self.unet, self.base, self.lora, seed)
        self.fresh = False
        losses = training.run(self.unet, self.train_scheduler, train, steps=f.steps, batch_size=f.batch_size,
                              lr=f.lr, weight_decay=f.weight_decay, cond_drop=f.cond_drop,
                              generator=torch.Generator().manual_seed(seed), device=self.device)
        return fit_summary(losses)

    def sample(self, n: int, seed: int) -> Samples:
        return _draw(self, n, seed, self.train_classes)  # balanced over the trained classes

    def features(self, x: np.ndarray) -> np.ndarray:
        """The evaluation classifier's last hidden layer (128 wide by default): the space FID is
        measured in, used by the selections when their `space` is `features`."""
        return fidelity.extract(self.extractor, x)[0]

    def evaluate(self, samples: Samples, train: Samples, seed: int) -> dict[str, float]:
        """Every column of `DigitsModelConfig.metric_names`. Pixels are in [0, 1] (an 8x8 pair is
        at most 8 apart); "features" are the evaluation classifier's last hidden layer.

        fid, kid, precision, recall: against the held-out real images of the trained classes, in
          features (autophagy.metrics.fidelity).
        class_agreement (its worst class: class_agreement_min), class_coverage, class_confidence:
          the classifier's view of the conditioning (metrics.py).
        pairwise_l2 and its _std, _q10, _q50, _q90: the distribution of pixel distances over pairs
          of samples of one class, averaged over classes (Pu; autophagy.metrics.distances).
        sample_std, class_std (its worst class: class_std_min): per-pixel spread of all samples,
          and within each class.
        nearest_train_l2 (pixels) and generalization_score (features): mean distance of a sample
          to its nearest image of `train`; memorization_share: samples nearer than
          metrics.memorization_threshold x their second-nearest training image (pixels).
        entropy_{train,samples}_{pixels,features}: Kozachenko-Leonenko entropy with k =
          metrics.entropy_k, in nats, of `train` and of the samples (Shi et al.).
        offtarget_*: the same scores of samples of `data.eval_only_classes`, drawn here."""
        m = self.cfg.metrics
        streams = np.random.SeedSequence(seed).generate_state(2, np.uint64)  # the eval seed's own sub-streams
        subsample_seed, offtarget_seed = (int(s) >> 1 for s in streams)  # 63 bits: torch.Generator takes them
        features, logits = fidelity.extract_logits(self.extractor, samples.x)
        train_features, _ = fidelity.extract_logits(self.extractor, train.x)
        out = self._scores(samples, features, logits, self.reference(), seed)
        out.update(metrics.diversity_and_copying(samples, train, features, train_features, m, subsample_seed))
        out["class_std"], out["class_std_min"] = metrics.class_std(samples.x, samples.y)
        out["class_agreement_min"] = metrics.class_agreement_min(logits.argmax(1), samples.y)
        if self.eval_only:
            out.update(self._evaluate_offtarget(len(samples), offtarget_seed))
        return {name: out[name] for name in self.metric_names(self.cfg)}

    def _evaluate_offtarget(self, n: int, seed: int) -> dict[str, float]:
        """Samples of the eval-only classes, as many per class as `sample` gives a trained class,
        drawn as `sample` draws (same guidance, same merged adapter), scored like the main ones."""
        # At least MIN_SAMPLES (10) in all: FID/KID/precision refuse fewer.
        per_class = max(-(-n // len(self.train_classes)), -(-MIN_SAMPLES // len(self.eval_only)))
        off = _draw(self, per_class * len(self.eval_only), seed, self.eval_only)
        features, logits = fidelity.extract_logits(self.extractor, off.x)
        out = self._scores(off, features, logits, self.reference(offtarget=True), seed)
        out["pairwise_l2"] = metrics.pairwise_l2(off.x, off.y)
        return {f"offtarget_{k}": v for k, v in out.items()}

    def _scores(self, samples: Samples, features: np.ndarray, logits: np.ndarray,
                reference: fidelity.RealReference, seed: int) -> dict[str, float]:
        predicted = logits.argmax(1)
        return {**reference.compare(features, seed),
                "class_agreement": metrics.class_agreement(predicted, samples.y),
                "class_coverage": metrics.class_coverage(predicted, samples.y),
                "class_confidence": metrics.class_confidence(logits, samples.y)}

    def reference(self, offtarget: bool = False) -> fidelity.RealReference:
        """The held-out real images of the trained classes (or, `offtarget`, of the eval-only
        ones) in feature space: extracted once per sweep by `prepare`, statistics once per chain."""
        if offtarget not in self._references:
            features, labels = fidelity.reference_from_bytes(self.assets[REFERENCE])
            keep = np.isin(labels, self.eval_only if offtarget else self.train_classes)
            if keep.sum() < MIN_SAMPLES:
                raise ValueError(f"data.holdout: only {keep.sum()} held-out images of classes "
                                 f"{self.eval_only if offtarget else self.train_classes}, and FID/KID/precision "
                                 f"need {MIN_SAMPLES}: raise data.holdout={self.cfg.data.holdout}")
            self._references[offtarget] = fidelity.RealReference(features[keep])
        return self._references[offtarget]

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> dict[str, np.ndarray]:
        return adapter.trained_state(self.unet, self.lora)

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        adapter.load_trained_state(self.unet, state, self.lora, "digits")
        self.fresh = False


def _draw(backend: DigitsBackend, n: int, seed: int, classes: tuple[int, ...]) -> Samples:
    """n samples balanced over `classes`: DDIM with the sweep's guidance schedule, from `seed`."""
    y = data.balanced_labels(n, classes)
    g = torch.Generator().manual_seed(seed)
    s = backend.cfg.sampling
    net = lora.merged_copy(backend.unet) if backend.lora else backend.unet
    scales = diffusion.cfg_schedule(s.cfg_scale, s.cfg_end, s.cfg_schedule, s.steps)
    parts = []
    for start in range(0, n, SAMPLE_BATCH):
        labels = torch.from_numpy(y[start:start + SAMPLE_BATCH]).to(backend.device)
        x = diffusion.sample(net, backend.sample_scheduler, labels, s.steps, scales, backend.size, g)
        parts.append(diffusion.to_uint8(x))
    return Samples(np.concatenate(parts), y)


def _square_size(pool: Samples) -> int:
    h, w = pool.x.shape[2:]
    if h != w:
        raise ValueError(f"data.path: the digits backend needs square images, got {h}x{w}")
    return h
