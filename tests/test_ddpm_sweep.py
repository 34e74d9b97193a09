"""The issue's done-criterion: a 16x16 RGB image folder with class subfolders runs end to end
through `autophagy run` with `backend: ddpm` and `finetune.init: scratch`, on Ray, on a tiny UNet."""

import numpy as np
import yaml

from autophagy import cli, rows, sample_strips
from test_ddpm_backend import write_folder

SWEEP = {"name": "tiny-ddpm", "backend": "ddpm", "generations": 2, "images_per_generation": 16,
         "grid": {"ratio": [0.5], "seed": [0], "mitigation": ["none"]},
         "data": {"holdout": 12},
         "model": {"resolution": 16, "block_out_channels": [8, 16], "layers_per_block": 1, "norm_groups": 4,
                   "attention_levels": [1], "train_timesteps": 50, "warmup_steps": 2, "lr_schedule": "cosine",
                   "grad_clip": 1.0, "classifier_steps": 30},
         "finetune": {"steps": 3, "batch_size": 8, "lr": 1e-3, "lora_rank": 0, "init": "scratch"},
         "sampling": {"steps": 2, "cfg_scale": 1.5}, "resources": {"cpus": 1}, "retries": 0}


def test_rgb_class_folder_runs_end_to_end_from_scratch(ray_local, tmp_path):
    folder = write_folder(tmp_path / "images", classes=("cat", "dog"), per_class=14, size=20)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({**SWEEP, "data": {**SWEEP["data"], "path": str(folder)}}))
    assert cli.main(["run", str(sweep), "--out", str(tmp_path / "run")]) == 0

    got = rows.read_rows(tmp_path / "run").sort_values("generation")
    assert list(got.generation) == [0, 1, 2] and (got.status == "ok").all()
    assert list(got.n_synthetic) == [0, 8, 8] and list(got.n_real) == [16, 8, 8]
    assert np.isfinite(got[["fid", "generalization_score", "class_agreement", "train_loss"]].to_numpy()).all()
    strips = sample_strips.read_chain(tmp_path / "run", got.chain_id.iloc[0])
    assert sorted(strips) == [0, 1, 2] and strips[0].shape == (16, 20 * 17 - 1, 3)  # 20 RGB samples of 16x16
    assert not np.array_equal(strips[0], strips[1])  # scratch: a new model, other samples from the same noise
    assert (tmp_path / "run" / "report.html").is_file()
