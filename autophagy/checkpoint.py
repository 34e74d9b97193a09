"""A chain's checkpoint: `state.safetensors` (arrays) + `meta.json` (plain values), never pickle.

`meta.json` carries the sha256 of `state.safetensors`, so a truncated or corrupt checkpoint is
detected on load and reported with its path instead of silently resuming from garbage.
Checkpoints travel as {file name: bytes} between the chain's actor (wherever its GPU is) and the
Tune trial that persists them, so no node needs to share a filesystem with another.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import safetensors.numpy

FORMAT = 1
STATE, META = "state.safetensors", "meta.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or corrupt; the message names it."""


def pack(arrays: dict[str, np.ndarray], meta: dict) -> dict[str, bytes]:
    blob = safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    meta = {**meta, "format": FORMAT, "sha256": hashlib.sha256(blob).hexdigest()}
    return {STATE: blob, META: json.dumps(meta, sort_keys=True).encode()}


def unpack(files: dict[str, bytes], where: str = "checkpoint") -> tuple[dict[str, np.ndarray], dict]:
    for name in (STATE, META):
        if name not in files:
            raise CheckpointError(f"{where}: incomplete checkpoint, {name} is missing")
    try:
        meta = json.loads(files[META])
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{where}/{META}: corrupt ({err})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{where}: checkpoint format {meta.get('format')!r}, this version reads {FORMAT}")
    digest = hashlib.sha256(files[STATE]).hexdigest()
    if digest != meta.get("sha256"):
        raise CheckpointError(f"{where}/{STATE}: corrupt (sha256 {digest[:12]}… does not match meta.json)")
    return safetensors.numpy.load(files[STATE]), meta


def write_dir(files: dict[str, bytes], directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (directory / name).write_bytes(blob)


def read_dir(directory: Path) -> dict[str, bytes]:
    directory = Path(directory)
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def newest_intact(trial_dirs) -> dict[str, bytes] | None:
    """The files of the newest checkpoint that unpacks (its sha256 matches) among Tune's
    `checkpoint_<index>` folders of these trial directories (searched in the order given, each
    newest index first); None when there is none. A checkpoint cut short by a full disk or a kill
    is passed over for the one before it."""
    for trial_dir in trial_dirs:
        saved = sorted(Path(trial_dir).glob("checkpoint_*"), key=lambda p: p.name, reverse=True)
        for directory in saved:
            files = read_dir(directory)
            try:
                unpack(files, str(directory))
            except CheckpointError:
                continue
            return files
    return None
