"""Stable Diffusion pipelines with random weights, built from config and saved like real ones, so
the backend's own loading path (`model.path`, local_files_only) runs offline: the tests' tiny
pipeline and the GPU benchmark's SD-2.1-shaped one (speed and memory do not depend on weights).
The tokenizer is a byte-level CLIP BPE vocabulary of single characters: any text tokenizes."""

from __future__ import annotations

import json
from pathlib import Path

import torch

SD21_UNET = dict(  # stabilityai/stable-diffusion-2-1-base unet/config.json
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, sample_size=64, in_channels=4, out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True, norm_num_groups=32)
SD21_VAE = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, norm_num_groups=32,
                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)
SD21_TEXT = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                 max_position_embeddings=77, vocab_size=49408, hidden_act="gelu", projection_dim=512)
TINY_UNET = dict(block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                 cross_attention_dim=16, norm_num_groups=4, attention_head_dim=2)
TINY_VAE = dict(block_out_channels=(8,), layers_per_block=1, latent_channels=4, norm_num_groups=4,
                down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",), sample_size=16)
TINY_TEXT = dict(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1,
                 max_position_embeddings=16, vocab_size=514)


def _bytes_to_unicode() -> list[str]:
    """CLIP's byte-to-character table: a byte-level vocabulary of it tokenizes any text, offline."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tokenizer(directory: Path) -> int:
    """vocab.json and merges.txt of the single-character CLIP vocabulary; returns its size."""
    directory.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    return len(vocab)


def tokenizer(directory: Path, text: dict):
    from transformers import CLIPTokenizer

    return CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"),
                         model_max_length=text["max_position_embeddings"])


def text_config(text: dict, vocab: int) -> dict:
    """A CLIP text-model config over the vocabulary `write_tokenizer` wrote."""
    return dict(bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1, **{**text, "vocab_size": vocab})


def build_pipeline(directory: Path, tiny: bool) -> Path:
    """A random-weight SD pipeline (SD 2.1's shapes, or tiny) saved with save_pretrained to directory/sd."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab = write_tokenizer(directory)
    text = TINY_TEXT if tiny else SD21_TEXT
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):  # random init of 1.3B weights: GPU is faster
        unet = UNet2DConditionModel(**(TINY_UNET if tiny else SD21_UNET))
        vae = AutoencoderKL(in_channels=3, out_channels=3, **(TINY_VAE if tiny else SD21_VAE))
        encoder = CLIPTextModel(CLIPTextConfig(**text_config(text, vocab)))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=encoder, tokenizer=tokenizer(directory, text),
                                   scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(directory / "sd")
    return directory / "sd"
