"""The regression runs' numbers: test R^2 by dataset, activation and depth beside two yardsticks
computed from the data, and how the report writes them.

A regression run (n_classes 0, see :func:`bench.report.results.split_tasks`) is scored by its
test R^2 (1 - residual / total sum of squares on the test set: 1 is a perfect fit, 0 no better
than the test set's mean). Its yardsticks (:func:`bench.data.ceiling.r2_yardsticks`, one per data
setting, cached) are R^2 values on the same test set:

    best_r2   the noise-free function itself: the best possible (NaN for a CSV dataset)
    line_r2   the least-squares affine fit on the training set: the best a linear network can do

Every summary is :func:`bench.report.tables.summarize`'s (each seed first averaged over the
other axes, then the mean over seeds with a 95% bootstrap interval over seeds); the yardsticks
are averaged over the same runs, as :func:`bench.report.yardsticks.reference_lines` does for
chance. A table (and a sentence) is made per *block*: per dataset, and per noise level and
feature map when they vary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.data import ceiling
from bench.data.csv_files import DatasetError
from bench.data.generators import REGRESSION_TRUTH
from bench.report.markdown import fmt
from bench.report.results import (
    Results,
    activation_order,
    affine_activations,
    left_out,
    levels,
    linear_control,
    usable,
)
from bench.report.tables import N_RESAMPLES, summarize
from bench.schema import DATA_AXES

SCORE = "test_r2"
YARDSTICKS = ("best_r2", "line_r2")
BLOCK_AXES = ("dataset", "noise", "features")  # dataset always; the others when they vary
DIGITS = 3  # R^2 is printed, and compared, to three decimals


@dataclass(frozen=True)
class RegressionSummaries:
    """Every number of the report's regression section; test R^2 unless the name says else."""

    results: Results  # the regression runs, their curves and surfaces
    runs: pd.DataFrame  # the usable runs, with best_r2 and line_r2
    blocks: list[str]  # the axes of one table: dataset, and noise / features when they vary
    by_depth: pd.DataFrame  # *blocks x activation x depth (summarize's columns)
    by_activation: pd.DataFrame  # *blocks x activation, every depth pooled
    to_best: pd.DataFrame  # *blocks x activation x depth: test R^2 - best_r2, paired per run
    to_line: pd.DataFrame  # *blocks x activation: test R^2 - line_r2, paired per run
    references: pd.DataFrame  # *blocks: best_r2, line_r2 (mean over the block's runs)
    affine: frozenset[str]  # activations whose network is one affine map
    control: str | None  # the linear network: the first affine activation in display order
    left_out: str  # "1 failed run left out", or ""


