"""sweeps/shi_cifar10.yaml validates against a tiny image folder and a tiny random DINOv2 (offline),
with its settings as Shi et al.'s code has them; preflight refuses sizes the folder cannot supply."""

from pathlib import Path

import pytest
from test_ddpm_backend import write_folder

from autophagy import cli, grid, sweepfile

SWEEP = Path(__file__).parent.parent / "sweeps" / "shi_cifar10.yaml"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model

    root = tmp_path_factory.mktemp("shi")
    Dinov2Model(Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                             image_size=28)).save_pretrained(root / "dino")
    folder = write_folder(root / "cifar", classes=("airplane", "cat", "truck"), per_class=10, size=32)
    return [f"data.path={folder}", f"metrics.dinov2_path={root / 'dino'}", "data.holdout=10"]


def test_shipped_sweep_is_shi_et_al_settings(local):
    cfg = sweepfile.load(SWEEP, sweepfile.parse_set(local))
    m = cfg.model
    assert (m.block_out_channels, m.layers_per_block, m.norm_groups, m.attention_levels) == (
        (48, 48, 96, 96, 192, 192), 2, 16, (4,))
    assert (m.train_timesteps, m.beta_schedule, m.prediction_type, m.sampler, cfg.sampling.steps) == (
        1000, "linear", "epsilon", "ddpm", 1000)
    assert (cfg.finetune.lr, cfg.finetune.weight_decay, m.adam_beta1, m.warmup_steps, m.lr_schedule, m.grad_clip,
            cfg.finetune.batch_size, m.epochs) == (1e-4, 1e-6, 0.95, 500, "cosine", 1.0, 128, 501)
    assert cfg.finetune.init == "scratch" and cfg.generations == 30 and cfg.metrics.features == "dinov2"
    assert cfg.mitigation_params.accumulate.real_as_source  # their accumulate: real is one of g+1 shares
    assert cfg.mitigation_params.threshold_decay.tau0 == 60 and cfg.mitigation_params.greedy.space == "features"
    cells = grid.cells(cfg)
    assert len(cells) == 18 and {c.extra for c in cells} == {(("images_per_generation", n),) for n in (1024, 4096, 16384)}


def test_validate_on_a_tiny_folder_and_preflight_refusal(local, capsys):
    small = local + ["grid.images_per_generation=[8, 16]"]
    assert cli.main(["validate", str(SWEEP), *sum((["--set", s] for s in small), [])]) == 0
    assert "12 chains" in capsys.readouterr().out
    assert cli.main(["validate", str(SWEEP), *sum((["--set", s] for s in local), [])]) == 2
    assert "images_per_generation: 1024" in capsys.readouterr().err
