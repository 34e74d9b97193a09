"""`ddpm`: a diffusers UNet2DModel DDPM in pixel space on the user's images (Shi et al.'s loop).

Any channel count, any resolution (images resized once at load, data.py), unconditional or
class-conditional with a null class for condition drop and CFG. Each generation trains the
chain's model as `finetune.init` says: `scratch` fresh random weights from the generation's
train seed (Shi et al. re-initialise every iteration), `previous` the last generation's model,
`base` the base model of `prepare` (model.pretrain_steps on the real pool; 0: random weights).
Scored in `metrics.features` space (classifier | inception | dinov2) against held-out real images.

Randomness: the base model and the classifier draw from `model.pretrain_seed`; each generation
from the seeds the chain passes in (torch.Generator on the CPU, never the global one). On CPU a
run repeats exactly; on GPU, cuDNN/cuBLAS reductions and fp16 rounding may differ in the last bits.
"""

from __future__ import annotations

import copy
import hashlib
import math
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from diffusers.training_utils import EMAModel

from autophagy import seeding
from autophagy.backends import adapter
from autophagy.backends.base import Backend, fit_summary
from autophagy.backends.ddpm import data
from autophagy.backends.images import classifier, diffusion, lora, training, unet
from autophagy.backends.images import metrics as pixel_metrics
from autophagy.backends.images.data import balanced_labels, split
from autophagy.backends.images.fidelity import RealReference
from autophagy.metrics import features
from autophagy.samples import Samples

BASE, CLASSIFIER, REFERENCE = "base.safetensors", "classifier.safetensors", "reference.safetensors"
SAMPLE_BATCH = 500  # images per sampling forward pass (x2 with guidance): bounds memory, not results


