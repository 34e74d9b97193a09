import numpy as np
import pytest

from autophagy import mitigations
from autophagy.mixing import build_training_set, mix_counts, split_evenly
from autophagy.samples import Samples


def _samples(n, tag):
    """Points whose value says where they came from: tag*1000 + index."""
    return Samples(np.arange(n, dtype=np.float32)[:, None] + 1000 * tag, np.full(n, tag, dtype=np.int64))


@pytest.mark.parametrize("n", [1, 7, 10, 100, 500])
def test_counts_at_every_ratio_are_exact_and_round_half_up(n):
    for ratio in np.linspace(0, 1, 41):
        n_syn, n_real = mix_counts(float(ratio), n)
        assert n_syn + n_real == n
        assert n_syn == int(np.floor(ratio * n + 0.5))
    assert mix_counts(0.5, 7) == (4, 3)  # 3.5 rounds up, unlike Python's round(3.5) == 4 / round(2.5) == 2
    assert mix_counts(0.25, 10) == (3, 7)  # 2.5 -> 3 (banker's rounding would give 2)


def test_split_evenly_gives_remainder_to_most_recent():
    assert split_evenly(10, 3) == [3, 3, 4]
    assert split_evenly(11, 3) == [3, 4, 4]
    assert split_evenly(2, 4) == [0, 0, 1, 1]
    assert sum(split_evenly(499, 7)) == 499


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_replace_mix_counts_and_provenance(ratio):
    real, n = _samples(100, 0), 40
    history = {2: _samples(40, 3)}  # generation 2's samples, tagged 3
    rng = np.random.default_rng(0)
    train, source = build_training_set(3, ratio, n, real, history, mitigations.parse("none"), rng)
    n_syn, n_real = mix_counts(ratio, n)
    assert len(train) == n
    assert (source == -1).sum() == n_real and (source == 2).sum() == n_syn
    assert np.all(train.y[source == -1] == 0) and np.all(train.y[source == 2] == 3)
    assert len(np.unique(train.x[:, 0])) == n  # drawn without replacement


def test_generation_zero_is_all_real():
    real = _samples(50, 0)
    train, source = build_training_set(0, 1.0, 50, real, {}, mitigations.parse("none"), np.random.default_rng(0))
    assert np.all(source == -1) and np.array_equal(np.sort(train.x[:, 0]), np.arange(50))


def test_accumulate_splits_synthetic_share_over_all_earlier_generations():
    real = _samples(100, 0)
    history = {g: _samples(60, g + 1) for g in range(4)}
    train, source = build_training_set(4, 0.5, 60, real, history, mitigations.parse("accumulate"),
                                       np.random.default_rng(1))
    counts = [(source == g).sum() for g in range(4)]
    assert (source == -1).sum() == 30 and counts == [7, 7, 8, 8]
    for g in range(4):  # every synthetic image comes from the generation its provenance names
        assert np.all(train.y[source == g] == g + 1)


def test_same_rng_same_set_other_rng_other_set():
    real, history = _samples(100, 0), {0: _samples(50, 1)}
    policy = mitigations.parse("none")
    a, _ = build_training_set(1, 0.5, 50, real, history, policy, np.random.default_rng(7))
    b, _ = build_training_set(1, 0.5, 50, real, history, policy, np.random.default_rng(7))
    c, _ = build_training_set(1, 0.5, 50, real, history, policy, np.random.default_rng(8))
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, c.x)


def test_too_few_real_images_is_a_clear_error():
    with pytest.raises(ValueError, match="needs 30 real images but only 20"):
        build_training_set(1, 0.4, 50, _samples(20, 0), {0: _samples(50, 1)}, mitigations.parse("none"),
                           np.random.default_rng(0))


def test_mitigation_names_compose_and_fail_loudly():
    assert mitigations.parse("accumulate").synthetic_from == "all"
    assert mitigations.parse("none").synthetic_from == "last"
    for bad, message in [("nope", "unknown mitigation 'nope'"), ("none+accumulate", "cannot be combined"),
                         ("accumulate+accumulate", "names a part twice"), ("", "a mitigation is a name")]:
        with pytest.raises(ValueError, match=message):
            mitigations.parse(bad)


