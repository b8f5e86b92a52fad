"""Tidy tables of numbers from runs: seed-level summaries with bootstrap intervals, the ranking,
failure counts and the seed notebook's runs.

Every function here is a pure function of DataFrames (plus an integer seed for bootstrap
intervals); see :mod:`bench.report.results` for the units of analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.grid import notebook
from bench.report.results import (
    activation_order,
    levels,
    seed_axes,
    task_axes,
    usable,
    with_hidden_layers,
)
from bench.report.support import select
from bench.report.wording import tiers
from bench.stats import (
    iqm,
    nested_bootstrap_ci,
    probability_of_improvement_ci,
    stratified_bootstrap_ci,
)

N_RESAMPLES = 2000  # bootstrap resamples per interval: percentiles stable to ~0.1 point
CONFIDENCE = 0.95
SUMMARY_COLUMNS = ("mean", "low", "high", "n")  # after the `by` columns
# The first stage of the replicates' draw: a data sample (training and test points), within
# which initialisation seeds were drawn; intervals resample both stages.
CLUSTER_AXIS = "data_seed"


# -----------------------------------------------------------------------------
# seed-level summaries


def seed_level(runs: pd.DataFrame, by: Sequence[str], metric: str) -> pd.DataFrame:
    """One row per group of ``by`` and replicate: the mean of ``metric`` over its finite values
    (the usable runs only)."""
    by = list(by)
    keys = by + seed_axes(runs)
    values = pd.to_numeric(runs[metric], errors="coerce").astype(float)
    keep = usable(runs).index.intersection(runs.index[np.isfinite(values)])
    frame = runs.loc[keep, keys].assign(**{metric: values.loc[keep]})
    if not keys:
        return pd.DataFrame({metric: [frame[metric].mean()]}).dropna()
    return frame.groupby(keys, dropna=False, sort=True)[metric].mean().reset_index()


FACETS = ("dataset",)  # axes that are panels, never compared across, when a summary has them
YARDSTICK_MEANS = ("chance", "ceiling", "bayes")  # test accuracy's yardsticks, same runs


def summarize(
    runs: pd.DataFrame,
    by: Sequence[str],
    metric: str = "test_acc",
    *,
    within: Sequence[str] | None = None,
    where=None,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of ``metric`` per group of ``by`` with a two-level bootstrap interval over the
    replicates, on common support.

    The runs are chosen by :func:`bench.report.support.select`: the groups of ``by`` are the
    compared cells, within each facet of ``within`` (default: the FACETS among ``by``), each
    averaged only over the settings of the other axes that every cell of its facet has. Within
    a replicate the kept runs are averaged first; the interval resamples data samples, then
    seeds within them (:func:`bench.stats.nested_bootstrap_ci`).

    Returns columns ``*by, mean, low, high, n`` (n: replicates); for test accuracy also the
    mean chance, expected best possible (``ceiling``) and the Bayes rule's accuracy on the very
    test points of the kept runs (``bayes``), when the runs carry them (yardsticks.py). With a
    single replicate, low and high are NaN. ``attrs["selection"]`` holds the Selection.
    """
    by = list(by)
    within = [a for a in by if a in FACETS] if within is None else list(within)
    compare = [a for a in by if a not in within]
    chosen = select(runs, compare, within, metric=metric, where=where)
    level = seed_level(chosen.runs, by, metric)
    summary = summarize_replicates(level, by, metric, n_resamples, confidence, seed)
    if metric == "test_acc" and len(summary):
        summary = _with_yardstick_means(summary, chosen.runs, by)
    summary.attrs["selection"] = chosen
    return summary


