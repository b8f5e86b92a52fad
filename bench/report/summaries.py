"""The summaries step: every number the report quotes, computed once.

:func:`summaries` computes each summary table with its bootstrap intervals; the headline, the
figures, their captions and the markdown tables read these frames and compute no interval of their
own, so a number quoted twice is the same number. Each summary frame is tidy: its ``by`` columns,
then ``mean, low, high, n`` (n: replicates), as :func:`bench.report.tables.summarize` returns.
Failed and diverged runs are left out of all of them (:func:`bench.report.results.usable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.data.features import FEATURE_MAPS
from bench.grid import notebook
from bench.report.convergence import convergence_table
from bench.report.learned import learned_values
from bench.report.lesson import Lesson, find_lesson
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
from bench.report.support import select
from bench.report.tables import (
    N_RESAMPLES,
    accuracy_at_epoch,
    failure_counts,
    notebook_runs,
    paired_change,
    ranking_table,
    summarize,
)
from bench.report.wording import chance_status, top_group
from bench.report.yardsticks import with_yardsticks
from bench.schema import AXES, SEED_AXES, dataset_properties

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


@dataclass(frozen=True)
class ControlFacts:
    """Why the linear control scores what it does on one dataset."""

    below_chance: bool  # its mean is under the test set's largest class share
    same_every_seed: bool  # every initialisation seed scored the same on the same data
    converged: bool  # none of its runs was still learning (bench.report.convergence)


@dataclass(frozen=True)
class Summaries:
    """Every summary of one results directory; test accuracy unless the name says otherwise.

    Every frame comes from :func:`bench.report.tables.summarize`, so its runs were chosen by the
    one selection rule (:mod:`bench.report.support`): ``frame.attrs["selection"]`` says what it
    averages over and what it left out. Accuracy frames carry the yardsticks of the same runs:
    ``chance``, ``ceiling`` (expected Bayes accuracy) and ``bayes`` (the Bayes rule on the same
    test points)."""

    affine: frozenset[str]  # activations whose network is one affine map
    control: str | None  # the linear control: the first affine activation in display order
    left_out: str  # "2 failed and 1 diverged runs left out", or ""
    chance: dict  # dataset -> chance (the test set's largest class share, mean over runs)
    # dataset x noise: chance, line (the best straight line), ceiling (expected best possible),
    # bayes (the best possible on the same points)
    yardsticks: pd.DataFrame
    by_dataset: pd.DataFrame  # dataset x activation, networks with hidden layers
    of_best: pd.DataFrame  # the same as a share of the best possible on the same test points
    by_dataset_depth: pd.DataFrame  # dataset x activation x depth
    by_depth: pd.DataFrame  # activation x depth (depth 0: logistic regression)
    logistic: pd.DataFrame  # dataset, depth-0 runs of every activation pooled
    deepest: float | None  # the greatest depth that a usable run reached
    at_deepest: pd.DataFrame  # activation, runs at the greatest depth
    by_dataset_noise: pd.DataFrame  # dataset x activation x noise, networks with hidden layers
    noise_fall: pd.DataFrame  # activation: how much further behind the best possible under noise
    not_compared: dict  # activation -> why it is not compared for robustness
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
    lesson: Lesson | None = None  # the setting that shows the lesson best (bench.report.lesson)


def summaries(results: Results, n_resamples: int = N_RESAMPLES, seed: int = 0) -> Summaries:
    """Compute every summary of ``results``; ``seed`` seeds each bootstrap interval, so the same
    results give the same numbers."""

    def summary(runs, by, metric="test_acc", **options) -> pd.DataFrame:
        return summarize(runs, by, metric, n_resamples=n_resamples, seed=seed, **options)

    hidden = {"where": with_hidden_layers}
    runs = results.runs
    done = with_yardsticks(usable(runs))
    depths = levels(done, "depth")
    deepest = max(depths) if depths else None
    control = linear_control(runs)
    by_dataset = summary(done, ["dataset", "activation"], **hidden)
    by_dataset_noise = summary(done, ["dataset", "activation", "noise"], **hidden)
    fall, not_compared = _noise_fall(done, by_dataset_noise, n_resamples, seed)
    convergence = _convergence(done, results.curves)
    return Summaries(
        affine=affine_activations(runs),
        control=control,
        left_out=left_out(runs),
        chance=_per_dataset(by_dataset, "chance"),
        yardsticks=_yardsticks(by_dataset_noise),
        by_dataset=by_dataset,
        of_best=summary(done, ["dataset", "activation"], "of_best", **hidden),
        by_dataset_depth=summary(done, ["dataset", "activation", "depth"]),
        by_depth=summary(done, ["activation", "depth"]),
        logistic=summary(done[done["depth"] == 0], ["dataset"]),
        deepest=deepest,
        at_deepest=summary(done[done["depth"] == deepest], ["activation"]),
        by_dataset_noise=by_dataset_noise,
        noise_fall=fall,
        not_compared=not_compared,
        by_width_depth=summary(done, ["activation", "depth", "width"], **hidden),
        by_axis={
            axis: AxisSummaries(
                by_dataset=summary(done, ["dataset", "activation", axis], **hidden),
                by_activation=summary(done, ["activation", axis], **hidden),
            )
            for axis in other_axes(with_hidden_layers(done))
        },
        curves=_curves(done, results.curves, summary),
        convergence=convergence,
        linear_regions=summary(done, ["activation", "depth"], "linear_regions"),
        linear_fit_r2=summary(done, ["activation"], "linear_fit_r2", **hidden),
        dead_units=summary(done, ["activation", "depth"], "dead_unit_frac", **hidden),
        grad_norm=summary(done, ["activation", "depth"], "grad_norm_init_first", **hidden),
        learned=summary(learned_values(done), ["activation", "parameter", "depth"], "value"),
        ranking=ranking_table(
            select(done, ["activation"], where=with_hidden_layers).runs,
            n_resamples=n_resamples,
            seed=seed,
        ),
        failures=failure_counts(runs),
        notebook=_notebook_cells(done, results.curves, summary),
        control_facts=_control_facts(by_dataset, control, convergence),
        test_sets=_test_sets(by_dataset.attrs["selection"].runs),
        lesson=find_lesson(
            done, control, affine_activations(runs), n_resamples=n_resamples, seed=seed
        ),
    )


def _per_dataset(summary: pd.DataFrame, column: str) -> dict:
    if column not in summary or summary.empty:
        return {}
    return summary.groupby("dataset")[column].mean().to_dict()


def _yardsticks(by_dataset_noise: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and noise: chance, the expected best possible accuracy and the Bayes rule's
    accuracy on the test points of the compared runs (the same for every activation)."""
    columns = ["dataset", "noise", "chance", "line", "ceiling", "bayes"]
    if by_dataset_noise.empty or "bayes" not in by_dataset_noise:
        return pd.DataFrame(columns=columns)
    keys = ["dataset", "noise"]
    table = by_dataset_noise.groupby(keys, sort=True)[columns[2:]].mean().reset_index()
    return table[columns]


