"""A results directory as the report reads it, and the report's vocabulary over its runs.

Units of analysis
-----------------
* A *replicate* is one setting of the seed axes (``schema.SEED_AXES``: ``seed``, and
  ``data_seed`` if the grid varies it): the independent repetitions over which intervals are
  computed.
* A *task* is one setting of every other axis except ``activation`` (dataset, noise, depth, width,
  optimizer, ...), as in rliable's runs x tasks score matrices.
* A summary "by" some axes first averages each replicate's runs over every other axis, then reports
  the mean over replicates with a 95% percentile bootstrap interval over replicates.
* Failed runs (``error`` not empty) and diverged runs (``diverged``: the training loss stopped
  being finite or passed bench.engine.reference.DIVERGENCE_FACTOR x its initial value, so the weights are
  frozen mid-blow-up) are left out of every statistic (:func:`usable`) and counted where they are.
* A *regression* run has ``n_classes`` 0 (a failed run, which has none, is placed by its
  dataset): every classification section of the report reads the classification runs only, and
  the regression runs have a section of their own (:func:`split_tasks`).
* The *affine* activations are those whose runs have ``affine`` set: the network is then one
  affine map (the built-in ``none``, or a plugin that declares it). The first of them in display
  order is the *linear control* that the report compares the others against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.activations.builtins import BUILTINS
from bench.data.datasets import BUILTIN_DATASETS, REGRESSION_DATASETS
from bench.data.features import FEATURE_MAPS
from bench.data.real import REAL_REGRESSION
from bench.results.store import Store, StoreError
from bench.schema import AXES, DERIVED_AXES, RUN_RESULTS, SEED_AXES
from bench.spec import LATER_FIELDS

# Axes that change what is recorded, not what is trained: listed, never plotted or averaged.
# A stack's `layers` (schema.DERIVED_AXES) is carried by its activation label: never on its own.
BOOKKEEPING_AXES = ("eval_every", "target_acc", *DERIVED_AXES)
# Filled in for result columns that runs.parquet lacks (a grid whose every run failed has no
# metrics); by dtype. A missing `affine` column therefore reads as "no affine activation".
_MISSING = {"float64": np.nan, "int64": np.nan, "bool": False, "object": ""}


@dataclass
class Results:
    """The contents of one results directory, with runs prepared by :func:`prepare_runs`."""

    path: Path
    runs: pd.DataFrame
    curves: pd.DataFrame
    surfaces: pd.DataFrame | None = None
    manifest: dict = field(default_factory=dict)


def load_results(results_dir: Path | str) -> Results:
    """Read runs.parquet (required), curves.parquet, surfaces.parquet and manifest.json, as one
    merge left them (see `bench.results.store.Store.read_tables`).

    Raises StoreError, naming the file and what to do, for a missing or unreadable table, a
    runs table without its identifying columns, or a manifest that is not JSON.
    """
    results_dir = Path(results_dir)
    store = Store(results_dir)
    if not store.path("runs").exists():
        raise StoreError(f"no runs.parquet in {results_dir} (run the grid first)")
    tables = store.read_tables()
    for axis, default in LATER_FIELDS.items():  # results from before the axis existed
        if axis not in tables["runs"]:
            tables["runs"][axis] = default
    missing = [c for c in ("run_id", *AXES) if c not in tables["runs"]]
    if missing:
        raise StoreError(
            f"{store.path('runs')} lacks the columns {', '.join(missing)}; it was not written "
            "by `nonlinbench run`: rerun the grid into a new folder"
        )
    runs = prepare_runs(tables["runs"])
    surfaces = tables["surfaces"] if len(tables["surfaces"]) else None
    if surfaces is not None and "dataset" in surfaces:
        surfaces["dataset"] = surfaces["dataset"].map(dataset_label)
    manifest = store.read_manifest(strict=True)
    return Results(results_dir, runs, tables["curves"], surfaces, manifest)


def dataset_label(name: str) -> str:
    """A dataset's display name: its name as stored, which for a CSV file is its path as
    written in the grid (bench.data.csv_files.CsvName), the one name export --where and the explore
    page use too."""
    return str(name)


def prepare_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of runs.parquet with ``failed`` (bool) added, the result columns of the schema that
    are missing filled in (NaN, False or ""), ``error``/``diverged``/``affine`` without gaps, and
    ``dataset`` shortened to its label (the original is kept in ``dataset_source``)."""
    runs = runs.copy()
    for column in RUN_RESULTS:
        if column.name not in runs:
            runs[column.name] = _MISSING[column.dtype]
    runs["error"] = runs["error"].fillna("").astype(str)
    runs["failed"] = runs["error"].str.len() > 0
    for flag in ("diverged", "affine"):
        runs[flag] = runs[flag].fillna(False).astype(bool)
    if "dataset" in runs:
        runs["dataset_source"] = runs["dataset"].astype(str)
        runs["dataset"] = runs["dataset_source"].map(dataset_label)
    return runs


# -----------------------------------------------------------------------------
# axes and orderings


