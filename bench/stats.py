"""Aggregate statistics for benchmark scores, in the manner of rliable (Agarwal et al., 2021).

Every function here is pure: randomness comes only from an explicit ``rng`` argument, a
``numpy.random.Generator`` or an integer seed for one, so the same seed gives the same interval.

Conventions
-----------
* A *score matrix* has shape ``(runs, tasks)``: one row per independent run (a seed), one column
  per task (a setting of every other axis). A 1-D array is read as one task.
* ``NaN`` marks a missing score (a failed run). Statistics ignore it; stratified resampling keeps
  each task's number of present scores and draws only among them.
* Intervals are percentile bootstrap intervals and come back as :class:`Interval`
  ``(point, low, high)``, where ``point`` is the statistic of the data itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.stats

RngLike = np.random.Generator | int | None

# scipy >= 1.15 calls the generator argument `rng`; older releases call it `random_state`.
_BOOTSTRAP_PARAMS = inspect.signature(scipy.stats.bootstrap).parameters

__all__ = [
    "Interval",
    "bootstrap_ci",
    "nested_bootstrap_ci",
    "iqm",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "stratified_bootstrap_ci",
    "stratified_resample",
]


class Interval(NamedTuple):
    """A point estimate with a confidence interval; unpacks as ``point, low, high``."""

    point: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the closed interval (False if the interval is NaN)."""
        return bool(self.low <= value <= self.high)


def _generator(rng: RngLike) -> np.random.Generator:
    """``rng`` itself if it is a Generator, else a new Generator seeded with it (None means 0)."""
    return np.random.default_rng(0 if rng is None else rng)


def _finite(values) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    return a[np.isfinite(a)]


def _as_matrix(scores) -> np.ndarray:
    a = np.asarray(scores, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"expected a (runs x tasks) matrix, got shape {a.shape}")
    return a


