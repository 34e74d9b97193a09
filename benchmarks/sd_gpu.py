"""The stable-diffusion backend against plain diffusers on one GPU: LoRA finetune steps/s and
sampling images/s at 512 px, peak GPU memory, and how many chains fit on the GPU.

    .venv/bin/python benchmarks/sd_gpu.py                 # SD-2.1-shaped, 512 px, needs a CUDA GPU
    .venv/bin/python benchmarks/sd_gpu.py --tiny          # a tiny pipeline at 16 px, any CPU (the test)
    .venv/bin/python benchmarks/sd_gpu.py --json out.json

The pipeline (autophagy/backends/stable_diffusion/random_weights.py) has SD 2.1's shapes
(UNet2DConditionModel config of stabilityai/stable-diffusion-2-1-base: 866M parameters; its VAE; a 23-layer, 1024-wide CLIP text encoder) and random weights, so no
download is needed: speed and memory do not depend on the weights. It is saved to a temporary
directory and loaded back through the backend's own path (`model.path`, local_files_only).

Measured the same way on both sides, after one warm-up round each:
  backend finetune  StableDiffusionBackend.finetune (accelerate fp16, latents encoded once)
  plain finetune    diffusers' train_text_to_image_lora.py loop: VAE + text encoder every step,
                    torch.autocast + GradScaler, AdamW on the adapter
  backend sample    StableDiffusionBackend.sample (the pipeline, batches of model.sample_batch)
  plain sample      StableDiffusionPipeline.__call__ on one batch of the same size and steps
Chains per GPU = floor(0.9 x GPU memory / peak memory of one backend), one chain's peak being
its finetune + sampling, which do not overlap within a chain.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autophagy.backends.stable_diffusion.random_weights import build_pipeline

# (resolution, images, finetune steps, batch size, sampling steps, sample batch)
SIZES = {"sd21": (512, 16, 20, 4, 25, 8), "tiny": (16, 8, 4, 4, 3, 4)}


def write_images(directory: Path, n: int, resolution: int) -> Path:
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8)).save(directory / f"{i}.png")
        rows.append(json.dumps({"file_name": f"{i}.png", "text": f"photo {i}"}))
    (directory / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    return directory


def timed(fn, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def plain_finetune(pipe, x: np.ndarray, prompts: list[str], steps: int, batch: int, rank: int, device: str) -> None:
    """diffusers' LoRA training loop, reduced to its core (train_text_to_image_lora.py)."""
    from diffusers import DDPMScheduler
    from peft import LoraConfig

    unet, half = pipe.unet, device == "cuda"
    if not getattr(unet, "_hf_peft_config_loaded", False):
        unet.requires_grad_(False)
        unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                    target_modules=["to_k", "to_q", "to_v", "to_out.0"]))
        for p in unet.parameters():
            if p.requires_grad:
                p.data = p.data.float()
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    scaler = torch.amp.GradScaler(device, enabled=half)
    images = torch.from_numpy(x).to(device) / 127.5 - 1
    for step in range(steps):
        idx = torch.arange(step * batch, (step + 1) * batch) % len(x)
        with torch.no_grad():
            latents = pipe.vae.encode(images[idx].to(pipe.vae.dtype)).latent_dist.sample() * pipe.vae.config.scaling_factor
            ids = pipe.tokenizer([prompts[i] for i in idx], padding="max_length", truncation=True,
                                 max_length=pipe.tokenizer.model_max_length, return_tensors="pt").input_ids
            hidden = pipe.text_encoder(ids.to(device))[0]
        noise = torch.randn_like(latents)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (batch,), device=device)
        with torch.autocast(device, dtype=torch.float16, enabled=half):
            pred = unet(noise_scheduler.add_noise(latents, noise, t), t, hidden).sample
            loss = torch.nn.functional.mse_loss(pred.float(), noise.float())
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny pipeline at 16 px: runs anywhere in seconds")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args(argv)
    from autophagy import sweepfile
    from autophagy.backends.stable_diffusion.backend import StableDiffusionBackend

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if not args.tiny and device != "cuda":
        raise SystemExit("sd_gpu.py: the full-size benchmark needs a CUDA GPU (use --tiny to check it on a CPU)")
    resolution, n, steps, batch, sample_steps, sample_batch = SIZES["tiny" if args.tiny else "sd21"]
    with tempfile.TemporaryDirectory(prefix="autophagy-sd-bench-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        model_dir = build_pipeline(tmp, args.tiny)
        cfg = sweepfile.from_dict({
            "name": "sd-bench", "backend": "stable-diffusion", "generations": 1, "images_per_generation": n,
            "grid": {"ratio": [1.0]}, "data": {"path": str(write_images(tmp / "data", 2 * n, resolution)), "holdout": n},
            "model": {"path": str(model_dir), "resolution": resolution, "mixed_precision": "fp16",
                      "sample_batch": sample_batch},
            "finetune": {"steps": steps, "batch_size": batch, "lora_rank": 8},
            "sampling": {"steps": sample_steps, "cfg_scale": 7.5}})
        print(f"pipeline built and saved in {time.perf_counter() - start:.1f} s ({device})")
        backend = StableDiffusionBackend(cfg, StableDiffusionBackend.prepare(cfg), device)
        train = backend.real_data()[0]
        prompts = backend.captions(train.y)
        backend.finetune(train, seed=0)  # warm-up: kernels, allocator, accelerate
        backend.sample(sample_batch, seed=0)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t_finetune = timed(lambda: backend.finetune(train, seed=1), device)
        t_sample = timed(lambda: backend.sample(sample_batch, seed=1), device)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else math.nan
        del backend
        if device == "cuda":
            torch.cuda.empty_cache()

        from autophagy.backends.stable_diffusion import pipeline

        pipe = pipeline.load(cfg, device)  # the same weights and dtypes, driven by plain diffusers
        plain_finetune(pipe, train.x, prompts, 1, batch, 8, device)  # warm-up
        t_plain_finetune = timed(lambda: plain_finetune(pipe, train.x, prompts, steps, batch, 8, device), device)
        call = dict(prompt=prompts[:sample_batch], num_inference_steps=sample_steps, guidance_scale=7.5,
                    height=resolution, width=resolution, output_type="np")
        with torch.autocast(device, dtype=torch.float16, enabled=device == "cuda"):
            pipe(**call)  # warm-up
            t_plain_sample = timed(lambda: pipe(**call), device)
    total = torch.cuda.get_device_properties(0).total_memory / 2**30 if device == "cuda" else math.nan
    result = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "resolution": resolution, "finetune_batch": batch, "sampling_steps": sample_steps,
        "finetune_steps_per_s": steps / t_finetune, "plain_finetune_steps_per_s": steps / t_plain_finetune,
        "sample_images_per_s": sample_batch / t_sample, "plain_sample_images_per_s": sample_batch / t_plain_sample,
        "peak_memory_gb": peak, "gpu_memory_gb": total,
        "chains_per_gpu": math.floor(0.9 * total / peak) if device == "cuda" else None,
        "host_peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }
    for key, value in result.items():
        print(f"{key:28s} {value:.3g}" if isinstance(value, float) else f"{key:28s} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
