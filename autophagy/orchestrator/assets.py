"""Per-sweep shared assets (the pretrained base model, the evaluation network), cached on disk.

`Backend.prepare` runs once, as a Ray task on a node's CPUs (and a GPU where chains get one),
and its files are cached under AUTOPHAGY_CACHE (default ~/.cache/autophagy) by a hash of what
they depend on, so every chain and every later sweep with the same base config reuses them.
A cache entry carries a manifest of sha256 sums; a corrupt entry is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import ray

from autophagy.backends import backend_class

VERSION = 1  # bump when a backend's prepare() changes what it produces


def cache_dir() -> Path:
    return Path(os.environ.get("AUTOPHAGY_CACHE", Path.home() / ".cache" / "autophagy"))


def asset_id(cfg) -> str:
    key = {"backend": cfg.backend, "version": VERSION, **backend_class(cfg.backend).asset_key(cfg)}
    return f"{cfg.backend}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}"


def _read(entry: Path) -> dict[str, bytes] | None:
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        files = {name: (entry / name).read_bytes() for name in manifest}
    except (OSError, ValueError):
        return None
    ok = all(hashlib.sha256(blob).hexdigest() == manifest[name] for name, blob in files.items())
    return files if ok else None


def _write(entry: Path, files: dict[str, bytes]) -> None:
    tmp = entry.with_name(entry.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, blob in files.items():
        (tmp / name).write_bytes(blob)
    (tmp / "manifest.json").write_text(json.dumps({n: hashlib.sha256(b).hexdigest() for n, b in files.items()}))
    shutil.rmtree(entry, ignore_errors=True)
    os.replace(tmp, entry)


def _prepare(cfg, cpus: float) -> dict[str, bytes]:
    cls = backend_class(cfg.backend)
    if cls.needs_torch:
        import torch

        torch.set_num_threads(max(1, int(cpus)))
    return cls.prepare(cfg)


def _prepare_cpus(cfg) -> float:
    """Nothing else runs while the assets are prepared: take a whole node's CPUs (up to 8; the
    digits pretraining gains little beyond), or the chain's share if that is more."""
    node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=1)
    return max(cfg.resources.cpus, min(node_cpus, 8))


def load_or_prepare(cfg, log=print) -> dict[str, bytes]:
    entry = cache_dir() / asset_id(cfg)
    files = _read(entry)
    if files is not None:
        log(f"shared assets: cached at {entry}")
        return files
    log(f"shared assets: preparing {entry.name} (once per base config)...")
    cpus = _prepare_cpus(cfg)
    task = ray.remote(_prepare).options(num_cpus=cpus, num_gpus=1 if cfg.resources.gpus else 0)
    files = ray.get(task.remote(cfg, cpus))
    _write(entry, files)
    return files