@pytest.mark.parametrize("n", [1, 7, 10, 100, 500])
def test_bertrand_counts_keep_every_real_image_and_add_lambda_n(n):
    for lam in np.linspace(0, 1, 41):
        n_syn, n_real = mix_counts(float(lam), n, "bertrand")
        assert n_real == n and n_syn == int(np.floor(lam * n + 0.5))
    assert mix_counts(0.25, 10, "bertrand") == (3, 10)  # 2.5 rounds up, as in the share definition
    with pytest.raises(ValueError, match="mixing must be one of share, bertrand"):
        mix_counts(0.5, 10, "lambda")


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 1.0])
def test_bertrand_training_set_counts_and_provenance(ratio):
    real, n = _samples(40, 0), 40
    train, source = build_training_set(2, ratio, n, real, {1: _samples(40, 2)}, mitigations.parse("none"),
                                       np.random.default_rng(0), mixing="bertrand")
    n_syn = int(np.floor(ratio * n + 0.5))
    assert len(train) == n + n_syn and (source == -1).sum() == n and (source == 1).sum() == n_syn
    assert np.array_equal(np.sort(train.x[source == -1, 0]), np.arange(40))  # every real image, once
    assert np.all(train.y[source == 1] == 2)


def test_bertrand_generation_zero_and_healing_are_real_only():
    real = _samples(30, 0)
    policy = mitigations.parse("healing")  # h = 3, k = 3 by default
    for g, expected in [(0, 0), (3, 15), (4, 0), (6, 0), (7, 15)]:
        _, source = build_training_set(g, 0.5, 30, real, {g - 1: _samples(30, 1)}, policy,
                                       np.random.default_rng(g), mixing="bertrand")
        assert (source >= 0).sum() == expected and (source == -1).sum() == 30, g


@pytest.mark.parametrize("mixing,ratio,g,n_real,per_generation", [
    ("bertrand", 1.0, 3, 40, 40),  # Gerstgrasser / Kazdan accumulate: N real + N of each earlier generation
    ("share", 0.5, 4, 20, 20),  # the real share of N, plus the synthetic share of N from each of 0..g-1
    ("share", 0.25, 2, 30, 10),
    ("share", 0.0, 3, 40, 0),
])
def test_accumulate_all_grows_by_the_synthetic_share_each_generation(mixing, ratio, g, n_real, per_generation):
    real, n = _samples(100, 0), 40
    history = {k: _samples(40, k + 1) for k in range(g)}
    train, source = build_training_set(g, ratio, n, real, history, mitigations.parse("accumulate_all"),
                                       np.random.default_rng(2), mixing=mixing)
    assert len(train) == n_real + g * per_generation
    assert (source == -1).sum() == n_real
    assert [(source == k).sum() for k in range(g)] == [per_generation] * g
    for k in range(g):
        assert np.all(train.y[source == k] == k + 1)
    # accumulate (accumulate-subsample) keeps N: the same synthetic share, split over the generations
    fixed, fixed_source = build_training_set(g, ratio, n, real, history, mitigations.parse("accumulate"),
                                             np.random.default_rng(2), mixing=mixing)
    assert len(fixed) == n_real + per_generation and (fixed_source >= 0).sum() == per_generation


def test_accumulate_all_with_greedy_selects_each_generations_share_from_its_candidates():
    real, history = _samples(100, 0), {k: _samples(40, k + 1) for k in range(2)}
    policy = mitigations.parse("accumulate_all+greedy")
    assert policy.grow and policy.select.kind == "greedy"
    train, source = build_training_set(2, 0.5, 20, real, history, policy, np.random.default_rng(0))
    assert [(source == k).sum() for k in (-1, 0, 1)] == [10, 10, 10]
    with pytest.raises(ValueError, match="accumulate_all conflicts"):
        mitigations.parse("accumulate+accumulate_all")


def test_accumulate_with_real_as_source_gives_shi_et_al_equal_shares():
    from autophagy.config import AccumulateConfig, MitigationParams

    policy = mitigations.parse("accumulate", MitigationParams(accumulate=AccumulateConfig(real_as_source=True)))
    real, history = _samples(100, 0), {k: _samples(60, k + 1) for k in range(3)}
    train, source = build_training_set(3, 1.0, 60, real, history, policy, np.random.default_rng(0))
    assert [(source == k).sum() for k in (-1, 0, 1, 2)] == [15, 15, 15, 15]  # N/(g+1) each at g = 3
    _, source = build_training_set(3, 0.5, 60, real, history, policy, np.random.default_rng(0))
    assert [(source == k).sum() for k in (-1, 0, 1, 2)] == [30 + 7, 7, 8, 8]  # ratio 0.5: 30 real + a share
