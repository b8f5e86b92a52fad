"""The summaries step: every number the report quotes, computed once.

:func:`summaries` computes each summary table with its bootstrap intervals; the headline, the
figures, their captions and the markdown tables read these frames and compute no interval of their
own, so a number quoted twice is the same number. Each summary frame is tidy: its ``by`` columns,
then ``mean, low, high, n`` (n: replicates), as :func:`bench.report.tables.summarize` returns.
Failed and diverged runs are left out of all of them (:func:`bench.report.results.usable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from bench import notebook
from bench.features import FEATURE_MAPS
from bench.report.convergence import convergence_table
from bench.report.learned import learned_values
from bench.report.results import (
    BOOKKEEPING_AXES,
    Results,
    affine_activations,
    left_out,
    levels,
    linear_control,
    ordered,
    seed_axes,
    usable,
    with_hidden_layers,
)
from bench.report.tables import (
    N_RESAMPLES,
    accuracy_at_epoch,
    failure_counts,
    notebook_runs,
    paired_change,
    ranking_table,
    summarize,
)
from bench.report.wording import chance_status
from bench.report.yardsticks import reference_lines, with_yardsticks
from bench.schema import AXES, SEED_AXES

MAX_CURVE_POINTS = 40  # evaluation epochs per learning curve: enough to show its shape
# Axes with a figure of their own, or that are the replicates of every interval.
DRAWN_AXES = ("dataset", "activation", "depth", "width", "noise", *SEED_AXES)


@dataclass(frozen=True)
class NotebookCells:
    """The seed notebook's configuration in the results, to set beside its printed numbers."""

    control: str  # the affine activation standing in for the notebook's model without one
    linear: pd.Series  # the control's final test accuracy: mean, low, high, n
    relu: pd.Series  # relu's test accuracy at relu_epoch: mean, low, high, n
    relu_epoch: int | None  # notebook.PRINTED_RELU_EPOCH if every relu curve stores it, else None
    final_epoch: int  # the runs' epoch budget
    convergence: pd.DataFrame  # the configuration's convergence table by activation
    chance: float  # the test set's largest class share


@dataclass(frozen=True)
class AxisSummaries:
    """Test accuracy against one more axis that varies (label_noise, lr, optimizer, ...)."""

    by_dataset: pd.DataFrame  # dataset x activation x axis, networks with hidden layers
    by_activation: pd.DataFrame  # activation x axis
    references: pd.DataFrame  # dataset x axis: chance, ceiling


@dataclass(frozen=True)
class ControlFacts:
    """Why the linear control scores what it does on one dataset."""

    below_chance: bool  # its mean is under the test set's largest class share
    same_every_seed: bool  # every initialisation seed scored the same on the same data


@dataclass(frozen=True)
class Summaries:
    """Every summary of one results directory; test accuracy unless the name says otherwise."""

    affine: frozenset[str]  # activations whose network is one affine map
    control: str | None  # the linear control: the first affine activation in display order
    left_out: str  # "2 failed and 1 diverged runs left out", or ""
    chance: dict  # dataset -> chance (the test set's largest class share, mean over runs)
    ceiling: dict  # dataset -> the best possible accuracy (NaN: unknown, a CSV dataset)
    by_dataset: pd.DataFrame  # dataset x activation, networks with hidden layers
    of_best: pd.DataFrame  # the same as a share of the best possible accuracy
    by_dataset_depth: pd.DataFrame  # dataset x activation x depth
    references_depth: pd.DataFrame  # dataset x depth: chance, ceiling
    by_depth: pd.DataFrame  # activation x depth (depth 0: logistic regression)
    logistic: pd.DataFrame  # dataset, depth-0 runs of every activation pooled
    deepest: float | None  # the greatest depth that a usable run reached
    at_deepest: pd.DataFrame  # activation, runs at the greatest depth
    by_dataset_noise: pd.DataFrame  # dataset x activation x noise, networks with hidden layers
    references_noise: pd.DataFrame  # dataset x noise: chance, ceiling
    noise_fall: pd.DataFrame  # activation: accuracy lost from the lowest to the highest noise
    not_compared: dict  # activation -> datasets where it is not well above chance (noise)
    by_width_depth: pd.DataFrame  # activation x depth x width, networks with hidden layers
    by_axis: dict  # axis -> AxisSummaries, for every other axis that varies
    curves: pd.DataFrame  # test loss: dataset x activation x epoch (see learning_curve_runs)
    convergence: pd.DataFrame  # see bench.report.convergence.convergence_table
    linear_regions: pd.DataFrame  # linear regions: activation x depth
    linear_fit_r2: pd.DataFrame  # R^2 of an affine fit to the logits: activation, hidden layers
    dead_units: pd.DataFrame  # dead unit fraction: activation x depth, hidden layers
    grad_norm: pd.DataFrame  # first layer's gradient norm at init: activation x depth, hidden
    learned: pd.DataFrame  # learned activation parameters: activation x parameter x depth
    ranking: pd.DataFrame  # see bench.report.tables.ranking_table
    failures: pd.DataFrame  # see bench.report.tables.failure_counts
    notebook: NotebookCells | None  # None when the grid lacks the notebook's configuration
    control_facts: dict = field(default_factory=dict)  # dataset -> ControlFacts
    test_sets: dict = field(default_factory=dict)  # dataset -> (test points, data samples)