def references(summary: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The reference lines of a figure drawn from ``summary``: mean chance and best possible (on
    the same test points) per group of ``by``, from the summary's own rows."""
    present = [c for c in ("chance", "line", "ceiling", "bayes") if c in summary]
    if summary.empty or not present:
        return pd.DataFrame(columns=[*by, "chance", "bayes"])
    return summary.groupby(by, sort=True)[present].mean().reset_index()


def _convergence(done: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """The convergence table by activation and dataset, on the runs the accuracy summaries
    compare (common support, networks with hidden layers)."""
    chosen = select(done, ["activation"], ["dataset"], metric=None, where=with_hidden_layers)
    return convergence_table(chosen.runs, curves)


def _curves(done: pd.DataFrame, curves: pd.DataFrame, summary) -> pd.DataFrame:
    """Test loss by dataset x activation x epoch, over the runs the accuracy summaries compare."""
    chosen = select(done, ["activation"], ["dataset"], where=with_hidden_layers)
    by = ["dataset", "activation", "epoch"]
    frame = summary(learning_curve_runs(curves, chosen.runs), by, "test_loss", within=by)
    frame.attrs["selection"] = chosen
    return frame


def headline_inputs(runs: pd.DataFrame) -> str | None:
    """The feature map the headline's accuracies are on when the runs vary it: raw, else the
    first map (bench.data.features' order); None when they do not vary it."""
    maps = ordered(levels(usable(runs), "features"), FEATURE_MAPS)
    return maps[0] if len(maps) > 1 else None


def other_axes(runs: pd.DataFrame) -> list[str]:
    """The axes that vary in ``runs`` and have no figure of their own: label_noise, lr, ..."""
    skip = (*DRAWN_AXES, *BOOKKEEPING_AXES, *dataset_properties(runs))
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
    done: pd.DataFrame, by_dataset_noise: pd.DataFrame, n_resamples: int, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Robustness to input noise, measured against the task: how much further each activation
    falls behind the best possible accuracy on the same test points (the Bayes rule's, which
    itself falls as noise blurs the classes) from the lowest to the highest noise, paired by
    replicate and averaged over datasets. Only activations in the top tied group and well above
    chance at the lowest noise on every dataset are compared: one that starts lower has less to
    lose, and is not called robust for it. Returns the table and, for the others, why not."""
    noises = levels(by_dataset_noise, "noise")
    empty = pd.DataFrame(columns=["activation", "mean", "low", "high", "n"])
    if len(noises) < 2 or "bayes" not in by_dataset_noise:
        return empty, {}
    lowest = by_dataset_noise[by_dataset_noise["noise"] == noises[0]]
    not_compared: dict[str, list[str]] = {}
    for dataset, part in lowest.groupby("dataset", sort=True):
        top = top_group(part)
        for row in part.itertuples():
            if chance_status(row.mean, row.low, row.chance) != "well above chance":
                not_compared.setdefault(row.activation, []).append(f"at chance on {dataset}")
            elif top is not None and row.activation not in top.names:
                not_compared.setdefault(row.activation, []).append(f"below the top on {dataset}")
    chosen = select(done, ["activation", "noise"], where=with_hidden_layers).runs
    chosen = chosen[~chosen["activation"].isin(not_compared)]
    if chosen.empty:
        return empty, not_compared
    behind = chosen.assign(shortfall=chosen["bayes_test"] - chosen["test_acc"])
    fall = paired_change(
        behind, ["activation"], "noise", noises[-1], noises[0], "shortfall",
        n_resamples=n_resamples, seed=seed,
    )  # fmt: skip
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


def _control_facts(by_dataset: pd.DataFrame, control: str | None, convergence) -> dict:
    """Per dataset, whether the linear control scores below chance, whether every
    initialisation seed scored the same on the same data, and whether its runs converged; from
    the runs ``by_dataset`` compared."""
    if control is None or by_dataset.empty:
        return {}
    compared = by_dataset.attrs["selection"].runs
    runs = compared[compared["activation"] == control]
    facts = {}
    settings = [a for a in AXES if a in runs and a not in ("seed", "activation")]
    for dataset, part in runs.groupby("dataset"):
        spread = part.groupby(settings, dropna=False)["test_acc"].agg(lambda a: a.max() - a.min())
        rows = convergence[
            (convergence["activation"] == control) & (convergence["dataset"] == dataset)
        ] if len(convergence) else convergence  # fmt: skip
        facts[dataset] = ControlFacts(
            below_chance=bool(part["test_acc"].mean() < part["chance"].mean()),
            same_every_seed=bool(part["seed"].nunique() > 1 and (spread == 0).all()),
            converged=bool(len(rows) and (rows["not_converged"] == 0).all()),
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