class DDPMBackend(Backend):
    grid_images = 20

    # ------------------------------------------------------------------ shared assets

    @classmethod
    def asset_key(cls, cfg) -> dict:
        # lora_targets shape only the finetune: changing them must not retrain the base.
        model = {k: v for k, v in cfg.model.model_dump().items() if k != "lora_targets"}
        m = cfg.metrics
        return {"model": model, "data.path": cfg.data.path, "data.holdout": cfg.data.holdout,
                "data.fingerprint": _fingerprint(cfg.data.path), "metrics.features": m.features,
                "metrics.weights": {"inception": m.inception_weights, "dinov2": m.dinov2_path}}

    @classmethod
    def prepare(cls, cfg) -> dict[str, bytes]:
        """The base model (model.pretrain_steps on the real pool), the classifier (features:
        classifier), and the held-out set's features, once for every chain of the sweep."""
        m = cfg.model
        device = "cuda" if torch.cuda.is_available() else "cpu"
        info = data.info(data.load_for(cfg))
        pool, held_out = split(data.load_for(cfg), cfg.data.holdout)
        seed = seeding.int_seed(m.pretrain_seed, "train")
        net = unet.new(m, info.channels, info.classes, seed).to(device)
        if m.pretrain_steps:
            losses = training.run(net, unet.train_scheduler(m), pool, steps=m.pretrain_steps,
                                  batch_size=m.pretrain_batch_size, optim=training.Optim.of(m, m.pretrain_lr, 0.0),
                                  cond_drop=m.pretrain_cond_drop, null=info.classes,
                                  generator=torch.Generator().manual_seed(seed), device=device)
            if not math.isfinite(losses[-1]):
                raise RuntimeError(f"model.pretrain_lr: pretraining diverged at step {len(losses)} "
                                   f"(loss {losses[-1]}); lower model.pretrain_lr={m.pretrain_lr}")
        assets = {BASE: adapter.to_bytes(net.state_dict())}
        if cfg.metrics.features == "classifier":
            clf = classifier.train(pool, info.classes, m.classifier_hidden, m.classifier_steps,
                                   seeding.int_seed(m.pretrain_seed, "eval"), device)
            assets[CLASSIFIER] = adapter.to_bytes(clf.state_dict())
        extract, _ = _extractor(cfg, assets, device)
        assets[REFERENCE] = adapter.to_bytes({"features": torch.from_numpy(extract(held_out.x))})
        return assets

    # ------------------------------------------------------------------ one chain's model

    def __init__(self, cfg, assets: dict[str, bytes], device: str = "cpu"):
        super().__init__(cfg, assets, device)
        m = cfg.model
        self.info = data.info(data.load_for(cfg))
        self.shape = (self.info.channels, m.resolution, m.resolution)
        self.null = self.info.classes  # the null class's index (conditional models only)
        self.base = safetensors.torch.load(assets[BASE])
        self.lora = cfg.finetune.lora_rank > 0
        self.unet = self._new_unet(seed=0)  # the seed is moot: base weights replace these
        self.unet.load_state_dict(self.base)
        if self.lora:
            lora.inject(self.unet, cfg.finetune.lora_rank, cfg.finetune.lora_alpha, m.lora_targets)
        self.unet.to(device).eval()
        self.ema = self._new_ema()
        self.train_scheduler, self.sample_scheduler = unet.train_scheduler(m), unet.sample_scheduler(m)
        self.fresh = True  # no generation trained (or loaded) yet: the model is the base
        self.extract, self.classifier = _extractor(cfg, assets, device)
        self.reference = RealReference(safetensors.torch.load(assets[REFERENCE])["features"].numpy())

    def _new_unet(self, seed: int):
        return unet.new(self.cfg.model, self.info.channels, self.info.classes, seed)

    def _new_ema(self) -> EMAModel | None:
        decay = self.cfg.model.ema_decay
        return None if decay is None else EMAModel([p for p in self.unet.parameters() if p.requires_grad], decay=decay)

    def real_data(self) -> tuple[Samples, Samples]:
        if not hasattr(self, "_real"):
            self._real = split(data.load_for(self.cfg), self.cfg.data.holdout)
        return self._real

    def finetune(self, train: Samples, seed: int) -> dict[str, float]:
        f, m = self.cfg.finetune, self.cfg.model
        if f.init == "scratch":
            self.unet = self._new_unet(seed).to(self.device)  # Shi et al.: a fresh model every generation
            self.ema = self._new_ema()
        elif f.init == "base" or self.fresh:
            self._restart_from_base(seed)
        self.fresh = False
        steps = f.steps if m.epochs is None else math.ceil(m.epochs * len(train) / f.batch_size)
        losses = training.run(self.unet, self.train_scheduler, train, steps=steps, batch_size=f.batch_size,
                              optim=training.Optim.of(m, f.lr, f.weight_decay), cond_drop=f.cond_drop,
                              null=self.null, generator=torch.Generator().manual_seed(seed), device=self.device,
                              ema=self.ema)
        return fit_summary(losses)

    def _restart_from_base(self, seed: int) -> None:
        lora.restart(self.unet, self.base, self.lora, seed)
        self.ema = self._new_ema()

    def sample(self, n: int, seed: int) -> Samples:
        s = self.cfg.sampling
        labels = balanced_labels(n, range(self.info.classes)) if self.info.classes else np.full(n, data.UNLABELLED)
        g = torch.Generator().manual_seed(seed)
        net = self._sampling_net()
        scales = diffusion.cfg_schedule(s.cfg_scale, s.cfg_end, s.cfg_schedule, s.steps)
        parts = []
        for start in range(0, n, SAMPLE_BATCH):
            y = labels[start:start + SAMPLE_BATCH]
            y_t = torch.from_numpy(y).to(self.device) if self.info.classes else None
            x = diffusion.sample(net, self.sample_scheduler, y_t, len(y), s.steps, scales, self.shape,
                                 self.null, g, self.device)
            parts.append(diffusion.to_uint8(x))
        return Samples(np.concatenate(parts), labels.astype(np.int64))

    def _sampling_net(self):
        """The EMA weights where there are some, LoRA folded in (sampling through unmerged
        adapters runs two more convs per wrapped conv): a copy, the chain's own model untouched."""
        if self.ema is None and not self.lora:
            return self.unet
        net = copy.deepcopy(self.unet)
        if self.ema is not None:  # before merging: under LoRA the EMA holds the adapter's weights
            self.ema.copy_to([p for p in net.parameters() if p.requires_grad])
        return lora.merged_copy(net) if self.lora else net

    def features(self, x: np.ndarray) -> np.ndarray:
        """The `metrics.features` space: what FID is measured in, and the selections' `features`."""
        return self.extract(x)

    def evaluate(self, samples: Samples, train: Samples, seed: int) -> dict[str, float]:
        """Every column of DDPMModelConfig.metric_names, against the held-out real images:
        fid, kid, precision, recall in `metrics.features` space; pairwise_l2 (and its spread) within
        class, on pixels in [0, 1] (Pu); sample_std per pixel; nearest_train_l2 (pixels) and
        generalization_score (features): mean distance of a sample to its nearest image of `train`
        (Shi et al. use MSE on DINOv2 features, a monotone cousin per pair); memorization_share
        (pixels: nearest < metrics.memorization_threshold x second nearest); Kozachenko-Leonenko
        entropy of `train` and of the samples in both spaces; with labels and features: classifier,
        class_agreement, class_coverage, class_confidence."""
        m = self.cfg.metrics
        subsample_seed = int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]) >> 1
        feats, train_feats = self.extract(samples.x), self.extract(train.x)
        out = self.reference.compare(feats, seed)
        out.update(pixel_metrics.diversity_and_copying(samples, train, feats, train_feats, m, subsample_seed))
        names = self.metric_names(self.cfg)
        if "class_agreement" in names:
            logits = classifier.extract(self.classifier, samples.x)[1]
            predicted = logits.argmax(1)
            out.update(class_agreement=pixel_metrics.class_agreement(predicted, samples.y),
                       class_coverage=pixel_metrics.class_coverage(predicted, samples.y),
                       class_confidence=pixel_metrics.class_confidence(logits, samples.y))
        return {name: out[name] for name in names}

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> dict[str, np.ndarray]:
        arrays = adapter.trained_state(self.unet, self.lora)
        if self.ema is not None:
            arrays.update({f"ema.{i}": p.detach().cpu().numpy().copy() for i, p in enumerate(self.ema.shadow_params)})
            arrays["ema.step"] = np.asarray(self.ema.optimization_step)  # its decay warms up with the step
        return arrays

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        adapter.load_trained_state(self.unet, {k: v for k, v in state.items() if not k.startswith("ema.")},
                                   self.lora, "ddpm")
        if self.ema is not None:
            self.ema = self._new_ema()
            shadow = [torch.tensor(np.asarray(state[f"ema.{i}"])) for i in range(len(self.ema.shadow_params))]
            self.ema.shadow_params = [s.to(p.device) for s, p in zip(shadow, self.ema.shadow_params)]
            self.ema.optimization_step = int(state["ema.step"])
        self.fresh = False


def _extractor(cfg, assets: dict[str, bytes], device: str):
    """(images -> features, the classifier or None) of `metrics.features`."""
    m = cfg.metrics
    if m.features == "inception":
        return features.inception(m.inception_weights, device), None
    if m.features == "dinov2":
        return features.dinov2(m.dinov2_path, device), None
    clf = classifier.Classifier.from_state_dict(safetensors.torch.load(assets[CLASSIFIER])).to(device)
    return (lambda x: classifier.extract(clf, x)[0]), clf


def _fingerprint(path: str | None) -> str | None:
    """What identifies the data's content for the asset cache: an .npz's sha256, or a folder's
    listing (relative path, size, mtime of every file: reading 50,000 images to hash them is not cheap)."""
    if path is None or not Path(path).exists():
        return None
    p = Path(path)
    if p.is_file():
        return hashlib.sha256(p.read_bytes()).hexdigest()
    listing = sorted((str(f.relative_to(p)), f.stat().st_size, f.stat().st_mtime_ns) for f in p.rglob("*") if f.is_file())
    return hashlib.sha256(repr(listing).encode()).hexdigest()
