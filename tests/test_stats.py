"""Statistics on small matrices whose answers can be worked out by hand."""

import math

import numpy as np
import pytest

from bench.stats import (
    Interval,
    bootstrap_ci,
    iqm,
    nested_bootstrap_ci,
    probability_of_improvement,
    probability_of_improvement_ci,
    stratified_bootstrap_ci,
    stratified_resample,
)

# --- interquartile mean -------------------------------------------------------------------


def test_iqm_of_one_to_eight_is_mean_of_middle_four():
    # 8 scores, a quarter (2) cut from each end: mean(3, 4, 5, 6) = 4.5
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)


def test_iqm_ignores_outliers_in_the_outer_quarters():
    # mean(3, 4, 5, 6) again: the 1000 is in the top quarter and is cut
    assert iqm([1, 2, 3, 4, 5, 6, 7, 1000]) == pytest.approx(4.5)


def test_iqm_pools_a_matrix_over_runs_and_tasks():
    # the same eight numbers as a 2 x 4 (runs x tasks) matrix
    assert iqm(np.arange(1, 9).reshape(2, 4)) == pytest.approx(4.5)


def test_iqm_of_one_to_ten():
    # int(0.25 * 10) = 2 cut from each end: mean(3..8) = 33 / 6 = 5.5
    assert iqm(np.arange(1, 11)) == pytest.approx(5.5)


def test_iqm_drops_nan_and_is_nan_when_empty():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8, np.nan]) == pytest.approx(4.5)
    assert math.isnan(iqm([np.nan, np.nan]))


# --- probability of improvement ------------------------------------------------------------


def test_probability_of_improvement_by_hand():
    # x = [1, 2], y = [0, 3]: pairs (1>0)=1, (1>3)=0, (2>0)=1, (2>3)=0 -> 2 / 4 = 0.5
    assert probability_of_improvement([1, 2], [0, 3]) == pytest.approx(0.5)
    # x = [2, 3], y = [0, 1]: all four pairs are wins -> 1.0, and the reverse is 0.0
    assert probability_of_improvement([2, 3], [0, 1]) == pytest.approx(1.0)
    assert probability_of_improvement([0, 1], [2, 3]) == pytest.approx(0.0)


def test_ties_count_half():
    # x = [1, 2], y = [1, 1]: (1=1)=0.5, (1=1)=0.5, (2>1)=1, (2>1)=1 -> 3 / 4 = 0.75
    assert probability_of_improvement([1, 2], [1, 1]) == pytest.approx(0.75)
    # identical scores: every pair ties -> 0.5
    assert probability_of_improvement([3, 3, 3], [3, 3]) == pytest.approx(0.5)


def test_probability_of_improvement_averages_over_tasks():
    # task 0: x = [1, 2] vs y = [0, 3] -> 0.5; task 1: x = [5, 6] vs y = [1, 2] -> 1.0
    # mean over tasks = 0.75 (not the pooled Mann-Whitney over all 16 pairs)
    x = np.array([[1, 5], [2, 6]])
    y = np.array([[0, 1], [3, 2]])
    assert probability_of_improvement(x, y) == pytest.approx(0.75)


def test_probability_of_improvement_with_unequal_runs_and_missing_scores():
    # x has 3 runs, y 2 (one NaN in x): x = [1, 3] vs y = [2, 2] -> (0 + 1 + 0 + 1) / 4 = 0.5
    x = np.array([[1.0], [np.nan], [3.0]])
    y = np.array([[2.0], [2.0]])
    assert probability_of_improvement(x, y) == pytest.approx(0.5)


def test_probability_of_improvement_needs_the_same_tasks():
    with pytest.raises(ValueError):
        probability_of_improvement(np.zeros((2, 3)), np.zeros((2, 2)))


def test_probability_of_improvement_interval():
    x = np.array([[0.9, 0.8], [0.95, 0.85], [0.92, 0.7]])
    y = np.array([[0.5, 0.6], [0.55, 0.9], [0.45, 0.65]])
    ci = probability_of_improvement_ci(x, y, n_resamples=500, rng=1)
    assert isinstance(ci, Interval)
    assert 0.0 <= ci.low <= ci.point <= ci.high <= 1.0
    assert ci == probability_of_improvement_ci(x, y, n_resamples=500, rng=1)
    # x wins every pair in task 0 whatever is resampled, so the bound never falls below 0.5
    assert ci.low >= 0.5


# --- bootstrap intervals -------------------------------------------------------------------


def test_bootstrap_ci_contains_the_point():
    values = np.array([0.70, 0.72, 0.75, 0.71, 0.78, 0.74])
    point, low, high = bootstrap_ci(values, rng=0)
    assert point == pytest.approx(values.mean())
    assert low <= point <= high
    # the mean of resamples can never leave the range of the data
    assert values.min() <= low and high <= values.max()


def test_bootstrap_ci_same_seed_same_interval():
    values = np.random.default_rng(3).normal(size=20)
    assert bootstrap_ci(values, rng=7) == bootstrap_ci(values, rng=7)
    assert bootstrap_ci(values, rng=np.random.default_rng(7)) == bootstrap_ci(values, rng=7)
    assert bootstrap_ci(values, rng=7) != bootstrap_ci(values, rng=8)


