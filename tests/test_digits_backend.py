"""The `digits` backend on a tiny model: data, determinism, checkpoints, divergence, metrics.

The model here is far too small and short-trained to draw digits; the tests check plumbing and
contracts, not sample quality (see the backend's docstring for the real-size figures).
"""

import math

import numpy as np
import pytest
import torch

from autophagy import config, sweepfile
from autophagy.backends.images import data, fidelity, metrics
from autophagy.backends.digits.backend import DigitsBackend
from autophagy.metrics import memorization

TINY_MODEL = {"channels": [8, 16], "norm_groups": 4, "pretrain_steps": 30, "pretrain_batch_size": 32,
              "classifier_steps": 300}


def make_cfg(**sections):
    raw = {"name": "t", "backend": "digits", "generations": 2, "images_per_generation": 50,
           "grid": {"ratio": [1.0]}, "model": TINY_MODEL,
           "finetune": {"steps": 10, "batch_size": 16},
           "sampling": {"steps": 4, "cfg_scale": 1.5},
           "data": {"holdout": 200}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return sweepfile.from_dict(raw)


@pytest.fixture(scope="module")
def cfg():
    return make_cfg()


@pytest.fixture(scope="module")
def assets(cfg):
    return DigitsBackend.prepare(cfg)


@pytest.fixture
def backend(cfg, assets):
    return DigitsBackend(cfg, assets)


def train_set(backend, n=50):
    pool, _ = backend.real_data()
    return pool.take(np.arange(n))


# ------------------------------------------------------------------------------ data


def test_sklearn_digits_are_scaled_to_uint8_and_split_the_same_way_every_time():
    digits = data.load(None)
    assert digits.x.shape == (1797, 1, 8, 8) and digits.x.dtype == np.uint8
    assert digits.x.max() == 255 and digits.x.min() == 0
    assert digits.y.dtype == np.int64 and set(digits.y) == set(range(10))
    pool, holdout = data.split(digits, 500)
    again, _ = data.split(data.load(None), 500)
    assert len(pool) == 1297 and len(holdout) == 500
    np.testing.assert_array_equal(pool.x, again.x)
    # Disjoint: no image index lands in both (images themselves may repeat in the data set).
    rows = {r.tobytes() for r in holdout.x.reshape(500, -1)}
    assert sum(r.tobytes() in rows for r in pool.x.reshape(len(pool), -1)) < 5


def test_holdout_larger_than_the_data_names_the_field():
    with pytest.raises(ValueError, match="data.holdout"):
        data.split(data.load(None), 1797)


def test_npz_data_loads_and_bad_files_name_data_path(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((30, 8, 8), np.uint8), labels=np.arange(30) % 10)
    loaded = data.load(str(good))
    assert loaded.x.shape == (30, 1, 8, 8) and loaded.y.dtype == np.int64

    with pytest.raises(FileNotFoundError, match="data.path.*missing.npz"):
        data.load(str(tmp_path / "missing.npz"))
    no_labels = tmp_path / "no_labels.npz"
    np.savez(no_labels, images=np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="data.path.*labels"):
        data.load(str(no_labels))
    floats = tmp_path / "floats.npz"
    np.savez(floats, images=np.zeros((3, 8, 8)), labels=np.zeros(3, int))
    with pytest.raises(ValueError, match="data.path.*uint8"):
        data.load(str(floats))


def test_model_config_errors_name_the_field():
    with pytest.raises(config.ConfigError, match="model.lora_targets.*to_q"):
        make_cfg(model={"lora_targets": ["to_q"]})
    with pytest.raises(config.ConfigError, match="model.channels.*norm_groups"):
        make_cfg(model={"channels": [12, 16], "norm_groups": 8})


# ------------------------------------------------------------------------------ metrics


def test_pairwise_l2_counts_only_same_class_pairs():
    x = np.zeros((3, 1, 2, 2), np.uint8)
    x[1, 0, 0, 0] = 255  # 1.0 away from image 0
    x[2] = 255  # class 1 alone: its distance 2.0 to the others must not count
    assert metrics.pairwise_l2(x, np.array([0, 0, 1])) == pytest.approx(1.0)
    x[2, 0, 0, 0] = 0  # now class 0 has pairs at 1, sqrt(3), sqrt(4)
    assert metrics.pairwise_l2(x, np.array([0, 0, 0])) == pytest.approx((1 + math.sqrt(3) + 2) / 3)


def test_sample_std_class_scores_and_nearest_train():
    x = np.array([[0, 255], [255, 255]], np.uint8).reshape(2, 1, 1, 2)
    assert metrics.sample_std(x) == pytest.approx(0.25)  # pixel 0 std 0.5, pixel 1 std 0
    # nearest_train_l2, as the backend computes it: the generalization score on [0, 1] pixels
    assert memorization.generalization_score(metrics.pixels(x), metrics.pixels(x[:1])) == pytest.approx(0.5)
    y = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 1, 7, 7, 7])
    assert metrics.class_agreement(predicted, y) == pytest.approx(3 / 6)
    assert metrics.class_coverage(predicted, y) == pytest.approx(2 / 3)


