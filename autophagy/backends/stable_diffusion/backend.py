"""`stable-diffusion`: a diffusers text-to-image pipeline from local weights (SD 1.x, 2.x,
SD-Turbo), its UNet finetuned each generation on the chain's training mix (LoRA by default,
`finetune.lora_rank: 0` for the full UNet), sampled text-to-image or image-to-image, and scored
with FID (Inception), CLIP score and pixel distances.

One actor holds one chain: the pipeline loads once per actor (SD 2.1 in fp16 with a fp32 LoRA:
about 2.6 GB of GPU memory before activations), and the chain's state is its adapter (6.6 MB at
rank 8) plus its prompt list. Under LoRA the loaded base (pipeline, data, scorers: `Base`) is
kept by the process for the next chain with the same settings, since an actor is handed from
chain to chain (orchestrator/trial.py): the next chain resets or loads the adapter and reads
nothing from disk. Real images and captions: data.py; a caption travels as its row
index in `Samples.y`. The prompts of every generation are the captions of the chain's own real
images (generation 0 trains on exactly those), so each generation draws the same prompts and
generations compare (Pu et al.: the 75 training captions are the "main" prompts).

Randomness: every draw (latents, noise, timesteps, condition drop, sampling noise) comes from a
CPU torch.Generator seeded by the chain; on CPU a run repeats exactly. On GPU, cuDNN/cuBLAS
kernels and fp16 rounding make repeated runs differ in the last bits, which sampling amplifies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import safetensors.torch
import torch
from diffusers import DDPMScheduler, UNet2DConditionModel

from autophagy.backends.base import Backend, fit_summary
from autophagy.backends.stable_diffusion import data, lora, metrics, pipeline, sampling, training
from autophagy.config import ConfigError
from autophagy.metrics import distances, fidelity, memorization
from autophagy.samples import Samples

REFERENCE = "reference.safetensors"  # held-out set: its row indices and (with FID) Inception features


@dataclass
class Base:
    """What a chain starts from and never changes, but for the adapter's weights."""
    folder: data.ImageFolder
    real: tuple[Samples, Samples]
    pipe: object
    train_scheduler: DDPMScheduler
    img2img: object
    inception: object
    clip: object


# The LoRA base that the last closed backend of this process left (`close`), and the settings it
# was loaded with: the next backend with the same settings takes it. Only an idle base is kept
# here (at most one: a pipeline holds gigabytes of GPU memory), so two live backends never share
# an adapter and a backend that is never closed keeps nothing alive. A full finetune changes the
# UNet itself, so its base is never kept.
_kept: dict = {}


def _key(cfg, device: str) -> tuple:
    m, f = cfg.model, cfg.finetune
    return (m.path, m.resolution, m.mixed_precision, m.generation, tuple(m.lora_targets), f.lora_rank, f.lora_alpha,
            m.inception_weights, m.clip_path, cfg.data.path, cfg.data.holdout, device)


def load_base(cfg, device: str) -> Base:
    m, f = cfg.model, cfg.finetune
    keep = f.lora_rank > 0
    if keep and _kept.get("key") == _key(cfg, device):
        base = _kept.pop("base")
        _kept.clear()
        lora.reset(base.pipe.unet, 0)  # B = 0: the base model again, whatever the last chain trained
        return base
    _kept.clear()  # let an idle base go before loading another
    folder = data.load(cfg.data.path, m.resolution)
    pipe = pipeline.load(cfg, device, full_unet=not keep)
    if keep:
        lora.inject(pipe.unet, f.lora_rank, f.lora_alpha, m.lora_targets)
    base = Base(
        folder=folder, real=data.split(folder, cfg.data.holdout), pipe=pipe,
        # The training noise schedule of the model's own scheduler config (what diffusers' training
        # scripts use); sampling keeps the pipeline's scheduler (Euler for SD-Turbo, ...).
        train_scheduler=DDPMScheduler.from_pretrained(m.path, subfolder="scheduler", local_files_only=True),
        img2img=pipeline.img2img(pipe) if m.generation == "img2img" else None,
        inception=metrics.inception(m.inception_weights, device) if m.inception_weights is not None else None,
        clip=metrics.ClipScorer(m.clip_path, device) if m.clip_path else None)
    return base


