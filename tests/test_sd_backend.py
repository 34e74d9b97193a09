"""The `stable-diffusion` backend on a tiny pipeline built from config: loading through the real
`from_pretrained(local_files_only=True)` path, finetune / sample / evaluate / state round trips,
the refusals of missing or bad local files, and a 2-generation sweep through Ray.

The pipeline (65k-parameter UNet, one-block VAE, one-layer CLIP text encoder, a byte-level
tokenizer written here) is built once per session at 16 px: the tests check plumbing and
contracts, not image quality.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from autophagy import grid, rows, sweepfile
from autophagy.backends.stable_diffusion import random_weights
from autophagy.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
RES = 16
SUBJECTS = ["cat", "dog", "car", "tree", "boat", "house"]
COLORS = {"red": (200, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 200), "grey": (128, 128, 128)}


# ------------------------------------------------------------------------------ tiny components


def build_tiny_pipeline(root: Path) -> tuple[Path, Path]:
    """A tiny SD pipeline (random_weights.py) and a tiny CLIP model over its tokenizer, saved with
    save_pretrained: (pipeline dir, clip dir)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    sd = random_weights.build_pipeline(root, tiny=True)
    tokenizer = random_weights.tokenizer(root, random_weights.TINY_TEXT)
    text = random_weights.text_config(random_weights.TINY_TEXT, len(tokenizer))
    clip = CLIPModel(CLIPConfig(text_config=text, projection_dim=8, vision_config=dict(
        image_size=RES, patch_size=8, hidden_size=16, intermediate_size=32, num_attention_heads=2,
        num_hidden_layers=1)))
    clip.save_pretrained(root / "clip")
    images = CLIPImageProcessor(size={"shortest_edge": RES}, crop_size={"height": RES, "width": RES})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(root / "clip")
    return sd, root / "clip"