def _percentiles(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return float("nan"), float("nan")
    alpha = 1.0 - confidence
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle 50% of all scores, pooled over runs and tasks.

    ``scipy.stats.trim_mean(x, 0.25)`` over the flattened scores, after dropping NaN, as in
    rliable. NaN if no score is present.
    """
    a = np.asarray(x, dtype=float).ravel()
    a = a[~np.isnan(a)]
    if a.size == 0:
        return float("nan")
    return float(scipy.stats.trim_mean(a, 0.25))


def bootstrap_ci(
    values,
    statistic: Callable = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: RngLike = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over runs (one value per seed).

    Non-finite values (failed or diverged runs) are dropped first. ``statistic`` is called on a
    1-D array; if it takes an ``axis`` argument (like ``np.mean``) scipy vectorises it.

    Small samples: with no value the result is ``(nan, nan, nan)``; with one value it is
    ``(value, nan, nan)``, since one run says nothing about spread; when every value is equal
    the interval is that value, ``(v, v, v)``.
    """
    a = _finite(values)
    if a.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    point = float(statistic(a))
    if a.size < 2:
        return Interval(point, float("nan"), float("nan"))
    if np.all(a == a[0]):
        return Interval(point, point, point)
    kwargs = {"rng" if "rng" in _BOOTSTRAP_PARAMS else "random_state": _generator(rng)}
    result = scipy.stats.bootstrap(
        (a,),
        statistic,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        **kwargs,
    )
    ci = result.confidence_interval
    return Interval(point, float(ci.low), float(ci.high))


def nested_bootstrap_ci(
    values,
    clusters,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: RngLike = 0,
) -> Interval:
    """Two-level percentile bootstrap interval of the mean, for replicates drawn in two stages.

    ``values[i]`` is one replicate's score and ``clusters[i]`` the first-stage draw it shares
    with others: here the data sample (``data_seed``, which fixes the training and test points)
    within which initialisation seeds were drawn. Each resample draws as many clusters as there
    are, with replacement, then within each drawn cluster as many of its replicates as it has,
    with replacement, and takes the mean of all drawn (Davison & Hinkley 1997, sec. 3.8; the
    "resample both stages" scheme). Replicates that share a test set are not independent, and
    resampling them as if they were gives intervals that are too narrow: with one value per
    cluster this is the ordinary bootstrap over clusters; with one cluster, over replicates.

    Non-finite values are dropped first; small samples as :func:`bootstrap_ci` (no value: NaN;
    one: no interval; all equal: a point interval).
    """
    a = np.asarray(values, dtype=float).ravel()
    labels = np.asarray(clusters).ravel()
    if labels.shape != a.shape:
        raise ValueError(f"{a.size} values but {labels.size} cluster labels")
    keep = np.isfinite(a)
    a, labels = a[keep], labels[keep]
    if a.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    point = float(a.mean())
    if a.size < 2:
        return Interval(point, float("nan"), float("nan"))
    if np.all(a == a[0]):
        return Interval(point, point, point)
    # (clusters, most replicates in one cluster), present values first in each row
    _, codes = np.unique(labels, return_inverse=True)
    sizes = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    slots = np.arange(a.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    table = np.zeros((len(sizes), sizes.max()))
    table[codes[order], slots] = a[order]
    generator = _generator(rng)
    n_clusters, widest = table.shape
    picked = generator.integers(0, n_clusters, size=(n_resamples, n_clusters))  # (R, C)
    n_in = sizes[picked][..., None]  # (R, C, 1): each drawn cluster's size
    inner = np.floor(generator.random((n_resamples, n_clusters, widest)) * n_in).astype(int)
    drawn = table[picked[..., None], inner]  # (R, C, widest)
    counted = np.arange(widest) < n_in  # only as many draws as the cluster has replicates
    means = (drawn * counted).sum(axis=(1, 2)) / counted.sum(axis=(1, 2))
    low, high = _percentiles(means, confidence)
    return Interval(point, low, high)


def stratified_resample(scores, rng: RngLike = 0) -> np.ndarray:
    """One stratified bootstrap replicate of a ``(runs, tasks)`` matrix.

    Within each task (column) independently, the present scores are drawn with replacement, as
    many as there were; scores never move between tasks. NaN cells stay NaN in place.
    """
    return _stratified_sampler(_as_matrix(scores))(_generator(rng))


def _stratified_sampler(matrix: np.ndarray) -> Callable[[np.random.Generator], np.ndarray]:
    """A function drawing stratified replicates of ``matrix`` (precomputes the column layout)."""
    present = ~np.isnan(matrix)
    n_runs, n_tasks = matrix.shape
    # Per column, the row numbers of present scores first (a stable sort keeps their order).
    rows_present_first = np.argsort(~present, axis=0, kind="stable")
    n_present = present.sum(axis=0)
    high = np.maximum(n_present, 1)
    columns = np.arange(n_tasks)

    def draw(rng: np.random.Generator) -> np.ndarray:
        picks = rng.integers(0, high, size=(n_runs, n_tasks))
        rows = rows_present_first[picks, columns]
        return np.where(present, matrix[rows, columns], np.nan)

    return draw


def stratified_bootstrap_ci(
    scores: Mapping[str, np.ndarray],
    aggregate: Callable[[np.ndarray], float] = iqm,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: RngLike = 0,
) -> pd.DataFrame:
    """rliable's stratified bootstrap interval of an aggregate score, for each method.

    ``scores`` maps a method name to its ``(runs, tasks)`` matrix. Each replicate resamples runs
    with replacement independently within every task (see :func:`stratified_resample`), then
    applies ``aggregate`` to the whole matrix (e.g. :func:`iqm`, or ``np.nanmean``). The interval
    is the percentile interval of the replicates; ``point`` is the aggregate of the data.

    Returns a DataFrame with columns ``method, point, low, high``, in the order of ``scores``.
    """
    generator = _generator(rng)
    rows = []
    for method, method_scores in scores.items():
        matrix = _as_matrix(method_scores)
        draw = _stratified_sampler(matrix)
        if aggregate is iqm and not np.isnan(matrix).any():
            # the same draws, in one array: (resamples, runs x tasks), trimmed row by row
            drawn = np.stack([draw(generator).ravel() for _ in range(n_resamples)])
            replicates = scipy.stats.trim_mean(drawn, 0.25, axis=1)
        else:
            replicates = np.array([aggregate(draw(generator)) for _ in range(n_resamples)], float)
        low, high = _percentiles(replicates, confidence)
        rows.append({"method": method, "point": float(aggregate(matrix)), "low": low, "high": high})
    return pd.DataFrame(rows, columns=["method", "point", "low", "high"])


def _improvement_per_task(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per task, P(x_i > y_j) + 0.5 P(x_i = y_j) over all pairs of present scores (NaN if none)."""
    xi = x[:, None, :]
    yj = y[None, :, :]
    wins = (xi > yj).sum(axis=(0, 1)) + 0.5 * (xi == yj).sum(axis=(0, 1))
    pairs = (~np.isnan(x)).sum(axis=0) * (~np.isnan(y)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.maximum(pairs, 1), np.nan)


def _check_tasks(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} tasks but y has {y.shape[1]}")


def probability_of_improvement(x, y) -> float:
    """rliable's probability of improvement P(X > Y) of method X over method Y.

    ``x`` and ``y`` are ``(runs, tasks)`` matrices over the same tasks (their numbers of runs may
    differ). For each task this is the Mann-Whitney U statistic divided by the number of pairs,
    i.e. the fraction of pairs (x_i, y_j) with x_i > y_j, ties counting half; the result is the
    mean over tasks. 0.5 means neither is better.
    """
    x, y = _as_matrix(x), _as_matrix(y)
    _check_tasks(x, y)
    per_task = _improvement_per_task(x, y)
    if np.all(np.isnan(per_task)):
        return float("nan")
    return float(np.nanmean(per_task))


def probability_of_improvement_ci(
    x,
    y,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    rng: RngLike = 0,
) -> Interval:
    """:func:`probability_of_improvement` with a stratified bootstrap interval.

    Each replicate resamples the runs of ``x`` and of ``y`` independently within every task, as
    rliable does, and recomputes P(X > Y).
    """
    x, y = _as_matrix(x), _as_matrix(y)
    _check_tasks(x, y)
    generator = _generator(rng)
    draw_x, draw_y = _stratified_sampler(x), _stratified_sampler(y)
    replicates = np.array(
        [
            probability_of_improvement(draw_x(generator), draw_y(generator))
            for _ in range(n_resamples)
        ],
        dtype=float,
    )
    low, high = _percentiles(replicates, confidence)
    return Interval(probability_of_improvement(x, y), low, high)


def r_squared(prediction, y):
    """1 - SS_res / SS_tot along the last axis: (..., n) -> (...), for torch tensors and numpy
    arrays alike. 1 is a perfect fit, 0 is no better than predicting the mean of y, below 0
    worse than that."""
    residual = ((y - prediction) ** 2).sum(-1)
    total = ((y - y.mean(-1, keepdims=True)) ** 2).sum(-1)  # torch and numpy both say keepdims
    return 1 - residual / total