def with_r2_yardsticks(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` (regression runs) with best_r2 and line_r2 (see the module docstring); NaN where
    the data cannot be made again (a CSV file no longer where it was)."""
    runs = runs.copy()
    source = runs["dataset_source"] if "dataset_source" in runs else runs["dataset"]
    axes = [a for a in DATA_AXES if a in runs]
    data = runs[axes].assign(dataset=source.to_numpy())
    values = {}
    for key in data.drop_duplicates().itertuples(index=False, name=None):
        try:
            values[key] = ceiling.r2_yardsticks(**dict(zip(axes, key, strict=True)))
        except (DatasetError, OSError, ValueError):
            values[key] = (np.nan, np.nan)
    index = pd.MultiIndex.from_frame(data)
    for i, column in enumerate(YARDSTICKS):
        column_values = {key: pair[i] for key, pair in values.items()}
        runs[column] = pd.Series(column_values, dtype=float).reindex(index).to_numpy(float)
    return runs


def regression_summaries(
    results: Results, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> RegressionSummaries:
    """The summaries of ``results``' regression runs (see the module docstring)."""
    runs = with_r2_yardsticks(usable(results.runs))
    blocks = [a for a in BLOCK_AXES if a == "dataset" or len(levels(runs, a)) > 1]

    runs = runs.assign(
        to_best=runs[SCORE].astype(float) - runs["best_r2"],
        to_line=runs[SCORE].astype(float) - runs["line_r2"],
    )

    def summary(by: list[str], metric: str = SCORE) -> pd.DataFrame:
        return summarize(runs, by, metric, within=blocks, n_resamples=n_resamples, seed=seed)

    references = (
        runs.groupby(blocks, sort=True)[list(YARDSTICKS)].mean().reset_index()
        if len(runs)
        else pd.DataFrame(columns=[*blocks, *YARDSTICKS])
    )
    return RegressionSummaries(
        results=results,
        runs=runs,
        blocks=blocks,
        by_depth=summary([*blocks, "activation", "depth"]),
        by_activation=summary([*blocks, "activation"]),
        to_best=summary([*blocks, "activation", "depth"], "to_best"),
        to_line=summary([*blocks, "activation"], "to_line"),
        references=references,
        affine=affine_activations(results.runs),
        control=linear_control(results.runs),
        left_out=left_out(results.runs),
    )


# -----------------------------------------------------------------------------
# blocks, orders and names


def block_keys(rs: RegressionSummaries) -> list[tuple]:
    """The blocks' keys (a value per axis of ``rs.blocks``) with a score, in display order."""
    present = set(rs.by_depth[rs.blocks].itertuples(index=False, name=None))
    keys = [()]
    for axis in rs.blocks:
        keys = [(*k, v) for k in keys for v in levels(rs.by_depth, axis)]
    return [k for k in keys if k in present]


def rows_of(frame: pd.DataFrame, blocks: list[str], key: tuple) -> pd.DataFrame:
    """The rows of ``frame`` in the block ``key``."""
    mask = np.ones(len(frame), dtype=bool)
    for axis, value in zip(blocks, key, strict=True):
        mask &= (frame[axis] == value).to_numpy()
    return frame[mask]


def block_label(blocks: list[str], key: tuple) -> str:
    """'sine', 'sine (noise 0.1)', 'sine (noise 0.1, quadratic features)'."""
    values = dict(zip(blocks, key, strict=True))
    extra = []
    if "noise" in values:
        extra.append(f"noise {fmt(values['noise'])}")
    if "features" in values:
        extra.append(f"{values['features']} features")
    return str(values["dataset"]) + (f" ({', '.join(extra)})" if extra else "")


def block_references(rs: RegressionSummaries, key: tuple) -> tuple[float, float]:
    """(best possible, best affine) R^2 of a block; NaN where unknown."""
    rows = rows_of(rs.references, rs.blocks, key)
    if rows.empty:
        return np.nan, np.nan
    return float(rows["best_r2"].iloc[0]), float(rows["line_r2"].iloc[0])


def affine_name(rs: RegressionSummaries, key: tuple) -> str:
    """What the best affine fit is on a block's inputs: 'line' (one input), 'plane' (two), else
    'affine fit'."""
    values = dict(zip(rs.blocks, key, strict=True))
    features = values.get("features")
    if features is None:  # the feature map does not vary: the runs' one map
        features = next(iter(levels(rs.runs, "features")), "raw")
    truth = REGRESSION_TRUTH.get(str(values["dataset"]))
    if features != "raw" or truth is None:
        return "affine fit"
    return {1: "line", 2: "plane"}.get(truth[1], "affine fit")


def model_order(names, affine) -> list[str]:
    """The affine activations (the linear network) first, then the others, in display order."""
    names = list(names)
    first = [n for n in activation_order(names) if n in affine]
    return first + [n for n in activation_order(names) if n not in affine]


# -----------------------------------------------------------------------------
# how R^2 is written


def r2(value: float) -> str:
    """'0.992' ('n/a' when unknown)."""
    return f"{value:.{DIGITS}f}" if np.isfinite(value) else "n/a"


def r2_ci(row) -> str:
    """'0.992 [0.990, 0.993]' from a summary row (the interval omitted with one seed)."""
    if row is None or not np.isfinite(row["mean"]):
        return "n/a"
    if not (np.isfinite(row["low"]) and np.isfinite(row["high"])):
        return f"{r2(row['mean'])} (one seed, no interval)"
    return f"{r2(row['mean'])} [{r2(row['low'])}, {r2(row['high'])}]"


def r2_cell(row) -> str:
    """A table cell: '0.992 [0.990, 0.993]', '0.992' (one seed) or '–'."""
    if row is None or not np.isfinite(row["mean"]):
        return "–"
    if not (np.isfinite(row["low"]) and np.isfinite(row["high"])):
        return r2(row["mean"])
    return f"{r2(row['mean'])} [{r2(row['low'])}, {r2(row['high'])}]"


def printed(frame: pd.DataFrame) -> pd.DataFrame:
    """A summary with mean, low and high rounded as printed, so that every comparative word
    (bench.report.wording, markdown.compare) agrees with the numbers the reader sees."""
    return frame.assign(
        **{c: frame[c].astype(float).round(DIGITS) for c in ("mean", "low", "high")}
    )


def paired_word(difference) -> str:
    """How a score stands against a yardstick on the same test points, from the paired
    difference's row (score - yardstick: mean, low, high), decided on the unrounded interval:
    'equal to' when the whole interval is zero at the printed precision (within half a unit of
    the last printed digit), 'higher than' / 'lower than' when it excludes zero, else 'tied
    with'. Without an interval (one replicate) the mean decides."""
    if difference is None or not np.isfinite(difference["mean"]):
        return "tied with"
    mean, low, high = (float(difference[k]) for k in ("mean", "low", "high"))
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = mean
    if max(abs(low), abs(high)) < 0.5 * 10.0**-DIGITS:
        return "equal to"
    if low > 0:
        return "higher than"
    if high < 0:
        return "lower than"
    return "tied with"


def as_row(value: float) -> dict:
    """A yardstick (a number without an interval) as a summary row, rounded as printed."""
    value = round(float(value), DIGITS)
    return {"mean": value, "low": value, "high": value}
