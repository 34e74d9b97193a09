"""The metric families of autophagy/metrics/ against closed forms, brute force and planted answers."""

import itertools
import math

import numpy as np
import pytest

from autophagy.metrics import distances, entropy, memorization


def brute_pairs(x):
    return np.array([np.linalg.norm(x[i] - x[j]) for i, j in itertools.combinations(range(len(x)), 2)])


# ------------------------------------------------------------------------------ distances


def test_pairwise_distances_match_brute_force_in_triu_order():
    x = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_allclose(distances.pairwise(x), brute_pairs(x), rtol=1e-10)
    np.testing.assert_allclose(distances.l2(x, x[:2]), [[np.linalg.norm(a - b) for b in x[:2]] for a in x], atol=1e-12)


def test_pairwise_summary_per_class_is_the_mean_of_each_class_summary():
    x = np.random.default_rng(1).normal(size=(9, 4))
    y = np.array([0, 0, 0, 0, 1, 1, 1, 2, 3])  # classes 2 and 3 have no pair and do not count
    got = distances.pairwise_summary(x, y)
    per_class = [brute_pairs(x[y == c]) for c in (0, 1)]
    assert got["mean"] == pytest.approx(np.mean([d.mean() for d in per_class]))
    assert got["std"] == pytest.approx(np.mean([d.std() for d in per_class]))
    for q in (10, 50, 90):
        assert got[f"q{q}"] == pytest.approx(np.mean([np.quantile(d, q / 100) for d in per_class]))
    # Three points on a line 0, 1, 3: pairs 1, 2, 3.
    line = np.array([[0.0], [1.0], [3.0]])
    assert distances.pairwise_summary(line) == pytest.approx({"mean": 2.0, "std": math.sqrt(2 / 3),
                                                              "q10": 1.2, "q50": 2.0, "q90": 2.8})


def test_pairwise_summary_subsamples_above_max_points_with_its_seed():
    x = np.random.default_rng(2).normal(size=(300, 5))
    full = distances.pairwise_summary(x)
    a = distances.pairwise_summary(x, max_points=100, seed=7)
    assert a == distances.pairwise_summary(x, max_points=100, seed=7)
    assert a != distances.pairwise_summary(x, max_points=100, seed=8)
    assert a["mean"] == pytest.approx(full["mean"], rel=0.05)  # an unbiased subsample of the pairs
    idx = distances.subsample(300, 100, np.random.default_rng(7))
    assert a["mean"] == pytest.approx(brute_pairs(x[idx]).mean())


def test_nearest_neighbours_exclude_self_but_not_duplicates():
    x = np.array([[0.0], [0.0], [1.0], [3.0]])
    np.testing.assert_allclose(distances.nearest(x, x, 2, exclude_self=True), [[0, 1], [0, 1], [1, 1], [2, 3]])
    np.testing.assert_allclose(distances.nearest(np.array([[2.5]]), x, 3), [[0.5, 1.5, 2.5]])
    with pytest.raises(ValueError, match="k=4"):
        distances.nearest(x, x, 4, exclude_self=True)


def test_nearest_works_across_row_blocks(monkeypatch):
    monkeypatch.setattr(distances, "BLOCK", 3)
    x = np.random.default_rng(3).normal(size=(10, 2))
    full = np.sort(distances.l2(x, x) + np.diag(np.full(10, np.inf)), axis=1)[:, :2]
    np.testing.assert_allclose(distances.nearest(x, x, 2, exclude_self=True), full, atol=1e-12)


# ------------------------------------------------------------------------------ entropy


def test_unit_ball_volumes():
    assert math.exp(entropy.log_unit_ball_volume(1)) == pytest.approx(2.0)
    assert math.exp(entropy.log_unit_ball_volume(2)) == pytest.approx(math.pi)
    assert math.exp(entropy.log_unit_ball_volume(3)) == pytest.approx(4 / 3 * math.pi)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_kozachenko_leonenko_matches_a_gaussians_closed_form(d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(d, d))
    cov = a @ a.T + 0.5 * np.eye(d)
    x = rng.multivariate_normal(np.zeros(d), cov, size=4000)
    truth = entropy.gaussian(cov)
    assert truth == pytest.approx(0.5 * math.log((2 * math.pi * math.e) ** d * np.linalg.det(cov)))
    # The estimator's bias at n = 4000, k = 5: about 0.01 nats in 1-D, 0.1 in 5-D.
    assert entropy.kozachenko_leonenko(x, k=5) == pytest.approx(truth, abs=0.05 * d)