def write_image_folder(directory: Path, n: int = 24) -> Path:
    """Flat-coloured squares with a shape in a corner, captioned by colour and subject."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        color = list(COLORS)[i % len(COLORS)]
        subject = SUBJECTS[i % len(SUBJECTS)]
        img = np.empty((24, 32, 3), dtype=np.uint8)  # not square: the loader crops
        img[:] = COLORS[color]
        img[4:12, 8 + i % 8:16 + i % 8] = rng.integers(0, 255, 3)
        Image.fromarray(img).save(directory / f"{i:03d}.png")
        lines.append(json.dumps({"file_name": f"{i:03d}.png", "text": f"a {color} {subject}"}))
    (directory / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-sd")
    sd, clip = build_tiny_pipeline(root)
    return {"sd": sd, "clip": clip, "data": write_image_folder(root / "data"), "root": root}


def make_cfg(tiny, **sections):
    raw = {"name": "t", "backend": "stable-diffusion", "generations": 1, "images_per_generation": 10,
           "grid": {"ratio": [1.0]},
           "model": {"path": str(tiny["sd"]), "resolution": RES, "mixed_precision": "no", "sample_batch": 8,
                     "pixel_size": None, "clip_path": str(tiny["clip"]),
                     "eval_prompts": {"similar": ["a red cat", "a blue dog"], "different": ["a grey boat", "a green car"]}},
           "finetune": {"steps": 3, "batch_size": 4, "lr": 1e-3},
           "sampling": {"steps": 3, "cfg_scale": 2.0},
           "data": {"path": str(tiny["data"]), "holdout": 10},
           "resources": {"cpus": 1}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return sweepfile.from_dict(raw)


@pytest.fixture(scope="module")
def sd():
    from autophagy.backends.stable_diffusion import backend, data, pipeline, sampling

    torch.set_num_threads(1)  # two test processes share the two cores; one thread is as fast here
    return backend, data, pipeline, sampling


@pytest.fixture(scope="module")
def cfg(tiny):
    return make_cfg(tiny)


@pytest.fixture(scope="module")
def assets(sd, cfg):
    return sd[0].StableDiffusionBackend.prepare(cfg)


@pytest.fixture
def backend(sd, cfg, assets):
    return sd[0].StableDiffusionBackend(cfg, assets)


def first_train(backend, n=10):
    pool, _ = backend.real_data()
    return pool.take(np.arange(n))


# ------------------------------------------------------------------------------ config and refusals


def test_metric_columns_follow_the_config(cfg, tiny):
    names = cfg.model.metric_names()
    assert names[0] == "clip_score"  # no Inception weights: no FID columns
    assert {"pairwise_l2_similar", "clip_score_similar", "pairwise_l2_different", "clip_score_different"} <= set(names)
    with_fid = make_cfg(tiny, model={"inception_weights": "/x.pth"}, collapse={"metric": "fid"})
    assert with_fid.model.metric_names()[:4] == ("fid", "kid", "precision", "recall")


@pytest.mark.parametrize("model, match", [
    ({"path": None}, r"model\.path: missing"),
    ({"resolution": 20}, r"model\.resolution"),
    ({"eval_prompts": {"Bad Name": ["x"]}}, r"model\.eval_prompts"),
    ({"eval_prompts": {"similar": []}}, r"model\.eval_prompts\.similar"),
    ({"strength": 0.0}, r"model\.strength"),
])
def test_bad_model_section_is_refused_at_load(tiny, model, match):
    with pytest.raises(ConfigError, match=match):
        make_cfg(tiny, model=model)


def test_missing_local_files_are_refused_before_any_chain_naming_key_and_path(sd, tiny):
    backend = sd[0].StableDiffusionBackend
    cases = [({"model": {"path": "/nowhere/sd-turbo"}}, "model.path='/nowhere/sd-turbo': no such directory"),
             ({"model": {"path": str(tiny["data"])}}, "no model_index.json"),
             ({"model": {"inception_weights": "/nowhere/inc.pth"}}, "model.inception_weights='/nowhere/inc.pth': no such file"),
             ({"model": {"clip_path": "/nowhere/clip"}}, "model.clip_path='/nowhere/clip'"),
             ({"data": {"path": "/nowhere/faces"}}, "data.path='/nowhere/faces': no such directory")]
    for sections, message in cases:
        with pytest.raises((ConfigError, FileNotFoundError)) as err:
            backend.asset_key(make_cfg(tiny, **sections))
        assert message in str(err.value)
    with pytest.raises(ConfigError, match="download https://github.com/toshas/torch-fidelity"):
        backend.asset_key(make_cfg(tiny, model={"inception_weights": "/nowhere/inc.pth"}))


@pytest.mark.parametrize("content, match", [
    (None, "no metadata.jsonl"),
    ('{"file_name": "000.png", "text": "a cat"}\nnot json\n', r"metadata.jsonl:2: not valid JSON"),
    ('{"file_name": "000.png"}\n', r"metadata.jsonl:1: 'text' must be a non-empty string"),
    ('["000.png", "a cat"]\n', r"metadata.jsonl:1: expected a JSON object"),
    ('{"file_name": "missing.png", "text": "a cat"}\n', r"metadata.jsonl:1: image 'missing.png' not found"),
    ("\n", "no rows"),
])
def test_bad_metadata_is_refused_with_file_and_line(sd, tmp_path, content, match):
    data = sd[1]
    (tmp_path / "000.png").write_bytes((ROOT / "tests" / "test_sd_backend.py").read_bytes()[:10])
    if content is not None:
        (tmp_path / "metadata.jsonl").write_text(content)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        data.read_metadata(str(tmp_path))


def test_unreadable_image_is_refused(sd, tmp_path):
    data = sd[1]
    (tmp_path / "000.png").write_bytes(b"not a png")
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "000.png", "text": "a cat"}\n')
    with pytest.raises(ValueError, match="000.png is not a readable image"):
        data.load(str(tmp_path), RES)


# ------------------------------------------------------------------------------ data and loading


def test_image_folder_is_cropped_resized_and_split_the_same_way(sd, tiny):
    data = sd[1]
    folder = data.load(str(tiny["data"]), RES)
    assert folder.images.shape == (24, 3, RES, RES) and folder.images.dtype == np.uint8
    assert folder.captions[0] == "a red cat" and len(folder.captions) == 24
    pool, holdout = data.split(folder, 10)
    assert len(pool) == 14 and len(holdout) == 10 and not set(pool.y) & set(holdout.y)
    assert np.array_equal(data.split(folder, 10)[1].y, holdout.y)
    assert np.array_equal(pool.x, folder.images[pool.y])  # y is the metadata row: image and caption


def test_pipeline_loads_back_through_the_local_path(sd, cfg):
    pipe = sd[2].load(cfg, "cpu")
    assert pipe.unet.config.block_out_channels == [8, 16] and pipe.safety_checker is None
    assert pipe.tokenizer.model_max_length == 16
    assert all(not p.requires_grad for p in pipe.vae.parameters())


def test_cfg_schedules():
    from autophagy.backends.stable_diffusion.sampling import cfg_schedule

    assert np.allclose(cfg_schedule(5, 1, "linear", 5), [5, 4, 3, 2, 1])
    assert np.allclose(cfg_schedule(5, 1, "cosine", 3), [5, 3, 1])
    assert np.allclose(cfg_schedule(3, 1, "constant", 4), 3)


# ------------------------------------------------------------------------------ the backend


def test_finetune_sample_evaluate(backend, cfg):
    train = first_train(backend)
    fit = backend.finetune(train, seed=1)
    assert np.isfinite(fit["loss"]) and fit["steps"] == 3
    assert np.array_equal(backend.prompt_ids, np.sort(train.y))  # the chain's prompts: generation 0's captions
    s = backend.sample(12, seed=2)
    assert s.x.shape == (12, 3, RES, RES) and s.x.dtype == np.uint8
    assert np.array_equal(s.y[:10], np.sort(train.y)) and np.array_equal(s.y[10:], np.sort(train.y)[:2])
    assert np.array_equal(backend.sample(12, seed=2).x, s.x)  # the seed fixes the images
    assert not np.array_equal(backend.sample(12, seed=3).x, s.x)
    m = backend.evaluate(s, train, seed=4)
    assert list(m) == list(cfg.model.metric_names())
    assert all(np.isfinite(v) for v in m.values()), m
    assert 0 <= m["memorization_share"] <= 1 and m["pairwise_l2"] > 0


def test_state_round_trip_is_the_adapter_and_the_prompts(sd, backend, cfg, assets):
    backend.finetune(first_train(backend), seed=1)
    state = backend.state()
    assert "prompt_ids" in state
    adapter = [k for k in state if k != "prompt_ids"]
    assert adapter and all("lora" in k for k in adapter)  # the adapter only, not the base UNet
    other = sd[0].StableDiffusionBackend(cfg, assets)
    other.load_state(state)
    assert np.array_equal(other.sample(4, seed=5).x, backend.sample(4, seed=5).x)
    # A finetune has moved the model away from the base: the adapter is not a no-op.
    fresh = sd[0].StableDiffusionBackend(cfg, assets)
    assert not np.array_equal(fresh.sample(4, seed=5).x, backend.sample(4, seed=5).x)


def test_a_closed_chains_pipeline_serves_the_next_chain_as_a_fresh_load_would(sd, tiny):
    """An actor handed to the next chain keeps the loaded pipeline (backend.close, then a new
    backend): the next chain's rows equal those of a chain on a freshly loaded pipeline."""
    from autophagy.chain import Chain

    cfg = make_cfg(tiny, model={"clip_path": None, "eval_prompts": {}})
    assets = sd[0].StableDiffusionBackend.prepare(cfg)
    cell = grid.cells(cfg)[0]
    sd[0]._kept.clear()  # no base left by an earlier test

    def run(backend):
        chain = Chain(grid.cell_config(cfg, cell), cell, backend)
        out = []
        while not chain.finished:
            out.append(chain.run_generation())
        return [{k: v for k, v in r.items() if not k.startswith("seconds_")} for r in out]

    first = sd[0].StableDiffusionBackend(cfg, assets)
    run(first)  # trains the adapter away from the base
    first.close()
    kept = sd[0].StableDiffusionBackend(cfg, assets)
    assert kept.pipe is first.pipe  # reused, not read from disk again
    fresh = sd[0].StableDiffusionBackend(cfg, assets)  # `kept` is live: this one loads its own
    assert fresh.pipe is not kept.pipe
    assert run(kept) == run(fresh)
    # A full finetune changes the UNet itself: its pipeline is never handed on.
    full = make_cfg(tiny, finetune={"lora_rank": 0}, model={"clip_path": None, "eval_prompts": {}})
    a = sd[0].StableDiffusionBackend(full, assets)
    a.close()
    assert sd[0].StableDiffusionBackend(full, assets).pipe is not a.pipe


