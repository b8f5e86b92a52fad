"""The summaries step: every number the report quotes, computed once.

:func:`summaries` computes each summary table with its bootstrap intervals; the headline, the
figures, their captions and the markdown tables read these frames and compute no interval of their
own, so a number quoted twice is the same number. Each summary frame is tidy: its ``by`` columns,
then ``mean, low, high, n`` (n: replicates), as :func:`bench.report.tables.summarize` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench import notebook
from bench.report.results import (
    Results,
    affine_activations,
    chance_level,
    levels,
    linear_control,
    seed_axes,
    succeeded,
    with_hidden_layers,
)
from bench.report.tables import (
    N_RESAMPLES,
    accuracy_at_epoch,
    failure_counts,
    notebook_runs,
    ranking_table,
    summarize,
)

MAX_CURVE_POINTS = 40  # evaluation epochs per learning curve: enough to show its shape


@dataclass(frozen=True)
class NotebookCells:
    """The seed notebook's configuration in the results, to set beside its printed numbers."""

    control: str  # the affine activation standing in for the notebook's model without one
    linear: pd.Series  # the control's final test accuracy: mean, low, high, n
    relu: pd.Series  # relu's test accuracy at relu_epoch: mean, low, high, n
    relu_epoch: int | None  # notebook.PRINTED_RELU_EPOCH if every relu curve stores it, else None
    final_epoch: int  # the runs' epoch budget


@dataclass(frozen=True)
class Summaries:
    """Every summary of one results directory; test accuracy unless the name says otherwise."""

    affine: frozenset[str]  # activations whose network is one affine map
    control: str | None  # the linear control: the first affine activation in display order
    chance: dict  # dataset -> chance accuracy (1 / number of classes)
    by_dataset: pd.DataFrame  # dataset x activation, networks with hidden layers
    by_dataset_depth: pd.DataFrame  # dataset x activation x depth
    by_depth: pd.DataFrame  # activation x depth (depth 0: logistic regression)
    logistic: pd.DataFrame  # dataset, depth-0 runs of every activation pooled
    deepest: float | None  # the greatest depth that a run succeeded at
    at_deepest: pd.DataFrame  # activation, runs at the greatest depth
    by_dataset_noise: pd.DataFrame  # dataset x activation x noise, networks with hidden layers
    by_noise: pd.DataFrame  # activation x noise, networks with hidden layers
    by_width_depth: pd.DataFrame  # activation x depth x width, networks with hidden layers
    curves: pd.DataFrame  # test loss: dataset x activation x epoch (see learning_curve_runs)
    linear_regions: pd.DataFrame  # linear regions: activation x depth
    linear_fit_r2: pd.DataFrame  # R^2 of an affine fit to the logits: activation, hidden layers
    dead_units: pd.DataFrame  # dead unit fraction: activation x depth, hidden layers
    grad_norm: pd.DataFrame  # first layer's gradient norm at init: activation x depth, hidden
    ranking: pd.DataFrame  # see bench.report.tables.ranking_table
    failures: pd.DataFrame  # see bench.report.tables.failure_counts
    notebook: NotebookCells | None  # None when the grid lacks the notebook's configuration


def summaries(results: Results, n_resamples: int = N_RESAMPLES, seed: int = 0) -> Summaries:
    """Compute every summary of ``results``; ``seed`` seeds each bootstrap interval, so the same
    results give the same numbers."""

    def summary(runs: pd.DataFrame, by: list[str], metric: str = "test_acc") -> pd.DataFrame:
        return summarize(runs, by, metric, n_resamples=n_resamples, seed=seed)

    runs = results.runs
    done = succeeded(runs)
    hidden = with_hidden_layers(done)
    depths = levels(done, "depth")
    deepest = max(depths) if depths else None
    return Summaries(
        affine=affine_activations(runs),
        control=linear_control(runs),
        chance={d: chance_level(part) for d, part in done.groupby("dataset")},
        by_dataset=summary(hidden, ["dataset", "activation"]),
        by_dataset_depth=summary(done, ["dataset", "activation", "depth"]),
        by_depth=summary(done, ["activation", "depth"]),
        logistic=summary(done[done["depth"] == 0], ["dataset"]),
        deepest=deepest,
        at_deepest=summary(done[done["depth"] == deepest], ["activation"]),
        by_dataset_noise=summary(hidden, ["dataset", "activation", "noise"]),
        by_noise=summary(hidden, ["activation", "noise"]),
        by_width_depth=summary(hidden, ["activation", "depth", "width"]),
        curves=summary(
            learning_curve_runs(results.curves, runs),
            ["dataset", "activation", "epoch"],
            "test_loss",
        ),
        linear_regions=summary(done, ["activation", "depth"], "linear_regions"),
        linear_fit_r2=summary(hidden, ["activation"], "linear_fit_r2"),
        dead_units=summary(hidden, ["activation", "depth"], "dead_unit_frac"),
        grad_norm=summary(hidden, ["activation", "depth"], "grad_norm_init_first"),
        ranking=ranking_table(runs, n_resamples=n_resamples, seed=seed),
        failures=failure_counts(runs),
        notebook=_notebook_cells(done, results.curves, summary),
    )


def learning_curve_runs(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Curves joined with their runs' axes: networks with hidden layers that neither failed nor
    diverged, at most MAX_CURVE_POINTS evaluation epochs (empty without curves)."""
    columns = ["run_id", "dataset", "activation", *seed_axes(runs)]
    if curves.empty or "test_loss" not in curves:
        return pd.DataFrame(columns=[*columns, "epoch", "test_loss"])
    keep = succeeded(with_hidden_layers(runs))
    keep = keep[~keep["diverged"]]
    epochs = np.sort(curves["epoch"].unique())
    if len(epochs) > MAX_CURVE_POINTS:
        picks = np.linspace(0, len(epochs) - 1, MAX_CURVE_POINTS).round().astype(int)
        epochs = epochs[np.unique(picks)]
    part = curves[curves["epoch"].isin(epochs)]
    return part.merge(keep[columns], on="run_id", how="inner")


def _notebook_cells(runs: pd.DataFrame, curves: pd.DataFrame, summary) -> NotebookCells | None:
    """The notebook's configuration: its linear control (final epoch) and relu (at the epoch
    the notebook printed, when the curves store it), over every seed; None if either is absent."""
    config = notebook_runs(runs)
    control = linear_control(config)
    relu = config[config["activation"] == "relu"]
    if control is None or relu.empty:
        return None
    relu_at, epoch = accuracy_at_epoch(relu, curves, notebook.PRINTED_RELU_EPOCH)
    return NotebookCells(
        control=control,
        linear=summary(config[config["activation"] == control], []).iloc[0],
        relu=summary(relu_at, []).iloc[0],
        relu_epoch=epoch,
        final_epoch=int(relu["epochs"].max()),
    )
