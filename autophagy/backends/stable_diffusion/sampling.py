"""Text-to-image and image-to-image through the diffusers pipelines, with a CFG scale that may
change over the sampling steps (ReDiFine's schedule, arXiv 2407.17493).

The scale follows diffusers' convention: w <= 1 samples the conditional model alone (SD-Turbo
runs at w = 0). A schedule is applied by `callback_on_step_end`, which sets the pipeline's scale
for the next step; once it reaches 1 the unconditional half of the batch is dropped for the
remaining steps (diffusers' documented "dynamic CFG" pattern), which is what w = 1 computes anyway.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

from autophagy.guidance import cfg_schedule  # noqa: F401  (sampling.cfg_schedule)


class _Schedule:
    """callback_on_step_end: after step i, set the scale of step i + 1."""

    tensor_inputs = ["prompt_embeds"]

    def __init__(self, sampling):
        self.s = sampling
        self.used: list[float] = []  # the scale of each step, as run (tests read it)

    def start(self, steps: int) -> float:
        self.used = [float(self.scales(steps)[0])]
        return self.used[0]

    def scales(self, steps: int) -> np.ndarray:
        return cfg_schedule(self.s.cfg_scale, self.s.cfg_end, self.s.cfg_schedule, steps)

    def __call__(self, pipe, i: int, t, kwargs: dict) -> dict:
        scales = self.scales(pipe.num_timesteps)
        if i + 1 >= len(scales):
            return {}
        w = float(scales[i + 1])
        was_guided = pipe.do_classifier_free_guidance
        if was_guided and w <= 1:
            kwargs = {"prompt_embeds": kwargs["prompt_embeds"].chunk(2)[1]}  # keep the conditional half
        elif not was_guided:
            w, kwargs = min(w, 1.0), {}  # guidance cannot start mid-way: the batch has no unconditional half
        else:
            kwargs = {}
        pipe._guidance_scale = w
        self.used.append(w if w > 1 else min(w, 1.0))
        return kwargs


def generate(pipe: StableDiffusionPipeline | StableDiffusionImg2ImgPipeline, prompts: list[str], sampling, *,
             resolution: int, batch: int, generator: torch.Generator, init: np.ndarray | None = None,
             strength: float = 1.0, autocast_dtype: torch.dtype | None = None) -> np.ndarray:
    """uint8 (N, 3, R, R) images for `prompts`; `init` (uint8 (N, 3, R, R)) switches to
    image-to-image: each image noised to `strength` and denoised with its prompt."""
    out = []
    device = pipe.unet.device
    amp = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
           else contextlib.nullcontext())
    for start in range(0, len(prompts), batch):
        chunk = prompts[start:start + batch]
        schedule = _Schedule(sampling)
        # The pipeline runs int(steps * strength) of `steps` when it starts from an image.
        run = max(1, int(sampling.steps * strength)) if init is not None else sampling.steps
        kwargs = dict(prompt=chunk, num_inference_steps=sampling.steps, guidance_scale=schedule.start(run),
                      generator=generator, output_type="np", callback_on_step_end=schedule,
                      callback_on_step_end_tensor_inputs=schedule.tensor_inputs)
        if init is None:
            kwargs.update(height=resolution, width=resolution)
        else:
            kwargs.update(image=torch.from_numpy(init[start:start + batch]).float() / 255, strength=strength)
        with torch.no_grad(), amp:
            images = pipe(**kwargs).images  # float (n, R, R, 3) in [0, 1]
        out.append(np.round(np.clip(images, 0, 1) * 255).astype(np.uint8).transpose(0, 3, 1, 2))
    return np.concatenate(out)