def summaries(results: Results, n_resamples: int = N_RESAMPLES, seed: int = 0) -> Summaries:
    """Compute every summary of ``results``; ``seed`` seeds each bootstrap interval, so the same
    results give the same numbers."""

    def summary(runs: pd.DataFrame, by: list[str], metric: str = "test_acc") -> pd.DataFrame:
        return summarize(runs, by, metric, n_resamples=n_resamples, seed=seed)

    runs = results.runs
    done = with_yardsticks(usable(runs))
    hidden = with_hidden_layers(done)
    depths = levels(done, "depth")
    deepest = max(depths) if depths else None
    control = linear_control(runs)
    by_dataset_noise = summary(hidden, ["dataset", "activation", "noise"])
    references_noise = reference_lines(hidden, ["dataset", "noise"])
    fall, not_compared = _noise_fall(hidden, by_dataset_noise, references_noise, n_resamples, seed)
    learned = learned_values(done)
    return Summaries(
        affine=affine_activations(runs),
        control=control,
        left_out=left_out(runs),
        **_dataset_fields(done, hidden, runs, results.curves, control, summary),
        references_depth=reference_lines(done, ["dataset", "depth"]),
        by_depth=summary(done, ["activation", "depth"]),
        deepest=deepest,
        at_deepest=summary(done[done["depth"] == deepest], ["activation"]),
        by_dataset_noise=by_dataset_noise,
        references_noise=references_noise,
        noise_fall=fall,
        not_compared=not_compared,
        by_width_depth=summary(hidden, ["activation", "depth", "width"]),
        by_axis={
            axis: AxisSummaries(
                by_dataset=summary(hidden, ["dataset", "activation", axis]),
                by_activation=summary(hidden, ["activation", axis]),
                references=reference_lines(hidden, ["dataset", axis]),
            )
            for axis in other_axes(hidden)
        },
        curves=summary(
            learning_curve_runs(results.curves, runs),
            ["dataset", "activation", "epoch"],
            "test_loss",
        ),
        linear_regions=summary(done, ["activation", "depth"], "linear_regions"),
        linear_fit_r2=summary(hidden, ["activation"], "linear_fit_r2"),
        dead_units=summary(hidden, ["activation", "depth"], "dead_unit_frac"),
        grad_norm=summary(hidden, ["activation", "depth"], "grad_norm_init_first"),
        learned=summary(learned, ["activation", "parameter", "depth"], "value"),
        ranking=ranking_table(runs, n_resamples=n_resamples, seed=seed),
        failures=failure_counts(runs),
        notebook=_notebook_cells(done, results.curves, summary),
    )


def _dataset_fields(done, hidden, runs, curves, control, summary) -> dict:
    """The summaries per dataset that the headline quotes (``done``: the usable runs with their
    yardsticks; ``hidden``: those with hidden layers)."""
    per_dataset = reference_lines(hidden, ["dataset"]).set_index("dataset")
    return {
        "chance": per_dataset["chance"].to_dict(),
        "ceiling": per_dataset["ceiling"].to_dict(),
        "by_dataset": summary(hidden, ["dataset", "activation"]),
        "of_best": summary(hidden, ["dataset", "activation"], "of_best"),
        "by_dataset_depth": summary(done, ["dataset", "activation", "depth"]),
        "logistic": summary(done[done["depth"] == 0], ["dataset"]),
        "convergence": convergence_table(runs, curves),
        "control_facts": _control_facts(hidden, control),
        "test_sets": _test_sets(hidden),
    }


def headline_inputs(runs: pd.DataFrame) -> str | None:
    """The feature map the headline's accuracies are on when the runs vary it: raw, else the
    first map (bench.features' order); None when they do not vary it."""
    maps = ordered(levels(usable(runs), "features"), FEATURE_MAPS)
    return maps[0] if len(maps) > 1 else None