def test_class_std_and_confidence():
    x = np.array([0, 255, 0, 0], np.uint8).reshape(4, 1, 1, 1)
    assert metrics.class_std(x, np.array([0, 0, 1, 1])) == pytest.approx((0.25, 0.0))  # std 0.5 and 0
    logits = np.log(np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]]))
    # class 0: probabilities 0.9, 0.5 (mean 0.7); class 1: 0.8; mean of the classes
    assert metrics.class_confidence(logits, np.array([0, 0, 1])) == pytest.approx(0.75)
    assert metrics.class_agreement_min(np.array([0, 1, 1]), np.array([0, 0, 1])) == pytest.approx(0.5)


def test_metric_settings_and_eval_only_classes_are_validated_at_load():
    with pytest.raises(config.ConfigError, match="metrics.entropy_k"):
        make_cfg(metrics={"entropy_k": 0})
    with pytest.raises(config.ConfigError, match="metrics.memorization_threshold"):
        make_cfg(metrics={"memorization_threshold": 1.5})
    with pytest.raises(config.ConfigError, match="metrics.pairwise_max"):
        make_cfg(metrics={"pairwise_max": 1})
    with pytest.raises(config.ConfigError, match="metrics.entropy_k.*images_per_generation=50"):
        make_cfg(metrics={"entropy_k": 50})
    with pytest.raises(config.ConfigError, match=r"data.eval_only_classes.*\[10\]"):
        make_cfg(data={"eval_only_classes": [3, 10]})
    with pytest.raises(config.ConfigError, match="data.eval_only_classes.*every class"):
        make_cfg(data={"eval_only_classes": list(range(10))})
    with pytest.raises(config.ConfigError, match="data.eval_only_classes.*duplicate"):
        make_cfg(data={"eval_only_classes": [3, 3]})
    names = make_cfg(data={"eval_only_classes": [7]}).model.metric_names(make_cfg(data={"eval_only_classes": [7]}))
    assert names[0] == "fid" and "offtarget_fid" in names and "offtarget_class_agreement" in names
    assert not any(n.startswith("offtarget_") for n in make_cfg().model.metric_names(make_cfg()))


# ------------------------------------------------------------------------------ prepare


def test_prepare_is_deterministic_and_leaves_global_rng_alone(cfg, assets):
    before = torch.get_rng_state()
    again = DigitsBackend.prepare(cfg)
    assert torch.equal(before, torch.get_rng_state())
    assert set(again) == {"base.safetensors", "classifier.safetensors", "reference.safetensors"}
    assert again == assets


def test_asset_key_covers_model_and_data(cfg):
    key = DigitsBackend.asset_key(cfg)
    assert key != DigitsBackend.asset_key(make_cfg(model={"pretrain_seed": 1}))
    assert key != DigitsBackend.asset_key(make_cfg(data={"holdout": 300}))
    # What only the finetune uses must not force a new pretraining.
    assert key == DigitsBackend.asset_key(make_cfg(finetune={"lr": 1e-3}, model={"lora_targets": ["conv2"]}))


# ------------------------------------------------------------------------------ one generation


def test_generation_gives_finite_metrics_of_every_name(cfg, backend):
    train = train_set(backend)
    fit = backend.finetune(train, seed=1)
    assert math.isfinite(fit["loss"]) and fit["steps"] == cfg.finetune.steps
    samples = backend.sample(50, seed=2)
    assert samples.x.shape == (50, 1, 8, 8) and samples.x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(samples.y), [5] * 10)
    result = backend.evaluate(samples, train, seed=3)
    assert tuple(result) == DigitsBackend.metric_names(cfg)
    assert all(math.isfinite(v) for v in result.values()), result
    assert result == backend.evaluate(samples, train, seed=3)  # the eval seed fixes KID and subsamples
    # The training set against itself: every sample a copy.
    copies = backend.evaluate(train, train, seed=3)
    assert copies["memorization_share"] == 1.0
    assert copies["nearest_train_l2"] < 1e-6 and copies["generalization_score"] < 1e-3
    assert copies["entropy_train_pixels"] == pytest.approx(copies["entropy_samples_pixels"])


def test_eval_only_classes_stay_out_of_training_and_get_their_own_columns(assets):
    cfg = make_cfg(data={"eval_only_classes": [3, 7]})
    backend = DigitsBackend(cfg, assets)  # the same assets: the base model knows every class
    pool, held_out = backend.real_data()
    assert not np.isin(pool.y, [3, 7]).any() and np.isin(held_out.y, [3, 7]).any()
    train = train_set(backend)
    backend.finetune(train, seed=1)
    samples = backend.sample(48, seed=2)
    np.testing.assert_array_equal(np.bincount(samples.y, minlength=10), [6, 6, 6, 0, 6, 6, 6, 0, 6, 6])
    result = backend.evaluate(samples, train, seed=3)
    assert tuple(result) == DigitsBackend.metric_names(cfg)
    assert all(math.isfinite(v) for v in result.values()), result
    assert result["offtarget_fid"] != result["fid"]
    np.testing.assert_array_equal(backend.sample(48, seed=2).x, samples.x)