def test_full_finetune_with_accumulation_and_sgd(sd, tiny):
    cfg = make_cfg(tiny, finetune={"lora_rank": 0, "steps": 2, "init": "base"},
                   model={"grad_accum": 2, "optimizer": "sgd", "clip_path": None, "eval_prompts": {}})
    b = sd[0].StableDiffusionBackend(cfg, sd[0].StableDiffusionBackend.prepare(cfg))
    base = {k: v.clone() for k, v in b.pipe.unet.state_dict().items()}
    fit = b.finetune(first_train(b), seed=1)
    assert np.isfinite(fit["loss"]) and fit["steps"] == 2  # optimizer steps, each of 2 micro-batches
    state = b.state()
    assert len(state) - 1 == len(base)  # the whole UNet (+ prompt_ids)
    assert any(not torch.equal(torch.from_numpy(state[f"unet/{k}"]), v) for k, v in base.items())
    b.finetune(first_train(b), seed=1)  # init: base restores the base weights before training
    assert all(np.array_equal(b.state()[k], state[k]) for k in state)  # same seed from the base: same weights


def test_img2img_and_a_guidance_schedule_that_ends_unguided(sd, tiny):
    cfg = make_cfg(tiny, model={"generation": "img2img", "strength": 0.5, "clip_path": None, "eval_prompts": {}},
                   sampling={"steps": 6, "cfg_scale": 3.0, "cfg_schedule": "linear", "cfg_end": 1.0})
    b = sd[0].StableDiffusionBackend(cfg, sd[0].StableDiffusionBackend.prepare(cfg))
    s = b.sample(3, seed=0)
    assert s.x.shape == (3, 3, RES, RES)
    assert np.array_equal(b.sample(3, seed=0).x, s.x)
    # The images start from the real image of their caption: another start gives other images.
    gen = sd[3].generate
    kw = dict(resolution=RES, batch=8, strength=0.5)
    real = b.folder.images[s.y]
    again = gen(b.img2img, b.captions(s.y), cfg.sampling, generator=torch.Generator().manual_seed(0), init=real, **kw)
    other = gen(b.img2img, b.captions(s.y), cfg.sampling, generator=torch.Generator().manual_seed(0), init=255 - real, **kw)
    assert np.array_equal(again, s.x) and not np.array_equal(other, s.x)