def _with_yardstick_means(summary: pd.DataFrame, runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    columns = {"chance": "chance", "ceiling": "ceiling", "bayes": "bayes_test", "line": "line_test",
               "linear_ref": "linear_ref", "strong_ref": "strong_ref"}  # fmt: skip
    present = {k: v for k, v in columns.items() if v in runs}
    if not present or not by:
        return summary
    means = runs.groupby(by, dropna=False, sort=True)[list(present.values())].mean()
    means = means.rename(columns={v: k for k, v in present.items()}).reset_index()
    return summary.merge(means, on=by, how="left")


def summarize_replicates(
    level: pd.DataFrame, by: list[str], metric: str, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    """Mean and two-level bootstrap interval of ``metric`` per group of ``by`` over the replicate
    rows of ``level`` (clusters: data_seed when present): columns ``*by, mean, low, high, n``."""
    columns = [*by, *SUMMARY_COLUMNS]
    if level.empty:
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed)
    groups = level.groupby(by, dropna=False, sort=True) if by else [((), level)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        clusters = group[CLUSTER_AXIS] if CLUSTER_AXIS in group else np.arange(len(group))
        point, low, high = nested_bootstrap_ci(
            group[metric].to_numpy(),
            np.asarray(clusters),
            confidence=confidence,
            n_resamples=n_resamples,
            rng=rng,
        )
        rows.append((*key, point, low, high, len(group)))
    return pd.DataFrame(rows, columns=columns)


def paired_change(
    runs: pd.DataFrame,
    by: Sequence[str],
    axis: str,
    start,
    end,
    metric: str = "test_acc",
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """How much ``metric`` falls from ``axis`` = start to ``axis`` = end, per group of ``by``:
    each replicate's fall (its mean at start minus its mean at end, paired), then the mean over
    replicates with a two-level bootstrap interval. Columns ``*by, mean, low, high, n``. The
    caller selects the runs (common support)."""
    by = list(by)
    level = seed_level(runs[runs[axis].isin([start, end])], [*by, axis], metric)
    keys = [*by, *seed_axes(runs)]
    if level.empty or not keys:
        return pd.DataFrame(columns=[*by, *SUMMARY_COLUMNS])
    wide = level.pivot_table(index=keys, columns=axis, values=metric)
    if start not in wide or end not in wide:
        return pd.DataFrame(columns=[*by, *SUMMARY_COLUMNS])
    fall = (wide[start] - wide[end]).dropna().rename(metric).reset_index()
    return summarize_replicates(fall, by, metric, n_resamples, confidence, seed)


def cell(summary: pd.DataFrame, **where) -> pd.Series | None:
    """The row of a summary where every given column equals its value (None if absent)."""
    mask = np.ones(len(summary), dtype=bool)
    for column, value in where.items():
        mask &= (summary[column] == value).to_numpy()
    rows = summary[mask]
    return rows.iloc[0] if len(rows) else None


# -----------------------------------------------------------------------------
# ranking: rliable's IQM and probability of improvement over runs x tasks matrices


def score_matrices(
    runs: pd.DataFrame, metric: str = "test_acc", activations: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """One (replicates x tasks) matrix of ``metric`` per activation, over the tasks that every
    activation has at least one finite score on (NaN where a replicate is missing)."""
    runs = usable(runs)
    runs = runs[np.isfinite(pd.to_numeric(runs[metric], errors="coerce").astype(float))]
    activations = list(activations) if activations is not None else levels(runs, "activation")
    if runs.empty or not activations:
        return {}
    frame = pd.DataFrame(
        {
            "activation": runs["activation"].to_numpy(),
            "task": _group_ids(runs, task_axes(runs)),
            "replicate": _group_ids(runs, seed_axes(runs)),
            "score": runs[metric].astype(float).to_numpy(),
        }
    )
    present = frame.groupby("task")["activation"].agg(lambda a: set(a) >= set(activations))
    common = present.index[present.to_numpy()]
    replicates = np.sort(frame["replicate"].unique())
    matrices = {}
    for activation in activations:
        part = frame[(frame["activation"] == activation) & frame["task"].isin(common)]
        table = part.pivot_table(index="replicate", columns="task", values="score", aggfunc="mean")
        matrices[activation] = table.reindex(index=replicates, columns=common).to_numpy(float)
    return matrices


def _group_ids(runs: pd.DataFrame, axes: Sequence[str]) -> np.ndarray:
    if not axes:
        return np.zeros(len(runs), dtype=int)
    return runs.groupby(list(axes), dropna=False, sort=True).ngroup().to_numpy()


RANKING_COLUMNS = (
    "activation", "iqm", "iqm_low", "iqm_high", "p_improve", "p_low", "p_high", "n_tasks",
    "n_replicates", "tier",
)  # fmt: skip


def ranking_table(
    runs: pd.DataFrame,
    metric: str = "test_acc",
    reference: str | None = "relu",
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """IQM of ``metric`` per activation over all tasks and replicates, with a stratified bootstrap
    interval, and the probability of improving on ``reference``, rliable's way.

    Runs without hidden layers are left out (the activation plays no part there). If
    ``reference`` is absent, the activation with the highest IQM is the reference.
    Returns one row per activation, best IQM first: ``RANKING_COLUMNS``; the reference's own p
    columns are NaN; ``tier`` groups the activations whose IQM intervals tie (see
    :mod:`bench.report.wording`). The reference is stored in ``DataFrame.attrs["reference"]``.
    """
    matrices = score_matrices(with_hidden_layers(runs), metric)
    if not matrices or next(iter(matrices.values())).shape[1] == 0:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    rng = np.random.default_rng(seed)
    iqms = stratified_bootstrap_ci(
        matrices, aggregate=iqm, confidence=confidence, n_resamples=n_resamples, rng=rng
    ).set_index("method")
    if reference not in matrices:
        reference = str(iqms["point"].idxmax())
    rows = []
    for activation, matrix in matrices.items():
        if activation == reference:
            p = (np.nan, np.nan, np.nan)
        else:
            p = probability_of_improvement_ci(
                matrix, matrices[reference], confidence, n_resamples, rng
            )
        stats = iqms.loc[activation]
        n_replicates = int((~np.isnan(matrix)).any(axis=1).sum())
        rows.append(
            (activation, stats.point, stats.low, stats.high, *p, matrix.shape[1], n_replicates, 0)
        )
    table = pd.DataFrame(rows, columns=RANKING_COLUMNS)
    table = table.sort_values("iqm", ascending=False, kind="stable").reset_index(drop=True)
    table["tier"] = tiers(table, ("iqm", "iqm_low", "iqm_high"))
    table.attrs["reference"] = reference
    return table


# -----------------------------------------------------------------------------
# counts and the seed notebook


def failure_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation: runs, failed runs (an error) and diverged runs (see results.usable)."""
    grouped = runs.groupby("activation", sort=False)
    counts = pd.DataFrame(
        {
            "runs": grouped.size(),
            "failed": grouped["failed"].sum().astype(int),
            "diverged": grouped["diverged"].sum().astype(int),
        }
    )
    counts = counts.reindex(activation_order(counts.index))
    counts.index.name = "activation"
    return counts


def notebook_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with the seed notebook's configuration (any activation, any seed); floats match
    to within rounding, as a grid file's 0.1 may not be the notebook's bit for bit."""
    mask = np.ones(len(runs), dtype=bool)
    for axis, value in notebook.configuration().items():
        if axis not in runs:
            return runs.iloc[0:0]
        column = runs[axis]
        if isinstance(value, float):
            mask &= np.isclose(column.astype(float), value)
        else:
            mask &= (column == value).to_numpy()
    return runs[mask]


def accuracy_at_epoch(
    runs: pd.DataFrame, curves: pd.DataFrame, epoch: int
) -> tuple[pd.DataFrame, int | None]:
    """``runs`` with ``test_acc`` replaced by the curve's value at ``epoch`` if every run stores
    that epoch, else unchanged (the final epoch). Returns the frame and the epoch used (None for
    the final epoch)."""
    needed = set(runs["run_id"])
    if curves.empty or not needed or "epoch" not in curves:
        return runs, None
    at = curves[(curves["epoch"] == epoch) & curves["run_id"].isin(needed)]
    at = at.drop_duplicates("run_id").set_index("run_id")["test_acc"]
    if set(at.index) != needed:
        return runs, None
    return runs.assign(test_acc=runs["run_id"].map(at).astype(float).to_numpy()), epoch
