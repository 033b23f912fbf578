"""Search-space dimensions: sampling, grids, positions, narrowing and widening, configs, errors."""

import math

import numpy as np
import pytest
from scipy import stats

from babysit.search.spaces import (
    Choice,
    IntUniform,
    LogUniform,
    Uniform,
    from_config,
    space_from_config,
    space_to_config,
)


def test_log_uniform_samples_are_uniform_in_log10_and_inside_the_range():
    samples = np.array(LogUniform(1e-6, 1e-1).sample(np.random.default_rng(0), 4000))
    assert samples.min() >= 1e-6 and samples.max() <= 1e-1
    # log10 of the samples is uniform on [-6, -1]: KS against that, and the quantiles per decade
    assert stats.kstest(np.log10(samples), stats.uniform(loc=-6, scale=5).cdf).pvalue > 0.01
    per_decade = np.histogram(np.log10(samples), bins=5, range=(-6, -1))[0] / len(samples)
    np.testing.assert_allclose(per_decade, 0.2, atol=0.03)
    # a plain uniform draw would put ~90% of them in the last decade: this is the point of log space
    assert np.mean(samples > 1e-2) < 0.25


def test_uniform_and_int_uniform_sample_evenly():
    rng = np.random.default_rng(1)
    floats = np.array(Uniform(0.0, 0.5).sample(rng, 4000))
    assert stats.kstest(floats, stats.uniform(loc=0, scale=0.5).cdf).pvalue > 0.01
    ints = IntUniform(3, 7).sample(rng, 5000)
    assert all(isinstance(value, int) for value in ints)
    counts = np.bincount(ints, minlength=8)[3:]
    np.testing.assert_allclose(counts / len(ints), 0.2, atol=0.03)  # every integer, the ends included
    logs = np.array(IntUniform(1, 1000, log=True).sample(rng, 4000))
    assert logs.min() >= 1 and logs.max() <= 1000
    assert 0.2 < np.mean(logs < 10) < 0.45  # about a third below 10 in log space, 1% in linear space


def test_choice_samples_every_option():
    values = Choice(["relu", "tanh", "elu"]).sample(np.random.default_rng(2), 3000)
    assert {value: values.count(value) / 3000 for value in set(values)} == pytest.approx(
        {"relu": 1 / 3, "tanh": 1 / 3, "elu": 1 / 3}, abs=0.04)