def test_schedule_callback_drops_the_unconditional_half_at_scale_one(sd, cfg):
    from autophagy.backends.stable_diffusion import sampling

    pipe = sd[2].load(cfg, "cpu")
    s = dict(steps=5, cfg_scale=3.0, cfg_schedule="linear", cfg_end=1.0)
    schedule = sampling._Schedule(type("S", (), s))
    pipe(["a cat"], num_inference_steps=5, guidance_scale=schedule.start(5), height=RES, width=RES,
         output_type="np", callback_on_step_end=schedule, callback_on_step_end_tensor_inputs=schedule.tensor_inputs)
    assert np.allclose(schedule.used, [3.0, 2.5, 2.0, 1.5, 1.0])


def test_fid_from_shared_reference_features(sd, tiny, monkeypatch):
    """The FID plumbing with a stand-in extractor (a random Inception takes 1 s an image on a CPU
    and has degenerate features): prepare stores the held-out features, evaluate compares."""
    metrics = __import__("autophagy.backends.stable_diffusion.metrics", fromlist=["x"])
    weights = tiny["root"] / "inception.pth"
    weights.write_bytes(b"stand-in")
    monkeypatch.setattr(metrics, "inception", lambda path, device: "stand-in")
    monkeypatch.setattr(metrics, "inception_features",
                        lambda net, x: torch.nn.functional.avg_pool2d(torch.from_numpy(x).float(), 4).flatten(1).numpy())
    cfg = make_cfg(tiny, model={"inception_weights": str(weights), "clip_path": None, "eval_prompts": {}})
    assets = sd[0].StableDiffusionBackend.prepare(cfg)
    b = sd[0].StableDiffusionBackend(cfg, assets)
    holdout = b.real_data()[1]
    assert b.reference.shape == (10, 48)
    same = b.evaluate(holdout, holdout, seed=0)
    assert abs(same["fid"]) < 0.1 and same["precision"] == 1.0  # 10 points in 48-d: a singular covariance
    generated = b.evaluate(b.sample(10, seed=0), first_train(b), seed=0)
    assert generated["fid"] > 1


