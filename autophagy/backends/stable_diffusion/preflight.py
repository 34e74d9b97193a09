"""What the stable-diffusion backend checks before Ray starts (`autophagy validate` and `run`):
the pipeline directory, the Inception and CLIP weights, the image folder. No torch, no diffusers:
file system facts and image headers only, so it takes well under a second for a few hundred images.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from autophagy.backends.stable_diffusion import data
from autophagy.config import ConfigError

COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")


def check(cfg, problems=None) -> None:
    """Refuse missing local files by the key that names them: model.path, model.inception_weights,
    model.clip_path, each on its own, into `problems` (autophagy.preflight.Problems); without it
    (the backend's own check on the driver), raise them. (data.path is checked by data.read_metadata.)"""
    from autophagy.preflight import Problems

    own = problems is None
    problems = Problems() if own else problems
    with problems.guard():
        _pipeline(cfg.model)
    with problems.guard():
        _weights(cfg.model)
    with problems.guard():
        _clip(cfg.model)
    if own and problems.lines:
        raise ConfigError("; ".join(problems.lines))


def _pipeline(m) -> None:
    root = Path(m.path)
    where = f"model.path={m.path!r}"
    if not root.is_dir():
        raise ConfigError(f"{where}: no such directory. It must hold a diffusers pipeline; on a machine "
                          f"with network: `huggingface-cli download stabilityai/sd-turbo --local-dir {m.path}` "
                          "(or stabilityai/stable-diffusion-2-1), then copy the directory here")
    if not (root / "model_index.json").is_file():
        raise ConfigError(f"{where}: no model_index.json: not a diffusers pipeline directory "
                          "(save one with StableDiffusionPipeline.save_pretrained)")
    missing = [c for c in COMPONENTS if not (root / c).is_dir()]
    if missing:
        raise ConfigError(f"{where}: lacks the component folder(s) {', '.join(missing)}")


def _weights(m) -> None:
    if m.inception_weights is not None and not Path(m.inception_weights).is_file():
        raise ConfigError(f"model.inception_weights={m.inception_weights!r}: no such file. It is torch-fidelity's "
                          f"Inception-v3 (FID): download {INCEPTION_URL} on a machine with network "
                          f"(`curl -L -o {Path(m.inception_weights).name} URL`) and copy it to that path, "
                          "or set model.inception_weights: null to go without FID")


def _clip(m) -> None:
    if m.clip_path is not None and not (Path(m.clip_path) / "config.json").is_file():
        raise ConfigError(f"model.clip_path={m.clip_path!r}: not a transformers CLIP directory (no config.json); "
                          "e.g. `huggingface-cli download openai/clip-vit-large-patch14 --local-dir DIR`, "
                          "or set model.clip_path: null to go without CLIP score")


def pool_size(cfg, problems) -> int | None:
    """Check the local files and the image folder (every row's image opens); return the size of
    the real training pool (the folder less `data.holdout`), None when the folder cannot be read."""
    check(cfg, problems)
    with problems.guard():
        return _pool(cfg)
    return None


def _pool(cfg) -> int:
    rows = data.read_metadata(cfg.data.path)
    for name, _ in rows:
        try:
            with Image.open(Path(cfg.data.path) / name):  # reads the header only
                pass
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"data.path: {Path(cfg.data.path) / name} is not a readable image ({err})") from None
    if cfg.data.holdout >= len(rows):
        raise ValueError(f"data.holdout: {cfg.data.holdout} held-out images leave none to train on "
                         f"(the image folder holds {len(rows)})")
    return len(rows) - cfg.data.holdout
