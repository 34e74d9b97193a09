"""Each mitigation on data with a known answer: names and conflicts, the two selections against
naive references, planted duplicates and entropy, every training set's counts and provenance,
ReDiFine's drop rate and CFG schedule, healing's switch at h, and resume equivalence of a chain
under every mitigation (gmm backend: milliseconds per generation)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from autophagy import cli, config, grid, mitigations, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.config import MitigationParams
from autophagy.metrics import distances
from autophagy.metrics.entropy import kozachenko_leonenko
from autophagy.mitigations import selection
from autophagy.mixing import build_training_set, mix_counts, split_evenly
from autophagy.samples import Samples

NAMES = ["none", "accumulate", "fresh_data", "redifine", "greedy", "threshold_decay", "healing",
         "accumulate+greedy", "fresh_data+threshold_decay+healing"]


def _samples(n, tag, dim=1, seed=None):
    """Points that say where they came from: label = tag; value tag*1000 + index (or random)."""
    if seed is None:
        x = np.arange(n, dtype=np.float32)[:, None].repeat(dim, 1) + 1000 * tag
    else:
        x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32) + 1000 * tag
    return Samples(x, np.full(n, tag, dtype=np.int64))


def _rng(seed=0):
    return np.random.default_rng(seed)


def mean_nn_distance(x):
    return float(distances.nearest(x, x, 1, exclude_self=True).mean())


# Both selections, for the tests every selection must pass.
SELECTIONS = pytest.mark.parametrize("choose", [
    lambda x, k, rng: selection.farthest_point(x, k, rng),
    lambda x, k, rng: selection.threshold_decay(x, k, rng),
], ids=["greedy", "threshold_decay"])


# ------------------------------------------------------------------------ names and policies


def test_every_name_parses_to_its_knob():
    p = {name: mitigations.parse(name) for name in mitigations.names()}
    assert p["none"] == mitigations.Policy()
    assert p["accumulate"].synthetic_from == "all"
    assert p["fresh_data"].real_from == "fresh"
    assert p["redifine"].redifine == config.RedifineConfig()
    assert p["greedy"].select.kind == "greedy" and p["threshold_decay"].select.kind == "threshold_decay"
    assert p["healing"].heal == (3, 3)
    both = mitigations.parse("accumulate+greedy")
    assert both.synthetic_from == "all" and both.select.kind == "greedy"


def test_parameters_come_from_the_config_section():
    params = MitigationParams(greedy=config.GreedyConfig(pool_factor=5, space="features"),
                              healing=config.HealingConfig(after=2, generations=1))
    p = mitigations.parse("greedy+healing", params)
    assert p.select.pool_factor == 5 and p.select.space == "features" and p.heal == (2, 1)
    assert p.samples_per_generation(100) == 500 and mitigations.parse("none").samples_per_generation(100) == 100


@pytest.mark.parametrize("name,message", [
    ("greedy+threshold_decay", "threshold_decay conflicts with greedy"),
    ("threshold_decay+greedy", "greedy conflicts with threshold_decay"),
    ("none+healing", "'none' cannot be combined"),
    ("healing+healing", "names a part twice"),
    ("accumulate+heal", "unknown mitigation 'heal'"),
])
def test_conflicting_or_unknown_combinations_fail_clearly(name, message):
    with pytest.raises(ValueError, match=message):
        mitigations.parse(name)


# ------------------------------------------------------------------------ the selections


def naive_farthest_point(x, count, rng):
    chosen = [int(rng.integers(len(x)))]
    while len(chosen) < count:
        best, best_d = None, -1.0
        for i in range(len(x)):
            if i in chosen:
                continue
            d = min(np.linalg.norm(x[i] - x[j]) for j in chosen)
            if d > best_d:
                best, best_d = i, d
        chosen.append(best)
    return chosen


def naive_threshold_decay(x, count, rng, tau, decay):
    order, accepted = rng.permutation(len(x)), []
    while len(accepted) < count:
        for i in order:
            if i not in accepted and all(np.linalg.norm(x[i] - x[j]) > tau for j in accepted):
                accepted.append(int(i))
                if len(accepted) == count:
                    break
        tau *= decay
    return accepted


@pytest.mark.parametrize("seed", range(4))
def test_farthest_point_matches_the_naive_algorithm(seed):
    x = _rng(seed).standard_normal((40, 3))
    assert selection.farthest_point(x, 15, _rng(99)).tolist() == naive_farthest_point(x, 15, _rng(99))


@pytest.mark.parametrize("seed,tau0", [(0, 5.0), (1, 0.5), (2, 50.0), (3, 1.2)])
def test_threshold_decay_matches_the_naive_filter_pass_for_pass(seed, tau0):
    """tau0=50 is far above every distance: the skipped empty passes must land where decaying
    pass by pass does."""
    x = _rng(seed).standard_normal((40, 3))
    got = selection.threshold_decay(x, 20, _rng(7), tau0=tau0, decay=0.9).tolist()
    assert got == naive_threshold_decay(x, 20, _rng(7), tau0, 0.9)


def test_farthest_point_on_a_line_takes_the_extremes_first():
    x = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    picked = selection.farthest_point(x, 3, _rng(0))
    first = picked[0]
    assert picked[1] == (0 if first == 4 else 4)  # the farthest from any start is an end
    assert set(picked) >= {0, 4}


def test_default_tau0_is_the_median_pairwise_distance():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 5, 10, 5
    assert selection.default_tau0(x, _rng(0)) == 5.0


@SELECTIONS
def test_planted_duplicates_are_rejected(choose):
    distinct = _rng(1).standard_normal((60, 8))
    pool = np.concatenate([distinct, distinct[:40], distinct[:40]])  # 40 images planted twice more
    picked = choose(pool, 60, _rng(2))
    assert len(set(picked.tolist())) == 60
    assert len(np.unique(pool[picked], axis=0)) == 60  # no image twice: every distinct one, once


@SELECTIONS
def test_too_few_distinct_candidates_still_gives_count_distinct_indices(choose):
    pool = np.repeat(_rng(0).standard_normal((5, 4)), 4, axis=0)  # 5 images, 4 copies each
    picked = choose(pool, 8, _rng(1))
    assert len(set(picked.tolist())) == 8 and len(np.unique(pool[picked], axis=0)) == 5


@SELECTIONS
def test_selected_sets_have_more_entropy_than_random_subsets(choose):
    pool = _rng(3).standard_normal((600, 4))
    picked = pool[choose(pool, 200, _rng(4))]
    randoms = [pool[_rng(s).choice(600, 200, replace=False)] for s in range(10)]
    assert mean_nn_distance(picked) > max(mean_nn_distance(r) for r in randoms)
    assert kozachenko_leonenko(picked) > max(kozachenko_leonenko(r) for r in randoms)


def test_selection_refuses_more_than_it_has():
    with pytest.raises(ValueError, match="cannot choose 5 of 4"):
        selection.farthest_point(np.zeros((4, 2)), 5, _rng(0))


# ------------------------------------------------------------------------ training sets


def _history(generations, size, dim=1):
    return {g: _samples(size, g + 1, dim, seed=g) for g in range(generations)}


@pytest.mark.parametrize("name", ["greedy", "threshold_decay"])
@pytest.mark.parametrize("ratio", [0.3, 0.5, 1.0])
def test_selection_counts_provenance_and_candidates(name, ratio):
    n, policy = 40, mitigations.parse(name)
    history = _history(3, policy.samples_per_generation(n), dim=2)
    train, source = build_training_set(3, ratio, n, _samples(100, 0, 2), history, policy, _rng(0))
    n_syn, n_real = mix_counts(ratio, n)
    assert len(train) == n and (source == -1).sum() == n_real and (source == 2).sum() == n_syn
    assert np.all(train.y[source == 2] == 3) and np.all(train.y[source == -1] == 0)
    syn = train.x[source == 2]
    assert len(np.unique(syn, axis=0)) == n_syn  # each candidate at most once
    assert all(any(np.array_equal(row, h) for h in history[2].x) for row in syn)


def test_accumulate_with_greedy_keeps_equal_shares_per_generation():
    n, policy = 60, mitigations.parse("accumulate+greedy")
    history = _history(4, policy.samples_per_generation(n), dim=2)
    train, source = build_training_set(4, 0.5, n, _samples(100, 0, 2), history, policy, _rng(1))
    assert (source == -1).sum() == 30 and [(source == g).sum() for g in range(4)] == split_evenly(30, 4)
    for g in range(4):
        assert np.all(train.y[source == g] == g + 1)


def test_greedy_training_set_spreads_more_than_the_plain_draw():
    n = 100
    pool = Samples(_rng(0).standard_normal((200, 4)).astype(np.float32), np.zeros(200, dtype=np.int64))
    real = _samples(10, 9, 4)
    spread = {}
    for name in ("none", "greedy"):
        train, source = build_training_set(1, 1.0, n, real, {0: pool}, mitigations.parse(name), _rng(5))
        spread[name] = mean_nn_distance(train.x)
    assert spread["greedy"] > 1.2 * spread["none"]


def test_fresh_data_draws_real_images_from_the_pool_anew_each_generation():
    pool, n, policy = _samples(500, 0), 50, mitigations.parse("fresh_data")
    sets = [build_training_set(g, 0.4, n, pool, {g - 1: _samples(n, g)}, policy, _rng(g))[0] for g in (1, 2)]
    reals = [set(s.x[s.y == 0, 0].tolist()) for s in sets]
    assert all(len(r) == 30 for r in reals) and reals[0] != reals[1]


def test_healing_switches_to_real_only_after_h_for_k_generations():
    policy = mitigations.parse("healing", MitigationParams(healing=config.HealingConfig(after=2, generations=2)))
    assert [policy.healing(g) for g in range(7)] == [False, False, False, True, True, False, False]
    real, n = _samples(100, 0), 20
    for g in range(1, 7):
        _, source = build_training_set(g, 0.75, n, real, {g - 1: _samples(n, g)}, policy, _rng(g))
        expected = (0, n) if g in (3, 4) else mix_counts(0.75, n)
        assert ((source >= 0).sum(), (source == -1).sum()) == expected, g


# ------------------------------------------------------------------------ ReDiFine


def test_cfg_schedules_as_configured():
    from autophagy.backends.digits.diffusion import cfg_schedule

    assert np.allclose(cfg_schedule(3.0, 1.0, "constant", 5), 3.0)
    assert np.allclose(cfg_schedule(3.0, 1.0, "linear", 5), [3.0, 2.5, 2.0, 1.5, 1.0])
    cos = cfg_schedule(3.0, 1.0, "cosine", 5)
    assert np.allclose(cos, [3.0, 1 + 2 * (1 + math.cos(math.pi / 4)) / 2, 2.0, 1 + 2 * (1 - math.cos(math.pi / 4)) / 2, 1.0])
    assert np.all(np.diff(cos) < 0) and cos[1] > 2.5  # cosine holds the scale longer at the start
    assert np.allclose(cfg_schedule(2.0, 1.0, "cosine", 1), [2.0])


class _FakeUNet:
    """eps = 1 for a labelled image, 0 for the null class: guidance then yields exactly w."""

    def __call__(self, x, t, class_labels):
        from autophagy.backends.digits.unet import NULL_CLASS

        eps = (class_labels != NULL_CLASS).float().view(-1, 1, 1, 1).expand_as(x).clone()
        return SimpleNamespace(sample=eps)


class _FakeScheduler:
    def __init__(self):
        self.eps = []

    def set_timesteps(self, steps):
        import torch

        self.timesteps = torch.arange(steps - 1, -1, -1)

    def step(self, eps, t, x):
        self.eps.append(float(eps.mean()))
        return SimpleNamespace(prev_sample=x)


@pytest.mark.parametrize("kind", ["constant", "linear", "cosine"])
def test_sampler_applies_the_scale_of_each_step(kind):
    import torch

    from autophagy.backends.digits import diffusion

    scales = diffusion.cfg_schedule(2.5, 1.0, kind, 6)
    sched = _FakeScheduler()
    diffusion.sample(_FakeUNet(), sched, torch.tensor([1, 2, 3]), 6, scales, 4, torch.Generator().manual_seed(0))
    assert np.allclose(sched.eps, scales)


def test_condition_drop_rate_is_as_configured():
    import torch

    from autophagy.backends.digits.diffusion import drop_labels
    from autophagy.backends.digits.unet import NULL_CLASS

    y = torch.arange(200_000) % 10
    for p in (0.0, 0.1, 0.2):
        dropped = (drop_labels(y, p, torch.Generator().manual_seed(0)) == NULL_CLASS).float().mean().item()
        assert abs(dropped - p) < 0.005  # 4.5 standard errors at p = 0.2


def _digits_cfg(mitigation, **sections):
    raw = {"name": "t", "backend": "digits", "generations": 2, "images_per_generation": 20,
           "grid": {"ratio": [1.0], "mitigation": [mitigation]}, **sections}
    return sweepfile.from_dict(raw)


def test_redifine_reaches_the_digits_finetune_and_sampler(monkeypatch):
    """The cell's config carries ReDiFine's drop and schedule (a chain refuses the sweep's own); the
    backend passes them on. The backend methods run on a stub (no pretraining), the training loop
    and sampler are spied."""
    from autophagy.backends.digits import backend as digits

    for name, drop, schedule in [("none", 0.1, "constant"), ("redifine", 0.3, "linear")]:
        cfg = _digits_cfg(name, mitigation_params={"redifine": {"cond_drop": 0.3, "cfg_schedule": "linear",
                                                                 "cfg_end": 1.25}})
        cell = grid.cells(cfg)[0]
        stub = SimpleNamespace(cfg=grid.cell_config(cfg, cell), real_data=lambda: (_samples(50, 0), _samples(10, 0)))
        Chain(stub.cfg, cell, stub)
        assert stub.cfg.finetune.cond_drop == drop and stub.cfg.sampling.cfg_schedule == schedule
        if name == "redifine":
            with pytest.raises(ValueError, match="grid.cell_config"):
                Chain(cfg, cell, stub)

        seen = {}
        monkeypatch.setattr(digits.training, "run", lambda *a, **kw: seen.update(kw) or [0.5] * 10)
        monkeypatch.setattr(digits.diffusion, "sample",
                            lambda net, sch, labels, steps, scales, size, g: seen.update(scales=scales) or
                            __import__("torch").zeros(len(labels), 1, size, size))
        stub.fresh, stub.lora, stub.unet, stub.device, stub.size = False, False, None, "cpu", 8
        stub.train_classes = tuple(range(10))
        stub.train_scheduler = stub.sample_scheduler = None
        digits.DigitsBackend.finetune(stub, _samples(20, 0), seed=1)
        digits.DigitsBackend.sample(stub, 10, seed=1)
        assert seen["cond_drop"] == drop
        w = cfg.sampling.cfg_scale
        expected = [w] * 20 if name == "none" else np.linspace(w, 1.25, 20)
        assert np.allclose(seen["scales"], expected)


def test_cfg_scale_and_schedule_are_grid_axes():
    cfg = sweepfile.from_dict({"name": "t", "backend": "gmm", "generations": 1, "images_per_generation": 10,
                            "grid": {"ratio": [1.0], "sampling.cfg_scale": [1.5, 3.0],
                                     "sampling.cfg_schedule": ["constant", "cosine"]}})
    seen = {(grid.cell_config(cfg, c).sampling.cfg_scale, grid.cell_config(cfg, c).sampling.cfg_schedule)
            for c in grid.cells(cfg)}
    assert seen == {(1.5, "constant"), (1.5, "cosine"), (3.0, "constant"), (3.0, "cosine")}


# ------------------------------------------------------------------------ chains (gmm)


def _gmm_cfg(**extra):
    raw = {"name": "t", "backend": "gmm", "generations": 4, "images_per_generation": 30,
           "grid": {"ratio": [0.5, 1.0], "seed": [3], "mitigation": NAMES},
           "mitigation_params": {"healing": {"after": 1, "generations": 2}}, **extra}
    return sweepfile.from_dict(raw)


CFG = _gmm_cfg()


def _chain(cell, cfg=CFG):
    cell_cfg = grid.cell_config(cfg, cell)
    return Chain(cell_cfg, cell, backend_class(cfg.backend)(cell_cfg, {}))


def _run(chain):
    rows = []
    while not chain.finished:
        rows.append(chain.run_generation())
    return [{k: v for k, v in r.items() if not k.startswith("seconds_")} for r in rows]


@pytest.fixture(scope="module")
def full_runs():
    """Uninterrupted ratio-0.5 chains, one per mitigation: {name: rows}."""
    return {c.mitigation: _run(_chain(c)) for c in grid.cells(CFG) if c.ratio == 0.5}


@pytest.mark.parametrize("name", NAMES)
def test_chain_resumed_from_a_checkpoint_equals_an_uninterrupted_one(name, full_runs):
    cell = next(c for c in grid.cells(CFG) if c.mitigation == name and c.ratio == 0.5)
    full = full_runs[name]
    for stop in (1, 3):
        first = _chain(cell)
        head = [first.run_generation() for _ in range(stop)]
        second = _chain(cell)
        second.restore(first.checkpoint_files())
        head = [{k: v for k, v in r.items() if not k.startswith("seconds_")} for r in head]
        assert head + _run(second) == full


def test_chain_rows_show_each_mitigations_counts(full_runs):
    for name, rows in full_runs.items():
        synthetic = [r["n_synthetic"] for r in rows]
        if "healing" in name:  # h = 1, k = 2: generations 2 and 3 on real images only
            assert synthetic == [0, 15, 0, 0, 15], name
        else:
            assert synthetic == [0, 15, 15, 15, 15], name
        assert all(r["n_real"] + r["n_synthetic"] == 30 and r["status"] == "ok" for r in rows)


def test_selection_chains_sample_m_times_n_and_score_n():
    cell = next(c for c in grid.cells(CFG) if c.mitigation == "greedy" and c.ratio == 1.0)
    chain = _chain(cell)
    seen = []
    evaluate = chain.backend.evaluate
    chain.backend.evaluate = lambda samples, train, seed: seen.append(len(samples)) or evaluate(samples, train, seed)
    _run(chain)
    assert seen == [30] * 5 and [len(s) for s in chain.history.values()] == [60]


@pytest.mark.parametrize("space,calls", [("pixels", 0), ("features", 3)])
def test_selection_space_features_asks_the_backend(space, calls):
    cfg = _gmm_cfg(mitigation_params={"threshold_decay": {"space": space}})
    cell = next(c for c in grid.cells(cfg) if c.mitigation == "threshold_decay" and c.ratio == 1.0)
    chain, seen = _chain(cell, cfg), []
    chain.backend.features = lambda x: seen.append(len(x)) or np.asarray(x, dtype=np.float32)
    for _ in range(4):
        chain.run_generation()
    assert seen == [60] * calls  # generations 1-3 choose 30 of 2 x 30 candidates


def test_fresh_data_chain_trains_on_other_real_images_each_generation():
    cell = next(c for c in grid.cells(CFG) if c.mitigation == "fresh_data" and c.ratio == 0.5)
    chain, seen = _chain(cell), []
    finetune = chain.backend.finetune
    chain.backend.finetune = lambda train, seed: seen.append(train) or finetune(train, seed)
    _run(chain)
    reals = [frozenset(map(tuple, s.x[:15].tolist())) for s in seen[1:]]  # the real part comes first
    assert len(set(reals)) == len(reals)
    assert len(chain.real) == 2000  # the whole pool, not a fixed set of N


def test_bertrand_chain_keeps_every_real_image():
    cfg = _gmm_cfg(mixing="bertrand")
    rows = _run(_chain(next(c for c in grid.cells(cfg) if c.mitigation == "none" and c.ratio == 0.5), cfg))
    assert [(r["n_real"], r["n_synthetic"]) for r in rows] == [(30, 0)] + [(30, 15)] * 4


def test_finetune_init_base_refits_from_scratch_on_gmm():
    cfg = CFG.model_copy(update={"finetune": CFG.finetune.model_copy(update={"init": "base"})})
    backend = backend_class("gmm")(cfg, {})
    pool, _ = backend.real_data()
    backend.finetune(pool.take(np.arange(0, 100)), seed=1)
    backend.finetune(pool.take(np.arange(100, 200)), seed=2)
    fresh = backend_class("gmm")(cfg, {})
    fresh.finetune(pool.take(np.arange(100, 200)), seed=2)
    assert np.array_equal(backend.gm.means_, fresh.gm.means_)


# ------------------------------------------------------------------------ the results page


def test_results_page_from_a_small_gmm_run(tmp_path):
    from autophagy import rows as rows_io
    from autophagy.analysis import results_page

    cfg = sweepfile.from_dict({"name": "t", "backend": "gmm", "generations": 3, "images_per_generation": 30,
                            "grid": {"ratio": [0.0, 1.0], "seed": [0, 1], "mitigation": ["none", "accumulate", "healing"]},
                            "mitigation_params": {"healing": {"after": 1, "generations": 2}},
                            "collapse": {"metric": "kl", "mode": "absolute", "threshold": 0.3}})
    sweepfile.dump(cfg, tmp_path / "config.yaml")
    schema = rows_io.schema(cfg)
    for cell in grid.cells(cfg):
        chain = _chain(cell, cfg)
        while not chain.finished:
            rows_io.write_row(tmp_path / "metrics", chain.run_generation(), schema)
    out = tmp_path / "results.md"
    assert cli.main(["results", str(tmp_path), "--out", str(out)]) == 0
    page = out.read_text()
    for text in ["## The papers' findings", "## Each mitigation against `none`", "## Collapse thresholds",
                 "| accumulate | ", "## Time to collapse", "## Metrics at generation 3", "## Healing",
                 "Accumulating outlasts replacing (Gerstgrasser et al. 2024; Shi et al. 2025): **cannot yet be told**",
                 "2 seeds (p ≥ 0.5 at best", "| `healing` | 2 |", "Higher CFG collapses sooner (Yoon et al. 2024): not tested",
                 "ReDiFine delays collapse (Yoon et al. 2024): not tested", "**ratio = 1**", "[open: needs ≥ 6 seeds]"]:
        assert text in page, text
    assert "holds**" not in page  # 2 seeds: no claim can hold (nor its opposite)
    assert results_page.build_page(tmp_path, command="x") == results_page.build_page(tmp_path, command="x")
    assert cli.main(["results", str(tmp_path), "--out", str(out), "--metric", "nope"]) == 2


NEW_MITIGATION = '''
"""`sharpen`: a mitigation written for the test: its real share drawn afresh, and a parameter."""
import dataclasses

from pydantic import Field

from autophagy.mitigations.policy import Policy
from autophagy.sections import Section


class Params(Section):
    strength: float = Field(1.0, gt=0)


def apply(policy: Policy, params: Params) -> Policy:
    if params.strength > 5:
        raise ValueError("sharpen: strength above 5 is not supported")
    return dataclasses.replace(policy, real_from="fresh")
'''

REGISTER_AND_RUN = '''
import json, sys
sys.path.insert(0, sys.argv[1])
import sharpen
from autophagy import mitigations
mitigations.REGISTRY["sharpen"] = sharpen  # the one registry line

from autophagy import grid, sweepfile
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.config import ConfigError

raw = {"name": "t", "backend": "gmm", "generations": 1, "images_per_generation": 30,
       "grid": {"ratio": [1.0], "mitigation": ["none", "sharpen", "accumulate+sharpen"]},
       "mitigation_params": {"sharpen": {"strength": 2}}}
cfg = sweepfile.from_dict(raw, "t.yaml")
out = {"strength": cfg.mitigation_params.sharpen.strength,
       "real_from": mitigations.parse("accumulate+sharpen", cfg.mitigation_params).real_from,
       "dumped": cfg.to_dict()["mitigation_params"]["sharpen"]}
errors = []
for bad in ({"strength": 0}, {"strength": 9}, {"sharpness": 1}):
    try:
        sweepfile.from_dict({**raw, "mitigation_params": {"sharpen": bad}}, "t.yaml")
    except ConfigError as err:
        errors.append(str(err))
out["errors"] = errors
cell = next(c for c in grid.cells(cfg) if c.mitigation == "sharpen")
chain = Chain(grid.cell_config(cfg, cell), cell, backend_class("gmm")(cfg, {}))
out["statuses"] = [chain.run_generation()["status"] for _ in range(cfg.generations + 1)]
print(json.dumps(out))
'''


def test_a_new_mitigation_with_parameters_is_one_file_and_one_registry_line(tmp_path):
    """Written in a temporary module and registered by one line, before the config is imported: its
    parameters validate as a section of mitigation_params (with the usual one-line errors), it
    composes with the others, and a chain runs it."""
    import json
    import subprocess
    import sys

    (tmp_path / "sharpen.py").write_text(NEW_MITIGATION)
    done = subprocess.run([sys.executable, "-c", REGISTER_AND_RUN, str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["strength"] == 2.0 and out["dumped"] == {"strength": 2.0}
    assert out["real_from"] == "fresh"
    assert out["errors"][0] == "t.yaml: mitigation_params.sharpen.strength: must be positive"
    assert out["errors"][1] == "t.yaml: grid.mitigation[1]: mitigation 'sharpen': sharpen: strength above 5 is not supported"
    assert out["errors"][2].startswith("t.yaml: mitigation_params.sharpen.sharpness: unknown key")
    assert out["statuses"] == ["ok", "ok"]