# ------------------------------------------------------------------------------ through Ray


def test_two_generations_through_ray(ray_local, sd, tiny, tmp_path):
    from autophagy.orchestrator import assets, sweep

    cfg = make_cfg(tiny, generations=1, images_per_generation=6, grid={"ratio": [1.0], "mitigation": ["redifine"]},
                   model={"eval_prompts": {"different": ["a grey boat", "a green car"]}}, sampling={"steps": 2},
                   finetune={"steps": 2}, retries=0)
    # The shared assets, prepared here and cached as the sweep would: saves the sweep a Ray worker
    # that imports torch and diffusers only to prepare them (about 10 s on two busy cores).
    assets._write(assets.cache_dir() / assets.asset_id(cfg), sd[0].StableDiffusionBackend.prepare(cfg))
    results = sweep.run(cfg, tmp_path / "run", progress=False)
    assert all(r.error is None for r in results), [r.error for r in results]
    df = rows.read_rows(tmp_path / "run")
    assert len(df) == 2 and set(df.generation) == {0, 1} and (df.status == "ok").all()
    assert df.chain_id.iloc[0] == grid.cells(cfg)[0].chain_id
    for name in cfg.model.metric_names():
        assert df[name].notna().all(), name
    assert (df.n_synthetic == [0, 6]).all()


def test_a_missing_model_path_stops_the_sweep_before_any_chain(ray_local, tiny, tmp_path):
    from autophagy.orchestrator import sweep

    cfg = make_cfg(tiny, model={"path": str(tmp_path / "no-model")})
    with pytest.raises(ConfigError, match=f"model.path='{tmp_path / 'no-model'}': no such directory"):
        sweep.run(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "metrics").exists() and not (tmp_path / "run" / "tune").exists()


# ------------------------------------------------------------------------------ the GPU benchmark, tiny


def test_gpu_benchmark_runs_tiny_on_cpu(capsys):
    import runpy

    bench = runpy.run_path(str(ROOT / "benchmarks" / "sd_gpu.py"))
    result = bench["main"](["--tiny"])
    for key in ("finetune_steps_per_s", "plain_finetune_steps_per_s", "sample_images_per_s",
                "plain_sample_images_per_s", "peak_memory_gb", "chains_per_gpu"):
        assert key in result
    assert result["finetune_steps_per_s"] > 0 and result["sample_images_per_s"] > 0
