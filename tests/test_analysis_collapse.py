"""Collapse criteria on single chains, and the criterion text syntax."""

import math

import numpy as np
import pytest

from autophagy.analysis.collapse import chain_outcome, first_run, holds
from autophagy.analysis.criterion import format_criterion, parse_criterion
from autophagy.config import CollapseConfig

NAN = math.nan


def outcome(values, statuses=None, **criterion):
    statuses = statuses or ["ok"] * len(values)
    return chain_outcome(np.arange(len(values)), statuses, values, CollapseConfig(**criterion))


# --------------------------------------------------------------------------- modes and directions


def test_relative_up_collapses_when_metric_doubles():
    o = outcome([10, 15, 20, 25], metric="fid", mode="relative", threshold=2.0, direction="up")
    assert (o.time, o.collapsed, o.censored, o.last_generation) == (2, True, False, 3)


def test_relative_down_threshold_half_means_fell_to_half():
    o = outcome([0.8, 0.6, 0.41, 0.4, 0.3], mode="relative", threshold=0.5, direction="down")
    assert (o.time, o.collapsed) == (3, True)  # 0.41 > 0.4 = half of 0.8; 0.4 is the first at half


def test_relative_generation_zero_never_collapses():
    # threshold 1 up: generation 0 trivially equals 1 x itself, but it is the reference
    o = outcome([10, 9, 9], mode="relative", threshold=1.0, direction="up")
    assert (o.time, o.collapsed) == (2, False)


def test_absolute_up_and_down():
    assert outcome([0.5, 0.9, 1.2], mode="absolute", threshold=1.0, direction="up").time == 2
    down = outcome([0.9, 0.5, 0.3], mode="absolute", threshold=0.3, direction="down")
    assert (down.time, down.collapsed) == (2, True)


def test_absolute_generation_zero_can_collapse():
    o = outcome([0.2, 0.9], mode="absolute", threshold=0.3, direction="down")
    assert (o.time, o.collapsed) == (0, True)


def test_direction_matters():
    values = [10, 25, 3]
    assert outcome(values, mode="relative", threshold=2.0, direction="up").time == 1
    assert outcome(values, mode="relative", threshold=0.5, direction="down").time == 2


def test_nan_reference_in_relative_mode_cannot_collapse():
    o = outcome([NAN, 100, 100], mode="relative", threshold=2.0, direction="up")
    assert o.censored and o.time == 2


def test_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="direction 'sideways'"):
        holds(np.array([1.0]), 0.5, "sideways")


# --------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("persist, time, collapsed", [(1, 1, True), (2, 3, True), (3, 3, True), (4, 5, False)])
def test_persistence_time_is_start_of_first_long_enough_run(persist, time, collapsed):
    values = [10, 25, 12, 25, 26, 27]  # holds at 1, then 3, 4, 5
    o = outcome(values, mode="relative", threshold=2.0, direction="up", persist=persist)
    assert (o.time, o.collapsed) == (time, collapsed)


def test_run_still_open_at_the_end_is_censored():
    o = outcome([10, 12, 25], mode="relative", threshold=2.0, persist=2)
    assert (o.time, o.censored) == (2, True)


def test_a_gap_in_generations_breaks_a_run():
    gens = np.array([0, 1, 3, 4])
    assert first_run(gens, np.array([False, True, True, False]), 2) is None
    assert first_run(gens, np.array([False, False, True, True]), 2) == 2


# --------------------------------------------------------------------------- divergence and failures


def test_diverged_counts_as_collapse_at_that_generation():
    o = outcome([10, 12, NAN], ["ok", "ok", "diverged"], mode="relative", threshold=2.0)
    assert (o.time, o.collapsed, o.diverged) == (2, True, True)


def test_diverged_censors_when_so_configured():
    o = outcome([10, 12, NAN], ["ok", "ok", "diverged"], mode="relative", threshold=2.0, diverged_is_collapse=False)
    assert (o.time, o.collapsed, o.censored, o.diverged) == (2, False, True, True)


def test_diverged_satisfies_persistence_and_extends_an_open_run():
    statuses = ["ok", "ok", "ok", "diverged"]
    values = [10, 5, 25, NAN]
    assert outcome(values, statuses, mode="relative", threshold=2.0, persist=3).time == 2
    assert outcome([10, 5, 5, NAN], statuses, mode="relative", threshold=2.0, persist=3).time == 3
    censor = outcome(values, statuses, mode="relative", threshold=2.0, persist=3, diverged_is_collapse=False)
    assert (censor.time, censor.censored) == (3, True)


def test_failed_row_is_no_observation():
    o = outcome([10, 12, NAN], ["ok", "ok", "failed"], mode="relative", threshold=2.0)
    assert (o.time, o.censored, o.last_generation, o.diverged) == (1, True, 1, False)


# --------------------------------------------------------------------------- text syntax


def test_parse_relative_and_absolute():
    assert parse_criterion("fid>=2x") == CollapseConfig(metric="fid", mode="relative", threshold=2.0, direction="up",
                                                         persist=1, diverged_is_collapse=True)
    assert parse_criterion(" recall<=0.3:persist=2:diverged=censor ") == CollapseConfig(
        metric="recall", mode="absolute", threshold=0.3, direction="down", persist=2, diverged_is_collapse=False)
    assert parse_criterion("loglik<=-5.5") == CollapseConfig(metric="loglik", mode="absolute", threshold=-5.5,
                                                              direction="down")


@pytest.mark.parametrize("text", ["fid>=2x", "recall<=0.5x:persist=3", "kl>=1.5:diverged=censor",
                                  "class_agreement<=0.25x:persist=2:diverged=censor"])
def test_format_is_the_inverse_of_parse(text):
    assert format_criterion(parse_criterion(text)) == text


@pytest.mark.parametrize("text, problem", [
    ("fid>2", "only >= and <="),
    ("fid >= 2", "is not METRIC"),
    ("fid>=abc", "is not METRIC"),
    ("fid>=2..0", "not a number"),
    ("fid>=2x:persist=0", "persist must be an integer >= 1"),
    ("fid>=2x:persist=two", "persist must be an integer >= 1"),
    ("fid>=2:foo=1", "unknown option 'foo=1'"),
    ("fid>=2:persist=2:persist=3", "given twice"),
    ("fid>=2:diverged=maybe", "diverged must be"),
    ("fid>=0x", "must be positive in relative mode"),
    ("", "empty"),
])
def test_malformed_criteria_name_the_problem(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_criterion(text)


def test_unknown_metric_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown metric column 'fdi' \(the rows have: fid, recall\)"):
        parse_criterion("fdi>=2x", metrics=["fid", "recall"])
    assert parse_criterion("recall<=0.3", metrics=["fid", "recall"]).metric == "recall"
