"""The `ddpm` backend on tiny images and a tiny UNet: loaders and their errors at validate time,
the UNet's shape (UNet48 expressible), each `finetune.init`, EMA and checkpoints, and the
classifier / dinov2 / inception feature spaces on random-weight networks built here, offline."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from autophagy import config, preflight, sweepfile
from autophagy.backends.ddpm import data
from autophagy.backends.images import unet
from autophagy.backends.ddpm.backend import DDPMBackend
from autophagy.metrics import features

TINY = {"resolution": 8, "block_out_channels": [8, 16], "layers_per_block": 1, "norm_groups": 4,
        "mid_attention": False, "train_timesteps": 50, "classifier_steps": 30, "min_class_images": 3}


def write_folder(root, classes=("a", "b"), per_class=12, size=12, mode="RGB", seed=0):
    """Random images with a class-specific tint, one subfolder per class (none if classes is empty)."""
    rng = np.random.default_rng(seed)
    for i, c in enumerate(classes or [None]):
        folder = root / c if c else root
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            a = rng.integers(0, 128, (size, size, 3), dtype=np.uint8)
            a[..., i % 3] += 120
            Image.fromarray(a).convert(mode).save(folder / f"{j}.png")
    return root


def make_cfg(path, **sections):
    raw = {"name": "t", "backend": "ddpm", "generations": 1, "images_per_generation": 12,
           "grid": {"ratio": [1.0]}, "data": {"path": str(path), "holdout": 10}, "model": TINY,
           "finetune": {"steps": 3, "batch_size": 8, "lora_rank": 0, "init": "scratch"},
           "sampling": {"steps": 2, "cfg_scale": 1.5}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    cfg = sweepfile.from_dict(raw)
    preflight.check(cfg, "sweep.yaml")  # what `autophagy validate` runs: the data and the weights
    return cfg


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tensors: a second thread only adds contention on the two shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def assets(folder):
    return DDPMBackend.prepare(make_cfg(folder))


# ------------------------------------------------------------------------------ data


def test_image_folder_classes_and_resize(folder):
    real = data.load(str(folder), 8)
    assert real.x.shape == (24, 3, 8, 8) and real.x.dtype == np.uint8
    np.testing.assert_array_equal(real.y, [0] * 12 + [1] * 12)  # sorted subfolder names, as ImageFolder
    # class a is tinted red, b green: the resize keeps the colours apart
    assert real.x[:12, 0].mean() > real.x[:12, 1].mean() + 50 and real.x[12:, 1].mean() > real.x[12:, 0].mean() + 50


def test_flat_greyscale_folder_is_unlabelled_one_channel(tmp_path):
    write_folder(tmp_path, classes=(), per_class=15, mode="L")
    real = data.load(str(tmp_path), 8)
    assert real.x.shape == (15, 1, 8, 8) and (real.y == -1).all()


@pytest.mark.parametrize("shape,labels", [((20, 8, 8), True), ((20, 2, 8, 8), False), ((20, 8, 8, 3), True)])
def test_npz_with_or_without_channels_and_labels(tmp_path, shape, labels):
    arrays = {"images": np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)}
    if labels:
        arrays["labels"] = np.arange(20) % 4
    np.savez(tmp_path / "d.npz", **arrays)
    real = data.load(str(tmp_path / "d.npz"), 4)
    channels = 1 if len(shape) == 3 else 2 if shape[1] == 2 else 3
    assert real.x.shape == (20, channels, 4, 4)
    assert (real.y == (np.arange(20) % 4 if labels else -1)).all()


def test_bad_data_is_refused_by_preflight_naming_the_path(tmp_path, folder):
    broken = write_folder(tmp_path / "broken")
    (broken / "a" / "3.png").write_bytes(b"not a png")
    with pytest.raises(config.ConfigError, match=r"data.path=.*cannot read .*a/3.png"):
        make_cfg(broken)
    wide = write_folder(tmp_path / "wide")
    Image.new("RGB", (12, 6)).save(wide / "b" / "wide.png")
    with pytest.raises(config.ConfigError, match=r"wide.png is 12x6, not square"):
        make_cfg(wide)
    few = write_folder(tmp_path / "few", classes=("a", "b", "c"))
    for f in sorted((few / "c").iterdir())[1:]:
        f.unlink()
    with pytest.raises(config.ConfigError, match=r"data.path=.*few.*class 2 has 1 images.*min_class_images=3"):
        make_cfg(few)
    with pytest.raises(config.ConfigError, match=r"data.path=.*nowhere': no such file or directory"):
        make_cfg(tmp_path / "nowhere")
    with pytest.raises(config.ConfigError, match=r"sweep.yaml: images_per_generation: 20 .*holds only 14"):
        make_cfg(folder, images_per_generation=20)


def test_model_and_feature_settings_are_validated_at_load(tmp_path, folder):
    with pytest.raises(config.ConfigError, match="model.block_out_channels.*norm_groups"):
        make_cfg(folder, model={"block_out_channels": [6, 8]})
    with pytest.raises(config.ConfigError, match="model.resolution.*2\\^2"):
        make_cfg(folder, model={"block_out_channels": [8, 8, 8], "resolution": 6})
    with pytest.raises(config.ConfigError, match="model.attention_levels"):
        make_cfg(folder, model={"attention_levels": [2]})
    with pytest.raises(config.ConfigError, match="finetune.lora_rank.*scratch"):
        make_cfg(folder, finetune={"lora_rank": 4})
    with pytest.raises(config.ConfigError, match="metrics.dinov2_path='/nowhere/dino': no Dinov2Model"):
        make_cfg(folder, metrics={"features": "dinov2", "dinov2_path": "/nowhere/dino"})
    with pytest.raises(config.ConfigError, match="metrics.inception_weights='/nowhere/i.pth': no such file"):
        make_cfg(folder, metrics={"features": "inception", "inception_weights": "/nowhere/i.pth"})
    flat = write_folder(tmp_path / "flat", classes=(), per_class=24)
    with pytest.raises(config.ConfigError, match="metrics.features: classifier needs class labels"):
        make_cfg(flat)


def test_unet48_of_shi_et_al_is_expressible():
    m = sweepfile.from_dict({"name": "t", "backend": "ddpm", "generations": 1, "images_per_generation": 10,
                          "grid": {"ratio": [0.0]}, "data": {"path": None, "holdout": 100},
                          "model": {"resolution": 32, "block_out_channels": [48, 48, 96, 96, 192, 192],
                                    "layers_per_block": 2, "norm_groups": 16, "attention_levels": [4]},
                          "finetune": {"init": "scratch", "lora_rank": 0}}).model
    net = unet._build(m, channels=3, classes=0)
    assert net.config.down_block_types[4] == "AttnDownBlock2D" and net.config.up_block_types[1] == "AttnUpBlock2D"
    assert net.config.down_block_types.count("AttnDownBlock2D") == 1 == net.config.up_block_types.count("AttnUpBlock2D")
    assert net.config.norm_num_groups == 16 and net.config.num_class_embeds is None
    assert 10e6 < sum(p.numel() for p in net.parameters()) < 20e6  # diffusers' example UNet at these widths


# ------------------------------------------------------------------------------ one generation


def train_set(backend, n=12):
    pool, _ = backend.real_data()
    return pool.take(np.arange(n))


def test_generation_gives_finite_metrics_of_every_name(folder, assets):
    cfg = make_cfg(folder)
    backend = DDPMBackend(cfg, assets)
    fit = backend.finetune(train_set(backend), seed=1)
    assert math.isfinite(fit["loss"]) and fit["steps"] == 3
    samples = backend.sample(12, seed=2)
    assert samples.x.shape == (12, 3, 8, 8) and samples.x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(samples.y), [6, 6])
    result = backend.evaluate(samples, train_set(backend), seed=3)
    assert tuple(result) == DDPMBackend.metric_names(cfg) and "class_agreement" in result
    assert all(math.isfinite(v) for v in result.values()), result
    copies = backend.evaluate(train_set(backend), train_set(backend), seed=3)
    assert copies["memorization_share"] == 1.0 and copies["generalization_score"] < 1e-4


@pytest.mark.parametrize("init", ["scratch", "base", "previous"])
def test_each_init(folder, assets, init):
    """A generation trained after another equals one trained first exactly when `init` forgets
    the earlier one (scratch: fresh weights from its seed; base: the base); previous continues."""
    cfg = make_cfg(folder, finetune={"init": init})
    chain = DDPMBackend(cfg, assets)
    chain.finetune(train_set(chain), seed=1)
    chain.finetune(train_set(chain), seed=2)
    first = DDPMBackend(cfg, assets)
    first.finetune(train_set(first), seed=2)
    same = np.array_equal(chain.sample(6, seed=4).x, first.sample(6, seed=4).x)
    assert same == (init != "previous")


def test_scratch_differs_by_seed_and_ema_state_round_trips(folder, assets):
    cfg = make_cfg(folder, model={"ema_decay": 0.5, "warmup_steps": 1, "lr_schedule": "cosine", "grad_clip": 1.0,
                                  "sampler": "ddpm"}, finetune={"init": "previous"})
    trained = DDPMBackend(cfg, assets)
    trained.finetune(train_set(trained), seed=1)
    state = trained.state()
    assert any(k.startswith("ema.") for k in state)
    restored = DDPMBackend(cfg, assets)
    assert not np.array_equal(restored.sample(6, seed=4).x, trained.sample(6, seed=4).x)
    restored.load_state(state)
    np.testing.assert_array_equal(restored.sample(6, seed=4).x, trained.sample(6, seed=4).x)
    trained.finetune(train_set(trained), seed=2)
    restored.finetune(train_set(restored), seed=2)
    np.testing.assert_array_equal(restored.sample(6, seed=4).x, trained.sample(6, seed=4).x)


def test_unconditional_npz_with_dinov2_features(tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                             patch_size=14, image_size=56)).save_pretrained(tmp_path / "dino")
    np.savez(tmp_path / "d.npz", images=np.random.default_rng(0).integers(0, 256, (30, 8, 8), dtype=np.uint8))
    cfg = make_cfg(tmp_path / "d.npz", metrics={"features": "dinov2", "dinov2_path": str(tmp_path / "dino")})
    assert "class_agreement" not in cfg.model.metric_names(cfg)
    backend = DDPMBackend(cfg, DDPMBackend.prepare(cfg))
    assert backend.features(backend.real_data()[0].x[:4]).shape == (4, 32)
    backend.finetune(train_set(backend), seed=1)
    samples = backend.sample(12, seed=2)
    assert (samples.y == -1).all() and samples.x.shape == (12, 1, 8, 8)
    result = backend.evaluate(samples, train_set(backend), seed=3)
    assert all(math.isfinite(v) for v in result.values()), result


def test_inception_features_from_a_local_random_weights_file(tmp_path, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    # torch-fidelity's Inception with random weights: no download, the state saved where a user's would be.
    monkeypatch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
    torch.manual_seed(0)
    net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    monkeypatch.undo()
    torch.save(net.state_dict(), tmp_path / "inception.pth")
    extract = features.inception(str(tmp_path / "inception.pth"), "cpu")
    x = np.random.default_rng(0).integers(0, 256, (2, 1, 8, 8), dtype=np.uint8)
    out = extract(x)
    assert out.shape == (2, 2048) and np.isfinite(out).all()
    np.testing.assert_allclose(extract(np.repeat(x, 3, axis=1)), out, rtol=1e-5)  # greyscale is repeated to RGB


def test_epochs_set_the_steps_and_conditional_false_ignores_labels(folder, tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    Dinov2Model(Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                             image_size=28)).save_pretrained(tmp_path / "dino")
    cfg = make_cfg(folder, model={"epochs": 5, "conditional": False},
                   metrics={"features": "dinov2", "dinov2_path": str(tmp_path / "dino")})
    backend = DDPMBackend(cfg, DDPMBackend.prepare(cfg))
    assert backend.unet.config.num_class_embeds is None and (backend.real_data()[0].y == -1).all()
    assert backend.finetune(train_set(backend, 12), seed=1)["steps"] == 8  # ceil(5 epochs x 12 / batch 8)
    assert (backend.sample(4, seed=2).y == -1).all()