def test_kozachenko_leonenko_of_a_uniform_square_and_its_scaling():
    x = np.random.default_rng(0).uniform(size=(3000, 2))
    h = entropy.kozachenko_leonenko(x)
    assert h == pytest.approx(0.0, abs=0.05)  # log of the area, 1
    assert entropy.kozachenko_leonenko(3 * x) == pytest.approx(h + 2 * math.log(3))  # + d log s, exactly
    assert entropy.kozachenko_leonenko(x, k=1) == pytest.approx(0.0, abs=0.1)


def test_kozachenko_leonenko_duplicates_and_the_floor():
    x = np.repeat(np.random.default_rng(0).normal(size=(20, 2)), 6, axis=0)  # every point 6 times
    assert entropy.kozachenko_leonenko(x, k=5) == -math.inf
    assert math.isfinite(entropy.kozachenko_leonenko(x, k=5, min_distance=1e-3))
    with pytest.raises(ValueError, match="k=5"):
        entropy.kozachenko_leonenko(x[:5], k=5)


# ------------------------------------------------------------------------------ memorization


def test_planted_copies_are_found():
    rng = np.random.default_rng(0)
    train = rng.uniform(size=(200, 64))
    fresh = rng.uniform(size=(90, 64))
    copies = train[:10] + rng.normal(scale=1e-3, size=(10, 64))  # near-copies of 10 training images
    samples = np.concatenate([fresh, copies])
    assert memorization.memorization_share(samples, train) == pytest.approx(10 / 100)
    assert memorization.memorization_share(fresh, train) == 0.0
    assert memorization.memorization_share(train[:30], train) == 1.0
    # A training image present twice still counts as copied (exact duplicates are merged first).
    assert memorization.memorization_share(train[:1], np.concatenate([train, train[:1]])) == 1.0
    # The generalization score: the copies' distance is ~0, the fresh ones' the usual.
    score_fresh = memorization.generalization_score(fresh, train)
    assert memorization.generalization_score(samples, train) == pytest.approx(score_fresh * 0.9, rel=0.01)
    assert memorization.generalization_score(train, train) == pytest.approx(0.0, abs=1e-6)


def test_generalization_score_on_a_line_and_threshold_bounds():
    train = np.array([[0.0], [10.0]])
    samples = np.array([[1.0], [4.0], [9.5]])
    assert memorization.generalization_score(samples, train) == pytest.approx((1 + 4 + 0.5) / 3)
    # ratios 1/9, 4/6, 0.5/9.5: two under 1/3; a threshold of 0.7 takes all three
    assert memorization.memorization_share(samples, train) == pytest.approx(2 / 3)
    assert memorization.memorization_share(samples, train, threshold=0.7) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        memorization.memorization_share(samples, train, threshold=0)


# ------------------------------------------------------------------------------ fidelity


def test_fid_of_a_shifted_copy_is_the_squared_shift_and_identical_sets_score_perfectly():
    pytest.importorskip("torch_fidelity")
    from autophagy.metrics import fidelity

    real = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    same = fidelity.compare(real, real, seed=0)
    assert same["fid"] == pytest.approx(0.0, abs=1e-3)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    shift = np.zeros(8, np.float32)
    shift[:2] = [3.0, 4.0]  # |shift|^2 = 25; covariances equal, so FID is exactly 25
    far = fidelity.compare(real + shift, real, seed=0, real_stats=fidelity.statistics(real))
    assert far["fid"] == pytest.approx(25.0, rel=1e-3)
    assert far["precision"] < 0.2 and far["recall"] < 0.2
    assert far["kid"] > 100 * abs(same["kid"])  # KID of a set against itself: two random subsets, about 0
    with pytest.raises(ValueError, match="at least 10"):
        fidelity.compare(real[:9], real, seed=0)
