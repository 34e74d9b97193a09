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

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from autophagy import seeding
from autophagy.backends.base import Backend
from autophagy.backends.digits import classifier, data, diffusion, fidelity, lora, metrics, training, unet
from autophagy.samples import Samples

BASE, CLASSIFIER = "base.safetensors", "classifier.safetensors"
SAMPLE_BATCH = 1000  # images per sampling forward pass (x2 with guidance): bounds memory, not results


class DigitsBackend(Backend):
    # ------------------------------------------------------------------ shared assets

    @classmethod
    def asset_key(cls, cfg) -> dict:
        # lora_targets shape only the finetune: changing them must not re-pretrain the base.
        model = {k: v for k, v in dataclasses.asdict(cfg.model).items() if k != "lora_targets"}
        key = {"model": model, "data.path": cfg.data.path, "data.holdout": cfg.data.holdout}
        if cfg.data.path is not None and Path(cfg.data.path).is_file():
            key["data.sha256"] = hashlib.sha256(Path(cfg.data.path).read_bytes()).hexdigest()
        return key

    @classmethod
    def prepare(cls, cfg) -> dict[str, bytes]:
        """Pretrain the base denoiser and the evaluation classifier on the real training pool."""
        m = cfg.model
        device = "cuda" if torch.cuda.is_available() else "cpu"
        pool, _ = data.split(data.load(cfg.data.path), cfg.data.holdout)
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
        clf = classifier.train(pool, m.classifier_hidden, m.classifier_steps,
                               seeding.int_seed(m.pretrain_seed, "eval"), device)
        return {BASE: _to_bytes(net.state_dict()), CLASSIFIER: _to_bytes(clf.state_dict())}

    # ------------------------------------------------------------------ one chain's model

    def __init__(self, cfg, assets: dict[str, bytes], device: str = "cpu"):
        super().__init__(cfg, assets, device)
        missing = [name for name in (BASE, CLASSIFIER) if name not in assets]
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
        self._reference = None

    def real_data(self) -> tuple[Samples, Samples]:
        if not hasattr(self, "_real"):
            self._real = data.split(data.load(self.cfg.data.path), self.cfg.data.holdout)
        return self._real

    def finetune(self, train: Samples, seed: int) -> dict[str, float]:
        f = self.cfg.finetune
        if f.init == "base" or self.fresh:
            self._restart_from_base(seed)
        self.fresh = False
        losses = training.run(self.unet, self.train_scheduler, train, steps=f.steps, batch_size=f.batch_size,
                              lr=f.lr, weight_decay=f.weight_decay, cond_drop=f.cond_drop,
                              generator=torch.Generator().manual_seed(seed), device=self.device)
        if not math.isfinite(losses[-1]):
            return {"loss": math.nan, "steps": float(len(losses))}
        # The last 10 steps: single-batch losses at random timesteps vary by about 20 %.
        return {"loss": float(np.mean(losses[-10:])), "loss_first": float(np.mean(losses[:10])),
                "steps": float(len(losses))}

    def _restart_from_base(self, seed: int) -> None:
        if self.lora:
            lora.reset(self.unet, seed)  # base weights are frozen under LoRA: a fresh adapter is the base
        else:
            self.unet.load_state_dict(self.base)

    def sample(self, n: int, seed: int) -> Samples:
        y = (np.arange(n) % unet.CLASSES).astype(np.int64)  # balanced classes
        g = torch.Generator().manual_seed(seed)
        s = self.cfg.sampling
        net = lora.merged_copy(self.unet) if self.lora else self.unet
        parts = []
        for start in range(0, n, SAMPLE_BATCH):
            labels = torch.from_numpy(y[start:start + SAMPLE_BATCH]).to(self.device)
            x = diffusion.sample(net, self.sample_scheduler, labels, s.steps, s.cfg_scale, self.size, g)
            parts.append(diffusion.to_uint8(x))
        return Samples(np.concatenate(parts), y)

    def evaluate(self, samples: Samples, train: Samples, seed: int) -> dict[str, float]:
        """fid, kid, precision, recall: against the held-out set, in the classifier's features
        (fidelity.py); class_agreement, class_coverage: the classifier's view of the conditioning;
        pairwise_l2, sample_std: diversity in pixels; nearest_train_l2: copying of `train`
        (metrics.py)."""
        features, predicted = fidelity.extract(self.extractor, samples.x)
        out = self.reference().compare(features, seed)
        out.update(
            class_agreement=metrics.class_agreement(predicted, samples.y),
            class_coverage=metrics.class_coverage(predicted, samples.y),
            pairwise_l2=metrics.pairwise_l2(samples.x, samples.y),
            sample_std=metrics.sample_std(samples.x),
            nearest_train_l2=metrics.nearest_train_l2(samples.x, train.x),
        )
        return {name: out[name] for name in self.metric_names(self.cfg)}

    def reference(self) -> fidelity.RealReference:
        """The held-out set in feature space, extracted once per backend."""
        if self._reference is None:
            features, _ = fidelity.extract(self.extractor, self.real_data()[1].x)
            self._reference = fidelity.RealReference(features)
        return self._reference

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> dict[str, np.ndarray]:
        tensors = lora.state(self.unet) if self.lora else self.unet.state_dict()
        return {k: v.detach().cpu().numpy().copy() for k, v in tensors.items()}  # not views of live weights

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        tensors = {k: torch.tensor(np.asarray(v)) for k, v in state.items()}
        if self.lora:
            lora.load(self.unet, tensors)
        else:
            try:
                self.unet.load_state_dict(tensors)
            except RuntimeError as err:
                raise ValueError(f"digits backend: the state is not a full UNet of this model config "
                                 f"(a LoRA checkpoint with finetune.lora_rank=0?): {str(err)[:200]}") from None
        self.fresh = False


def _to_bytes(state_dict: dict[str, torch.Tensor]) -> bytes:
    return safetensors.torch.save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()})


def _square_size(pool: Samples) -> int:
    h, w = pool.x.shape[2:]
    if h != w:
        raise ValueError(f"data.path: the digits backend needs square images, got {h}x{w}")
    return h