def test_samples_follow_the_seed_and_not_the_global_rng(cfg, assets):
    before = torch.get_rng_state()
    backend = DigitsBackend(cfg, assets)
    backend.finetune(train_set(backend), seed=1)
    a = backend.sample(20, seed=5)
    assert torch.equal(before, torch.get_rng_state())  # other code's random draws stay untouched
    torch.manual_seed(12345)
    b = backend.sample(20, seed=5)
    c = backend.sample(20, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("rank", [8, 0])
def test_state_round_trip_gives_identical_samples(assets, rank):
    cfg = make_cfg(finetune={"lora_rank": rank})
    trained = DigitsBackend(cfg, assets)
    trained.finetune(train_set(trained), seed=1)
    restored = DigitsBackend(cfg, assets)
    assert not np.array_equal(restored.sample(10, seed=4).x, trained.sample(10, seed=4).x)
    restored.load_state(trained.state())
    np.testing.assert_array_equal(restored.sample(10, seed=4).x, trained.sample(10, seed=4).x)
    # Resumed and uninterrupted chains must continue alike ("previous" keeps the adapter).
    trained.finetune(train_set(trained), seed=2)
    restored.finetune(train_set(restored), seed=2)
    np.testing.assert_array_equal(restored.sample(10, seed=4).x, trained.sample(10, seed=4).x)


def test_lora_state_is_much_smaller_than_a_full_unet(assets):
    lora = DigitsBackend(make_cfg(finetune={"lora_rank": 2}), assets).state()
    full = DigitsBackend(make_cfg(finetune={"lora_rank": 0}), assets).state()
    size = lambda state: sum(v.nbytes for v in state.values())  # noqa: E731
    assert size(lora) < 0.3 * size(full)
    assert all("lora_" in k for k in lora)


def test_loading_a_full_state_into_a_lora_backend_fails_clearly(assets):
    full = DigitsBackend(make_cfg(finetune={"lora_rank": 0}), assets).state()
    with pytest.raises(ValueError, match="lora_rank"):
        DigitsBackend(make_cfg(finetune={"lora_rank": 4}), assets).load_state(full)


@pytest.mark.parametrize("init,restarts", [("base", True), ("previous", False)])
def test_finetune_init_base_restarts_and_previous_continues(assets, init, restarts):
    cfg = make_cfg(finetune={"init": init})
    chain = DigitsBackend(cfg, assets)
    chain.finetune(train_set(chain), seed=1)
    chain.finetune(train_set(chain), seed=2)
    fresh = DigitsBackend(cfg, assets)
    fresh.finetune(train_set(fresh), seed=2)
    same = np.array_equal(chain.sample(10, seed=4).x, fresh.sample(10, seed=4).x)
    assert same == restarts


def test_huge_learning_rate_returns_nan_instead_of_raising(assets):
    backend = DigitsBackend(make_cfg(finetune={"lr": 1e6, "lora_rank": 0, "steps": 50}), assets)
    fit = backend.finetune(train_set(backend), seed=1)
    assert math.isnan(fit["loss"])
    assert fit["steps"] < 50  # stopped at the first non-finite loss


# ------------------------------------------------------------------------------ the feature extractor


class _AsRGB(torch.utils.data.Dataset):
    """torch-fidelity's input: uint8 3xHxW tensors."""

    def __init__(self, x):
        self.x = torch.from_numpy(x).repeat(1, 3, 1, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def test_torch_fidelity_sees_real_data_close_and_noise_far(backend, assets, tmp_path):
    import torch_fidelity

    pool, holdout = backend.real_data()
    noise = np.random.default_rng(0).integers(0, 256, (200, 1, 8, 8), dtype=np.uint8)
    kwargs = dict(fid=True, feature_extractor=fidelity.NAME, cuda=False, verbose=False, cache=False, save_cpu_ram=True,
                  feature_extractor_weights_path=fidelity.weights_file(assets["classifier.safetensors"]))
    real = torch_fidelity.calculate_metrics(input1=_AsRGB(pool.x[:200]), input2=_AsRGB(holdout.x), **kwargs)
    fake = torch_fidelity.calculate_metrics(input1=_AsRGB(noise), input2=_AsRGB(holdout.x), **kwargs)
    assert real["frechet_inception_distance"] * 10 < fake["frechet_inception_distance"]
    # The backend's own path (features extracted once) agrees with torch-fidelity's.
    features, _ = fidelity.extract(backend.extractor, pool.x[:200])
    ours = backend.reference().compare(features, seed=0)["fid"]
    assert ours == pytest.approx(real["frechet_inception_distance"], rel=1e-3)
