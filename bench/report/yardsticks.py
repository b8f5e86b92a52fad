"""Each run's yardsticks: chance on its test set and the best possible accuracy on its data.

:func:`with_yardsticks` adds three columns to the runs, so that every summary of them (by any
axes, with the same averaging as test accuracy) gives the matching reference:

    chance      the share of the run's test set's largest class (bench.data.ceiling.chance_accuracy)
    ceiling     the expected Bayes-optimal accuracy on its dataset and noise, over the
                generator's distribution (bench.data.ceiling.ceiling); NaN for a CSV dataset, whose
                distribution is unknown
    bayes_test  the Bayes rule's accuracy on the run's very test points
                (bench.data.ceiling.bayes_on_test): "the best possible" on the same test points
    line_test   the best straight line's accuracy on the same test points
                (bench.data.straight_line.line_on_test): the most any affine classifier, so any
                network without an activation, can score there
    of_best     test_acc / bayes_test: the share of the best possible reached, per test set
                (paired: a test set easier than average raises both)
    linear_ref  where no Bayes rule is known (a real or CSV dataset): a tuned linear model's
                score on the run's very test points (logistic regression or ridge, its
                regularisation chosen by cross-validation on the training split;
                bench.data.references), accuracy or R^2 as the run is scored
    strong_ref  the same for a tuned standard model (the best by cross-validation of an RBF
                support-vector machine, gradient boosting and k-nearest neighbours), with
                strong_model naming it: "a tuned standard model reaches", never "the best
                possible"

The ceiling does not depend on label noise: test labels are never flipped. Regression runs
(n_classes 0) have neither: their three columns are NaN (their yardsticks are R^2 values, see
bench.data.ceiling.r2_yardsticks and bench.report.regression_summaries).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.data import ceiling, references, straight_line
from bench.data.datasets import DatasetError, is_csv
from bench.data.real import is_real
from bench.schema import DATA_AXES

YARDSTICKS = ("chance", "ceiling", "bayes_test", "line_test", "of_best", "linear_ref", "strong_ref")


def with_yardsticks(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with the chance, ceiling and of_best columns (see the module docstring); the
    dataset's source is ``dataset_source`` when present (see results.prepare_runs)."""
    runs = runs.copy()
    source = runs["dataset_source"] if "dataset_source" in runs else runs["dataset"]
    axes = [a for a in DATA_AXES if a in runs]  # results from before an axis existed lack it
    data = runs[axes].assign(dataset=source.to_numpy())
    chances, ceilings, bayes, lines, tuned = {}, {}, {}, {}, {}
    keys = list(data.drop_duplicates().itertuples(index=False, name=None))
    _prefetch_references([dict(zip(axes, key, strict=True)) for key in keys])
    for key in keys:
        args = dict(zip(axes, key, strict=True))
        chances[key] = _chance(args)
        generated = not (is_csv(args["dataset"]) or is_real(args["dataset"]))
        known = generated and np.isfinite(chances[key])
        dim = int(args.get("dim", 2))
        ceilings[key] = ceiling.ceiling(args["dataset"], args["noise"], dim) if known else np.nan
        bayes[key] = _bayes(args) if known else np.nan
        lines[key] = _line(args) if known else np.nan
        tuned[key] = _references(args) if not generated else (np.nan, np.nan, "")
    index = pd.MultiIndex.from_frame(data)
    runs["chance"] = pd.Series(chances, dtype=float).reindex(index).to_numpy(float)
    runs["ceiling"] = pd.Series(ceilings, dtype=float).reindex(index).to_numpy(float)
    runs["bayes_test"] = pd.Series(bayes, dtype=float).reindex(index).to_numpy(float)
    runs["line_test"] = pd.Series(lines, dtype=float).reindex(index).to_numpy(float)
    if any(np.isfinite(v[0]) or np.isfinite(v[1]) for v in tuned.values()):
        found = pd.DataFrame(tuned, index=["linear_ref", "strong_ref", "strong_model"]).T
        found = found.reindex(index)
        runs["linear_ref"] = found["linear_ref"].to_numpy(float)
        runs["strong_ref"] = found["strong_ref"].to_numpy(float)
        runs["strong_model"] = found["strong_model"].fillna("").to_numpy(object)
    classes = runs["n_classes"].astype(float)
    fallback = 1.0 / classes.where(classes > 0)  # when the data cannot be made again; NaN: none
    runs["chance"] = runs["chance"].fillna(fallback)
    runs["of_best"] = runs["test_acc"].astype(float) / runs["bayes_test"]
    return runs


def _on_data(yardstick, args: dict, missing=np.nan):
    """``yardstick(dataset, **other data axes)`` for one data sample's ``args``; ``missing``
    where the data cannot be made again (a CSV file no longer where it was, say)."""
    args = dict(args)
    dataset = args.pop("dataset")
    try:
        return yardstick(dataset, **args)
    except (DatasetError, OSError, ValueError):
        return missing


def _bayes(args: dict) -> float:
    return _on_data(ceiling.bayes_on_test, args)


def _line(args: dict) -> float:
    return _on_data(straight_line.line_on_test, args)


def _prefetch_references(samples: list[dict]) -> None:
    """The references that the cache lacks, computed in parallel before the loop reads them
    one by one; a data sample that cannot be made is left to the loop (which gives NaN)."""
    wanted = []
    for args in samples:
        args = dict(args)
        dataset = args.pop("dataset")
        if is_csv(dataset) or is_real(dataset):
            wanted.append((dataset, args))
    try:
        references.prefetch(wanted)
    except (DatasetError, OSError, ValueError):
        pass


def _references(args: dict) -> tuple[float, float, str]:
    """(linear reference, strong reference, the strong one's model) on the run's test points;
    NaN where the data cannot be made again or the references were skipped."""
    found = _on_data(references.references, args, missing=None)
    if found is None:
        return np.nan, np.nan, ""
    return found.linear.score, found.strong.score, found.strong.model


def _chance(args: dict) -> float:
    try:
        return ceiling.chance_accuracy(**args)
    except (DatasetError, OSError, ValueError):  # e.g. a CSV file no longer where it was
        return np.nan


def reference_lines(runs: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean chance and ceiling per group of ``by``: the reference lines of a figure whose
    accuracies are averaged over the same runs."""
    by = list(by)
    if runs.empty:
        return pd.DataFrame(columns=[*by, "chance", "ceiling"])
    return runs.groupby(by, sort=True)[["chance", "ceiling"]].mean().reset_index()
