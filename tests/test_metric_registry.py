"""The metric registry (autophagy/metrics/registry.py): every backend's columns are in it, the
collapse criteria take their direction from it, and a backend's evaluate must return what it lists."""

import math
from pathlib import Path

import pytest

from autophagy import grid, sweepfile
from autophagy.analysis.criterion import CriterionError, parse_criterion
from autophagy.backends import backend_class
from autophagy.chain import Chain
from autophagy.config import CollapseConfig, ConfigError
from autophagy.metrics import registry

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_every_column_of_every_shipped_sweep_is_registered_with_a_family(path):
    cfg = sweepfile.load(path)
    names = cfg.model.metric_names(cfg)
    assert names and registry.unregistered(names) == []
    assert len(set(names)) == len(names)


def test_columns_made_per_something_take_their_stems_entry():
    assert registry.lookup("offtarget_fid") is registry.METRICS["fid"]
    assert registry.lookup("variance_c3").name == "variance"
    assert registry.lookup("pairwise_l2_cats").name == "pairwise_l2"
    assert registry.lookup("pairwise_l2_std").name == "pairwise_l2_std"  # its own entry, not its stem's
    assert registry.lookup("clip_score_dogs").worse == "down"
    assert registry.lookup("seconds_sample") is None and registry.lookup("train_loss") is None


def test_directions_and_signs():
    assert [registry.worse(m) for m in ("fid", "kl", "memorization_share", "recall", "entropy_train")] == \
        ["up", "up", "up", "down", "down"]
    assert registry.better_sign("fid") == -1 and registry.better_sign("recall") == 1
    assert registry.better_sign("pairwise_l2_std") == 0  # neither way is better
    assert registry.better_sign("not_a_metric") == 0


def test_names_expand_families_in_registry_order_and_refuse_unknown_parts():
    assert registry.names("fidelity") == ("fid", "kid", "precision", "recall")
    assert registry.names("copying", without=("memorization_share",)) == ("nearest_train_l2", "generalization_score")
    assert registry.names("kl", "fidelity")[:2] == ("kl", "fid")
    with pytest.raises(KeyError, match="'fidelty' is neither a metric nor a metric family"):
        registry.names("fidelty")


def test_the_criterion_takes_the_metrics_direction_and_refuses_the_other():
    assert CollapseConfig(metric="recall").direction == "down"
    assert CollapseConfig(metric="fid").direction == "up"
    assert CollapseConfig(metric="pairwise_l2_std", direction="down").direction == "down"  # either way
    with pytest.raises(ValueError, match="direction: down says smaller fid is worse, but larger is"):
        CollapseConfig(metric="fid", direction="down")
    with pytest.raises(CriterionError, match="recall>=0.5.*smaller is"):
        parse_criterion("recall>=0.5")


def test_a_sweep_file_gets_the_default_metrics_direction_and_one_line_for_a_contradiction(tmp_path):
    base = {"name": "t", "backend": "gmm", "generations": 2, "images_per_generation": 30, "grid": {"ratio": [1.0]}}
    assert sweepfile.from_dict({**base, "collapse": {"metric": "variance"}}).collapse.direction == "down"
    assert sweepfile.from_dict(base).collapse.metric == "kl"  # the backend's first, direction up
    with pytest.raises(ConfigError, match=r"^t.yaml: collapse.direction: up says larger variance is worse"):
        sweepfile.from_dict({**base, "collapse": {"metric": "variance", "direction": "up"}}, "t.yaml")


CFG = sweepfile.from_dict({"name": "t", "backend": "gmm", "generations": 1, "images_per_generation": 30,
                           "grid": {"ratio": [0.5]}})


def _chain_with_evaluate(change):
    backend = backend_class("gmm")(CFG, {})
    evaluate = backend.evaluate
    backend.evaluate = lambda *a: change(evaluate(*a))
    return Chain(CFG, grid.cells(CFG)[0], backend)


def test_a_listed_metric_that_evaluate_does_not_return_is_named():
    chain = _chain_with_evaluate(lambda m: {k: v for k, v in m.items() if k != "loglik"})
    with pytest.raises(ValueError, match="GMMBackend.evaluate did not return loglik, which its metric_names lists"):
        chain.run_generation()


def test_a_returned_metric_that_is_not_listed_is_named_not_dropped():
    chain = _chain_with_evaluate(lambda m: {**m, "sharpness": 1.0})
    with pytest.raises(ValueError, match="returned sharpness, which its metric_names does not list"):
        chain.run_generation()


def test_evaluate_returning_what_it_lists_gives_floats_in_schema_order():
    record = _chain_with_evaluate(lambda m: dict(reversed(list(m.items())))).run_generation()
    assert list(record.metrics) == list(CFG.model.metric_names(CFG))
    assert all(isinstance(v, float) and math.isfinite(v) for v in record.metrics.values())