def test_bootstrap_ci_shrinks_with_more_runs():
    data = np.random.default_rng(0).normal(size=2000)
    _, low_small, high_small = bootstrap_ci(data[:10], rng=0)
    _, low_big, high_big = bootstrap_ci(data, rng=0)
    assert high_big - low_big < (high_small - low_small) / 5


def test_bootstrap_ci_small_samples():
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    point, low, high = bootstrap_ci([0.8])
    assert point == 0.8 and math.isnan(low) and math.isnan(high)
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    # non-finite values (failed runs) are dropped
    assert bootstrap_ci([0.8, np.nan, np.inf]).point == 0.8


def test_bootstrap_ci_with_another_statistic():
    values = np.arange(1.0, 9.0)
    point, low, high = bootstrap_ci(values, statistic=iqm, n_resamples=300, rng=0)
    assert point == pytest.approx(4.5)
    assert low <= point <= high


# --- stratified bootstrap ------------------------------------------------------------------


def test_stratified_resampling_never_mixes_tasks():
    # column j holds only values 10 * j + (0..3), so any foreign value would be visible
    scores = np.arange(4)[:, None] + 10 * np.arange(5)[None, :]
    rng = np.random.default_rng(0)
    for _ in range(50):
        sample = stratified_resample(scores, rng)
        assert sample.shape == scores.shape
        for j in range(scores.shape[1]):
            assert set(sample[:, j]) <= set(scores[:, j])


def test_stratified_resampling_keeps_missing_scores_missing():
    scores = np.array([[1.0, 5.0], [np.nan, 6.0], [3.0, np.nan]])
    rng = np.random.default_rng(0)
    for _ in range(20):
        sample = stratified_resample(scores, rng)
        np.testing.assert_array_equal(np.isnan(sample), np.isnan(scores))
        assert set(sample[~np.isnan(sample[:, 0]), 0]) <= {1.0, 3.0}
        assert set(sample[~np.isnan(sample[:, 1]), 1]) <= {5.0, 6.0}


def test_stratified_bootstrap_ci_table():
    rng = np.random.default_rng(0)
    scores = {
        "good": 0.9 + 0.02 * rng.standard_normal((5, 4)),
        "bad": 0.5 + 0.02 * rng.standard_normal((5, 4)),
    }
    table = stratified_bootstrap_ci(scores, aggregate=iqm, n_resamples=300, rng=0)
    assert list(table.columns) == ["method", "point", "low", "high"]
    assert list(table["method"]) == ["good", "bad"]
    for row in table.itertuples():
        assert row.point == pytest.approx(iqm(scores[row.method]))
        assert row.low <= row.point <= row.high
    good, bad = table.set_index("method").loc[["good", "bad"]].itertuples()
    assert bad.high < good.low


def test_stratified_bootstrap_ci_constant_tasks_have_zero_width():
    # each task is constant over runs, so every replicate equals the data: mean of 1, 2, 3 = 2
    scores = {"m": np.array([[1.0, 2.0, 3.0]] * 4)}
    row = stratified_bootstrap_ci(scores, aggregate=np.nanmean, n_resamples=100).iloc[0]
    assert (row.point, row.low, row.high) == (2.0, 2.0, 2.0)


def test_stratified_bootstrap_ci_is_reproducible_and_shrinks():
    data = np.random.default_rng(1).normal(size=(400, 3))
    few = {"m": data[:5]}
    many = {"m": data}
    a = stratified_bootstrap_ci(few, aggregate=np.nanmean, n_resamples=300, rng=5)
    b = stratified_bootstrap_ci(few, aggregate=np.nanmean, n_resamples=300, rng=5)
    assert a.equals(b)
    c = stratified_bootstrap_ci(many, aggregate=np.nanmean, n_resamples=300, rng=5)
    width = lambda t: float(t["high"].iloc[0] - t["low"].iloc[0])  # noqa: E731
    assert width(c) < width(a) / 3


def test_nested_bootstrap_resamples_clusters_then_members():
    values = np.r_[np.full(5, 0.8), np.full(5, 0.9)] + np.tile(np.linspace(0, 0.004, 5), 2)
    clusters = np.repeat([0, 1], 5)
    nested = nested_bootstrap_ci(values, clusters, n_resamples=2000, rng=0)
    flat = nested_bootstrap_ci(values, np.arange(10), n_resamples=2000, rng=0)
    assert nested.point == flat.point == pytest.approx(values.mean())
    # two test sets, not ten independent replicates: the interval reaches either level
    assert nested.low < 0.81 and nested.high > 0.89
    assert (nested.high - nested.low) > 1.5 * (flat.high - flat.low)
    assert nested_bootstrap_ci([0.5, 0.5], [0, 1]) == (0.5, 0.5, 0.5)
    assert np.isnan(nested_bootstrap_ci([0.5], [0]).low)
    with pytest.raises(ValueError, match="cluster labels"):
        nested_bootstrap_ci([0.5, 0.6], [0])