def headline_summaries(
    results: Results, s: Summaries, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Summaries:
    """``s`` as the headline reads it. When the runs vary the feature map, a linear model on
    quadratic features is a nonlinear model of the data, so the headline's accuracies are on
    the reference inputs only (:func:`headline_inputs`): the fields it quotes are computed again
    from those runs; the feature maps have a section of their own. Otherwise ``s`` itself."""
    reference = headline_inputs(results.runs)
    if reference is None:
        return s
    runs = results.runs[results.runs["features"] == reference]

    def summary(part: pd.DataFrame, by: list[str], metric: str = "test_acc") -> pd.DataFrame:
        return summarize(part, by, metric, n_resamples=n_resamples, seed=seed)

    done = with_yardsticks(usable(runs))
    hidden = with_hidden_layers(done)
    return replace(s, **_dataset_fields(done, hidden, runs, results.curves, s.control, summary))


def other_axes(runs: pd.DataFrame) -> list[str]:
    """The axes that vary in ``runs`` and have no figure of their own: label_noise, lr, ..."""
    skip = (*DRAWN_AXES, *BOOKKEEPING_AXES)
    return [a for a in AXES if a not in skip and len(levels(runs, a)) > 1]


def learning_curve_runs(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Curves joined with their runs' axes: usable networks with hidden layers, at most
    MAX_CURVE_POINTS evaluation epochs (empty without curves)."""
    columns = ["run_id", "dataset", "activation", *seed_axes(runs)]
    if curves.empty or "test_loss" not in curves:
        return pd.DataFrame(columns=[*columns, "epoch", "test_loss"])
    keep = usable(with_hidden_layers(runs))
    epochs = np.sort(curves["epoch"].unique())
    if len(epochs) > MAX_CURVE_POINTS:
        picks = np.linspace(0, len(epochs) - 1, MAX_CURVE_POINTS).round().astype(int)
        epochs = epochs[np.unique(picks)]
    part = curves[curves["epoch"].isin(epochs)]
    return part.merge(keep[columns], on="run_id", how="inner")


def _noise_fall(
    hidden: pd.DataFrame,
    by_dataset_noise: pd.DataFrame,
    references: pd.DataFrame,
    n_resamples: int,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Accuracy lost from the lowest to the highest noise, averaged over datasets, for the
    activations well above chance at the lowest noise on every dataset (see
    bench.report.wording); and, for the others, the datasets where they are not."""
    noises = levels(hidden, "noise")
    if len(noises) < 2:
        return pd.DataFrame(columns=["activation", "mean", "low", "high", "n"]), {}
    lowest = by_dataset_noise[by_dataset_noise["noise"] == noises[0]]
    chance = references[references["noise"] == noises[0]].set_index("dataset")["chance"]
    not_compared: dict[str, list[str]] = {}
    for row in lowest.itertuples():
        status = chance_status(row.mean, row.low, chance.get(row.dataset, np.nan))
        if status != "well above chance":
            not_compared.setdefault(row.activation, []).append(row.dataset)
    compared = hidden[~hidden["activation"].isin(not_compared)]
    fall = paired_change(
        compared, ["activation"], "noise", noises[0], noises[-1], n_resamples=n_resamples, seed=seed
    )
    return fall, not_compared


def _test_sets(runs: pd.DataFrame) -> dict:
    """Per dataset: the typical test set's size and how many distinct data samples (data
    settings) the runs were tested on; a score's sampling error depends on both."""
    data_axes = [a for a in ("n_samples", "noise", "label_noise", "data_seed") if a in runs]
    sets = {}
    for dataset, part in runs.groupby("dataset"):
        points = (part["n_samples"] * part["test_size"]).median() if "test_size" in part else np.nan
        samples = part.groupby(data_axes).ngroups if data_axes else 1
        sets[dataset] = (int(round(points)) if np.isfinite(points) else 0, samples)
    return sets


def _control_facts(hidden: pd.DataFrame, control: str | None) -> dict:
    """Per dataset, whether the linear control scores below chance and whether every
    initialisation seed scored the same on the same data."""
    if control is None:
        return {}
    runs = hidden[hidden["activation"] == control]
    facts = {}
    settings = [a for a in AXES if a in runs and a not in ("seed", "activation")]
    for dataset, part in runs.groupby("dataset"):
        spread = part.groupby(settings, dropna=False)["test_acc"].agg(lambda a: a.max() - a.min())
        facts[dataset] = ControlFacts(
            below_chance=bool(part["test_acc"].mean() < part["chance"].mean()),
            same_every_seed=bool(part["seed"].nunique() > 1 and (spread == 0).all()),
        )
    return facts


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
        convergence=convergence_table(config, curves, by=["activation"]),
        chance=float(config["chance"].mean()),
    )