class StableDiffusionBackend(Backend):
    grid_images = 8

    # ------------------------------------------------------------------ shared assets

    @classmethod
    def asset_key(cls, cfg) -> dict:
        # Runs on the driver before any chain: a missing model.path, weights file, image folder or
        # a bad metadata row fails the sweep here, naming its key.
        pipeline.check(cfg)
        rows = data.read_metadata(cfg.data.path)
        m = cfg.model
        return {"model.path": m.path, "model.resolution": m.resolution, "model.inception_weights": m.inception_weights,
                "data.path": cfg.data.path, "data.holdout": cfg.data.holdout, "data.rows": rows}

    @classmethod
    def prepare(cls, cfg) -> dict[str, bytes]:
        """Load the pipeline once (so a broken model directory fails once, here, not in every chain)
        and extract the held-out images' Inception features, shared by every chain."""
        pipeline.check(cfg)
        pipeline.load(cfg, "cpu")
        _, holdout = data.split(data.load(cfg.data.path, cfg.model.resolution), cfg.data.holdout)
        reference = {"holdout": torch.from_numpy(holdout.y)}
        if cfg.model.inception_weights is not None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
            net = metrics.inception(cfg.model.inception_weights, device)
            reference["inception"] = torch.from_numpy(metrics.inception_features(net, holdout.x))
        return {REFERENCE: safetensors.torch.save(reference)}

    # ------------------------------------------------------------------ one chain's model

    def __init__(self, cfg, assets: dict[str, bytes], device: str = "cpu"):
        super().__init__(cfg, assets, device)
        if REFERENCE not in assets:
            raise KeyError(f"stable-diffusion backend: assets lack {REFERENCE}; they come from "
                           "StableDiffusionBackend.prepare(cfg)")
        _check_sampling(cfg)
        f = cfg.finetune
        base = self._base = load_base(cfg, device)
        self.folder, self._real, self.pipe = base.folder, base.real, base.pipe
        self.train_scheduler, self.img2img, self.inception, self.clip = (
            base.train_scheduler, base.img2img, base.inception, base.clip)
        reference = safetensors.torch.load(assets[REFERENCE])
        if not np.array_equal(reference["holdout"].numpy(), self._real[1].y):
            raise ValueError("stable-diffusion backend: the shared assets were made from other data "
                             f"(data.path={cfg.data.path!r} changed since?)")
        self.lora = f.lora_rank > 0
        self.dtype = pipeline.weight_dtype(cfg, device)
        self.prompt_ids: np.ndarray | None = None  # the chain's prompts (caption indices), from its first finetune
        self.fresh = True  # no generation trained (or loaded) yet: the adapter is reset before training
        self.reference = self.reference_stats = None
        if self.inception is not None:
            self.reference = reference["inception"].numpy()
            self.reference_stats = fidelity.statistics(self.reference)

    def real_data(self) -> tuple[Samples, Samples]:
        return self._real

    def close(self) -> None:
        if self.lora:
            _kept.clear()
            _kept.update(key=_key(self.cfg, self.device), base=self._base)

    def finetune(self, train: Samples, seed: int) -> dict[str, float]:
        f, m = self.cfg.finetune, self.cfg.model
        if self.fresh:
            # Generation 0 trains on real images alone (mixing.py): their captions are
            # the chain's prompts from now on.
            self.prompt_ids = np.sort(train.y)
        if f.init == "base" or self.fresh:
            self._restart_from_base(seed)
        self.fresh = False
        losses = training.run(
            self.pipe, self.train_scheduler, train.x, self.captions(train.y), steps=f.steps,
            batch_size=f.batch_size, lr=f.lr, weight_decay=f.weight_decay, cond_drop=f.cond_drop,
            optimizer=m.optimizer, grad_accum=m.grad_accum, grad_clip=m.grad_clip,
            mixed_precision=m.mixed_precision, generator=torch.Generator().manual_seed(seed), device=self.device)
        return fit_summary(losses)

    def _restart_from_base(self, seed: int) -> None:
        if self.lora:
            lora.reset(self.pipe.unet, seed)  # B = 0: the adapted model is the base
        elif not self.fresh:  # a full finetune has changed the UNet: read the base back from disk
            base = UNet2DConditionModel.from_pretrained(self.cfg.model.path, subfolder="unet", local_files_only=True,
                                                        dtype=torch.float32)
            self.pipe.unet.load_state_dict(base.state_dict())

    def captions(self, y: np.ndarray) -> list[str]:
        return [self.folder.captions[i] for i in y]

    def sample(self, n: int, seed: int) -> Samples:
        """n images for the chain's prompts in turn (before any finetune: the training pool's)."""
        ids = self.prompt_ids if self.prompt_ids is not None else self._real[0].y
        y = ids[np.arange(n) % len(ids)]
        init = self.folder.images[y] if self.img2img is not None else None
        return Samples(self._generate(self.captions(y), seed, init), y)

    def _generate(self, prompts: list[str], seed: int, init: np.ndarray | None = None) -> np.ndarray:
        m = self.cfg.model
        half = self.device.startswith("cuda") and self.dtype != torch.float32
        return sampling.generate(
            self.img2img if init is not None else self.pipe, prompts, self.cfg.sampling, resolution=m.resolution,
            batch=m.sample_batch, generator=torch.Generator().manual_seed(seed), init=init, strength=m.strength,
            autocast_dtype=self.dtype if half else None)

    def evaluate(self, samples: Samples, train: Samples, seed: int) -> dict[str, float]:
        """fid, kid, precision, recall: against the held-out images in Inception features;
        clip_score: image-caption agreement; pairwise_l2(_std): mean (std) L2 distance over all
        pairs of samples (Pu et al.), pixels in [0, 1] at model.pixel_size; nearest_train_l2,
        memorization_share: copying of `train` (autophagy/metrics/memorization.py); the same
        for each set of model.eval_prompts, sampled text-to-image here, in its own columns."""
        m, mc = self.cfg.model, self.cfg.metrics
        out = {}
        if self.inception is not None:
            fake = metrics.inception_features(self.inception, samples.x)
            out.update(fidelity.compare(fake, self.reference, seed, self.reference_stats))
        if self.clip is not None:
            out["clip_score"] = self.clip(samples.x, self.captions(samples.y))
        px, tr = metrics.pixels(samples.x, m.pixel_size), metrics.pixels(train.x, m.pixel_size)
        pairs = distances.pairwise_summary(px, max_points=mc.pairwise_max, seed=seed)
        out.update(pairwise_l2=pairs["mean"], pairwise_l2_std=pairs["std"],
                   nearest_train_l2=memorization.generalization_score(px, tr),
                   memorization_share=memorization.memorization_share(px, tr, mc.memorization_threshold))
        for k, (name, prompts) in enumerate(m.eval_prompts.items()):
            prompts = [p for p in prompts for _ in range(m.eval_images_per_prompt)]
            x = self._generate(prompts, int(np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(1)[0]))
            out[f"pairwise_l2_{name}"] = distances.pairwise_summary(
                metrics.pixels(x, m.pixel_size), max_points=mc.pairwise_max, seed=seed)["mean"]
            if self.clip is not None:
                out[f"clip_score_{name}"] = self.clip(x, prompts)
        return {name: float(out[name]) for name in m.metric_names(self.cfg)}

    def features(self, x: np.ndarray) -> np.ndarray:
        """The selections' `features` space: Inception pool3 where FID is on, else pixels at
        model.pixel_size (786k floats per 512 px image would make every distance slow)."""
        if self.inception is not None:
            return metrics.inception_features(self.inception, x)
        return metrics.pixels(x, self.cfg.model.pixel_size)

    # ------------------------------------------------------------------ checkpoints

    def state(self) -> dict[str, np.ndarray]:
        unet = self.pipe.unet
        tensors = lora.state(unet) if self.lora else unet.state_dict()
        out = {f"unet/{k}": v.detach().cpu().numpy().copy() for k, v in tensors.items()}  # not views of live weights
        if self.prompt_ids is not None:
            out["prompt_ids"] = self.prompt_ids.copy()
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        if "prompt_ids" not in state:
            raise ValueError("stable-diffusion backend: the state lacks prompt_ids (not a checkpoint of this backend?)")
        self.prompt_ids = np.asarray(state["prompt_ids"], dtype=np.int64)
        tensors = {k[len("unet/"):]: torch.tensor(np.asarray(v)) for k, v in state.items() if k.startswith("unet/")}
        unet = self.pipe.unet
        if self.lora:
            lora.load(unet, tensors)
        else:
            try:
                unet.load_state_dict(tensors)
            except RuntimeError as err:
                raise ValueError(f"stable-diffusion backend: the state is not a full UNet of this model "
                                 f"(a LoRA checkpoint with finetune.lora_rank=0?): {str(err)[:200]}") from None
        self.fresh = False


def _check_sampling(cfg) -> None:
    s, m = cfg.sampling, cfg.model
    if s.cfg_schedule != "constant" and s.cfg_scale <= 1 < s.cfg_end:
        raise ConfigError(f"sampling.cfg_end={s.cfg_end}: the pipeline cannot switch guidance on mid-way "
                          f"(sampling.cfg_scale={s.cfg_scale} <= 1 starts without it)")
    if m.generation == "img2img" and int(s.steps * m.strength) < 1:
        raise ConfigError(f"model.strength={m.strength}: with sampling.steps={s.steps} image-to-image would "
                          "run no denoising step (it runs int(steps * strength))")
    if cfg.data.eval_only_classes:
        raise ConfigError("data.eval_only_classes: class ids mean nothing to the stable-diffusion backend; "
                          "use model.eval_prompts for prompts never trained on")