def test_grids_are_log_spaced_where_log_and_integers_deduplicated():
    np.testing.assert_allclose(LogUniform(1e-6, 1e-2).grid(5), [1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    np.testing.assert_allclose(Uniform(0, 1).grid(3), [0, 0.5, 1])
    assert Uniform(0, 1).grid(1) == [0.5]
    np.testing.assert_allclose(LogUniform(1e-4, 1e-2).grid(1), [1e-3])
    assert IntUniform(1, 3).grid(10) == [1, 2, 3]
    assert IntUniform(16, 256, log=True).grid(5) == [16, 32, 64, 128, 256]
    assert Choice(["a", "b"]).grid(7) == ["a", "b"]
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        Uniform(0, 1).grid(0)


def test_position_is_in_log_space_for_log_dimensions():
    assert LogUniform(1e-6, 1e-1).position(1e-6) == pytest.approx(0)
    assert LogUniform(1e-6, 1e-1).position(1e-1) == pytest.approx(1)
    assert LogUniform(1e-6, 1e-1).position(1e-3) == pytest.approx(0.6)
    assert Uniform(0, 10).position(2.5) == pytest.approx(0.25)
    assert IntUniform(1, 100, log=True).position(10) == pytest.approx(0.5)
    assert Choice(["a", "b", "c"]).position("c") == 1.0
    assert LogUniform(1e-6, 1e-1).edge(0.083) == "high"
    assert LogUniform(1e-6, 1e-1).edge(1.2e-6) == "low"
    assert LogUniform(1e-6, 1e-1).edge(1e-3) is None


def test_narrowed_spans_the_values_in_log_space_and_keeps_a_minimum_width():
    narrowed = LogUniform(1e-6, 1e-1).narrowed([1e-4, 3e-3, 1e-3])
    assert isinstance(narrowed, LogUniform)
    assert (narrowed.low, narrowed.high) == pytest.approx((1e-4, 3e-3))
    one = LogUniform(1e-6, 1e-1).narrowed([1e-3])  # padded to 10% of 5 decades, centred on the value
    assert math.log10(one.high) - math.log10(one.low) == pytest.approx(0.5)
    assert math.sqrt(one.low * one.high) == pytest.approx(1e-3)
    edge = Uniform(0, 1).narrowed([0.0])  # padding slides back inside the range
    assert (edge.low, edge.high) == pytest.approx((0, 0.1))
    ints = IntUniform(16, 256).narrowed([40.0, 100.0])
    assert (ints.low, ints.high) == (40, 100) and isinstance(ints.low, int)
    single = IntUniform(1, 10).narrowed([5, 5], min_fraction=0)  # an integer range keeps two values
    assert (single.low, single.high) == (5, 6)
    assert Choice(["a", "b", "c"]).narrowed(["c", "a", "c"]).options == ("a", "c")


def test_widened_moves_one_edge_out_by_half_the_width_within_hard_limits():
    wide = LogUniform(1e-6, 1e-2).widened("high")
    assert (wide.low, wide.high) == pytest.approx((1e-6, 1.0))  # 4 decades -> 2 more
    assert LogUniform(1e-6, 1e-2).widened("low").low == pytest.approx(1e-8)
    dropout = Uniform(0.2, 0.8, limits=(0.0, 0.95)).widened("high")
    assert dropout.high == pytest.approx(0.95) and dropout.limits == (0.0, 0.95)
    assert Uniform(0.0, 0.8, limits=(0.0, 0.95)).widened("low").low == 0.0
    assert IntUniform(2, 10).widened("low").low == -2
    assert IntUniform(2, 10, limits=(1, 64)).widened("low").low == 1
    assert IntUniform(2, 64, log=True).widened("low").low == 1  # never below 1 on a log scale
    with pytest.raises(ValueError, match="side must be 'low' or 'high', got 'up'"):
        Uniform(0, 1).widened("up")


def test_validation_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"low must be < high, got low=0.1, high=0.01"):
        LogUniform(0.1, 0.01)
    with pytest.raises(ValueError, match="log-scale range must be > 0, got low=0"):
        LogUniform(0, 1)
    with pytest.raises(ValueError, match="low must be a finite number, got nan"):
        Uniform(float("nan"), 1)
    with pytest.raises(ValueError, match=r"low must be an integer, got 1\.5"):
        IntUniform(1.5, 4)
    with pytest.raises(ValueError, match="must start at >= 1, got low=0"):
        IntUniform(0, 4, log=True)
    with pytest.raises(ValueError, match=r"must lie within its limits \[0, 1\]"):
        Uniform(0.5, 1.5, limits=(0, 1))
    with pytest.raises(ValueError, match="options must not be empty"):
        Choice([])
    with pytest.raises(ValueError, match="options must be distinct"):
        Choice(["a", "a"])
    with pytest.raises(ValueError, match="options must be None, bool, int, float or str"):
        Choice([[1, 2]])
    with pytest.raises(ValueError, match="unknown dimension type 'loguniform'"):
        from_config({"type": "loguniform", "low": 1, "high": 2})


def test_repr_and_config_round_trip():
    space = {"lr": LogUniform(1e-6, 1e-1), "p": Uniform(0.0, 0.5, limits=(0.0, 0.95)),
             "hidden": IntUniform(16, 256, log=True), "act": Choice(["relu", "tanh", None])}
    assert repr(space["lr"]) == "LogUniform(1e-06, 0.1)"
    assert repr(space["hidden"]) == "IntUniform(16, 256, log=True)"
    assert space_to_config(space)["lr"] == {"type": "log_uniform", "low": 1e-6, "high": 0.1}
    assert space_from_config(space_to_config(space)) == space
    assert LogUniform.from_config({"type": "log_uniform", "low": 1e-6, "high": 0.1}) == LogUniform(1e-6, 0.1)
    assert LogUniform(1e-6, 0.1) != LogUniform(1e-6, 0.2)


def test_to_optuna_distributions():
    assert LogUniform(1e-6, 1e-1).to_optuna().log is True
    assert IntUniform(16, 256, log=True).to_optuna().high == 256
    assert Choice(["a", "b"]).to_optuna().choices == ("a", "b")
    assert Uniform(0, 1).to_optuna().log is False