def ordered(values: Iterable, builtins: Sequence[str] = ()) -> list:
    """Distinct values: builtins in their canonical order first, then the rest sorted."""
    distinct = list(dict.fromkeys(v for v in values if not _isna(v)))
    known = [b for b in builtins if b in distinct]
    rest = sorted((v for v in distinct if v not in builtins), key=lambda v: (str(type(v)), v))
    return known + rest


def _isna(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def activation_order(values: Iterable[str]) -> list[str]:
    """Activations in canonical order: the builtins as bench.activations.builtins lists them, then
    plugins alphabetically."""
    return ordered(values, [b.name for b in BUILTINS])


def dataset_order(values: Iterable[str]) -> list[str]:
    """Datasets: the builtins as bench.data.datasets lists them, then the others alphabetically."""
    return ordered(values, BUILTIN_DATASETS)


def levels(runs: pd.DataFrame, axis: str) -> list:
    """The distinct values of an axis in the runs, in display order."""
    if axis not in runs:
        return []
    if axis == "activation":
        return activation_order(runs[axis])
    if axis == "dataset":
        return dataset_order(runs[axis])
    if axis == "features":
        return ordered(runs[axis], FEATURE_MAPS)  # raw inputs first
    return ordered(runs[axis])


def seed_axes(runs: pd.DataFrame) -> list[str]:
    return [a for a in SEED_AXES if a in runs]


def task_axes(runs: pd.DataFrame) -> list[str]:
    """Every axis but activation and the seeds: what defines a task."""
    return [a for a in AXES if a in runs and a != "activation" and a not in SEED_AXES]


# -----------------------------------------------------------------------------
# subsets


def with_hidden_layers(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs with at least one hidden layer, where the activation plays a part (all runs if the
    grid has none)."""
    if "depth" in runs and (runs["depth"] > 0).any():
        return runs[runs["depth"] > 0]
    return runs


def succeeded(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not fail."""
    return runs[~runs["failed"]] if "failed" in runs else runs


def usable(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that neither failed nor diverged: what every summary is computed from."""
    runs = succeeded(runs)
    return runs[~runs["diverged"]] if "diverged" in runs else runs


def left_out(runs: pd.DataFrame) -> str:
    """'3 failed and 1 diverged runs left out' ('' when none was)."""
    failed = int(runs["failed"].sum()) if "failed" in runs else 0
    diverged = int(runs.loc[~runs["failed"], "diverged"].sum()) if "diverged" in runs else 0
    parts = [f"{n} {what}" for n, what in ((failed, "failed"), (diverged, "diverged")) if n]
    if not parts:
        return ""
    return " and ".join(parts) + (" run" if failed + diverged == 1 else " runs") + " left out"


def affine_activations(runs: pd.DataFrame) -> frozenset[str]:
    """The activations whose runs are one affine map (the ``affine`` column)."""
    return frozenset(runs.loc[runs["affine"].to_numpy(bool), "activation"])


def linear_control(runs: pd.DataFrame) -> str | None:
    """The affine activation the others are compared against: the first in display order."""
    affine = activation_order(affine_activations(runs))
    return affine[0] if affine else None


# -----------------------------------------------------------------------------
# classification and regression


def is_regression(runs: pd.DataFrame) -> np.ndarray:
    """Which runs fit a function (n_classes 0) rather than classify; a run without n_classes (a
    failed one) by its dataset: a built-in regression dataset, or one that other runs fit."""
    classes = pd.to_numeric(runs["n_classes"], errors="coerce") if "n_classes" in runs else None
    if classes is None:
        classes = pd.Series(np.nan, index=runs.index)
    source = runs["dataset_source"] if "dataset_source" in runs else runs["dataset"]
    regression = (classes == 0).to_numpy(bool)
    known = set(source[regression]) | set(REGRESSION_DATASETS) | set(REAL_REGRESSION)
    unknown = classes.isna().to_numpy(bool)
    return regression | (unknown & source.isin(known).to_numpy(bool))


def restrict(results: Results, ids: set[str]) -> Results:
    """``results`` with only the runs whose id is in ``ids``, their curves and their surfaces
    (None when none of theirs was stored)."""
    runs = results.runs[results.runs["run_id"].isin(ids)]
    curves = results.curves
    if len(curves) and "run_id" in curves:
        curves = curves[curves["run_id"].isin(ids)]
    surfaces = results.surfaces
    if surfaces is not None and "run_id" in surfaces:
        surfaces = surfaces[surfaces["run_id"].isin(ids)]
        surfaces = surfaces if len(surfaces) else None
    return Results(results.path, runs, curves, surfaces, results.manifest)


def split_tasks(results: Results) -> tuple[Results | None, Results | None]:
    """(the classification results, the regression results): each with its runs, their curves
    and their surfaces; None for a kind without runs. Results without regression runs come back
    as they are (so a classification report is the same whether this ran or not)."""
    regression = is_regression(results.runs)
    if not regression.any():
        return results, None

    def part(mask: np.ndarray) -> Results | None:
        return restrict(results, set(results.runs.loc[mask, "run_id"])) if mask.any() else None

    return part(~regression), part(regression)
