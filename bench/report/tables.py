"""The numbers behind the report: loading a results directory, tidy seed-level summaries, the
ranking, and the inputs of the decision-surface gallery.

Apart from the loaders, everything here is a pure function of DataFrames (plus an integer seed
for bootstrap intervals), so the figures and the tables of a report quote the same numbers.

Units of analysis
-----------------
* A *replicate* is one setting of the seed axes (``seed``, and ``data_seed`` if the grid varies
  it): the independent repetitions over which intervals are computed.
* A *task* is one setting of every other axis except ``activation`` (dataset, noise, depth, width,
  optimizer, ...), as in rliable's runs x tasks score matrices.
* A summary "by" some axes first averages each replicate's runs over every other axis, then reports
  the mean over replicates with a 95% percentile bootstrap interval over replicates.
* Failed runs (``error`` not empty) are left out of every statistic and counted separately.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.stats import bootstrap_ci, iqm, probability_of_improvement_ci, stratified_bootstrap_ci

try:  # the runner's axes, when bench.spec is importable; the runs.parquet contract otherwise
    from bench.spec import AXES
except ImportError:  # pragma: no cover - bench.spec is part of the package
    AXES = (
        "dataset", "n_samples", "noise", "label_noise", "test_size", "data_seed", "stratify",
        "activation", "depth", "width", "init", "optimizer", "lr", "epochs", "batch_size",
        "eval_every", "seed", "target_acc",
    )  # fmt: skip

BUILTIN_ACTIVATIONS = (
    "none", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "sigmoid",
    "softplus", "sin",
)  # fmt: skip
BUILTIN_DATASETS = ("circles", "moons", "xor", "spirals", "blobs", "checkerboard", "spirals4")
SEED_AXES = ("data_seed", "seed")
# result columns of runs.parquet; a grid whose every run failed may lack them
METRICS = (
    "n_classes", "train_acc", "test_acc", "train_loss", "test_loss", "best_test_acc",
    "epochs_to_target", "gen_gap", "linear_fit_r2", "linear_regions", "dead_unit_frac",
    "dead_unit_frac_init", "grad_norm_init_first", "grad_norm_init_last", "n_params",
)  # fmt: skip
N_RESAMPLES = 2000
CONFIDENCE = 0.95


# -----------------------------------------------------------------------------
# loading


@dataclass
class Results:
    """The contents of one results directory, with runs prepared by :func:`prepare_runs`."""

    path: Path
    runs: pd.DataFrame
    curves: pd.DataFrame
    surfaces: pd.DataFrame | None = None
    manifest: dict = field(default_factory=dict)


def load_results(results_dir: Path | str) -> Results:
    """Read runs.parquet (required), curves.parquet, surfaces.parquet and manifest.json."""
    results_dir = Path(results_dir)
    runs_path = results_dir / "runs.parquet"
    if not runs_path.exists():
        raise FileNotFoundError(f"no runs.parquet in {results_dir} (run the grid first)")
    runs = prepare_runs(pd.read_parquet(runs_path))
    curves_path = results_dir / "curves.parquet"
    curves = pd.read_parquet(curves_path) if curves_path.exists() else pd.DataFrame()
    surfaces_path = results_dir / "surfaces.parquet"
    surfaces = None
    if surfaces_path.exists():
        surfaces = pd.read_parquet(surfaces_path)
        if "dataset" in surfaces:
            surfaces["dataset"] = surfaces["dataset"].map(dataset_label)
    manifest_path = results_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return Results(results_dir, runs, curves, surfaces, manifest)


def dataset_label(name: str) -> str:
    """A dataset's display name: builtins as they are, a CSV file by its stem."""
    name = str(name)
    if name.lower().endswith(".csv"):
        return Path(name).stem
    return name


def prepare_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of runs.parquet with ``failed`` (bool) added, ``error``/``diverged`` filled in, and
    ``dataset`` shortened to its label (the original is kept in ``dataset_source``); missing
    metric columns are added as NaN."""
    runs = runs.copy()
    for metric in METRICS:
        if metric not in runs:
            runs[metric] = np.nan
    if "error" in runs:
        runs["error"] = runs["error"].fillna("").astype(str)
    else:
        runs["error"] = ""
    runs["failed"] = runs["error"].str.len() > 0
    runs["diverged"] = runs["diverged"].fillna(False).astype(bool) if "diverged" in runs else False
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
    """Activations in canonical order: the builtins as listed, then plugins alphabetically."""
    return ordered(values, BUILTIN_ACTIVATIONS)


def dataset_order(values: Iterable[str]) -> list[str]:
    return ordered(values, BUILTIN_DATASETS)


def levels(runs: pd.DataFrame, axis: str) -> list:
    """The distinct values of an axis in the runs, in display order."""
    if axis not in runs:
        return []
    if axis == "activation":
        return activation_order(runs[axis])
    if axis == "dataset":
        return dataset_order(runs[axis])
    return ordered(runs[axis])


def seed_axes(runs: pd.DataFrame) -> list[str]:
    return [a for a in SEED_AXES if a in runs]


def task_axes(runs: pd.DataFrame) -> list[str]:
    """Every axis but activation and the seeds: what defines a task."""
    return [a for a in AXES if a in runs and a != "activation" and a not in SEED_AXES]


def hidden(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs with at least one hidden layer, where the activation plays a part (all runs if the
    grid has none)."""
    if "depth" in runs and (runs["depth"] > 0).any():
        return runs[runs["depth"] > 0]
    return runs


def ok(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not fail."""
    return runs[~runs["failed"]] if "failed" in runs else runs


def chance_level(runs: pd.DataFrame) -> float:
    """Accuracy of guessing among n_classes equally likely classes (median over the runs)."""
    n_classes = runs["n_classes"].dropna() if "n_classes" in runs else pd.Series(dtype=float)
    return float(1.0 / n_classes.median()) if len(n_classes) else float("nan")


# -----------------------------------------------------------------------------
# seed-level summaries


def seed_level(runs: pd.DataFrame, by: Sequence[str], metric: str) -> pd.DataFrame:
    """One row per group of ``by`` and replicate: the mean of ``metric`` over its finite values."""
    by = list(by)
    keys = by + seed_axes(runs)
    values = pd.to_numeric(runs[metric], errors="coerce").astype(float)
    keep = ok(runs).index.intersection(runs.index[np.isfinite(values)])
    frame = runs.loc[keep, keys].assign(**{metric: values.loc[keep]})
    if not keys:
        return pd.DataFrame({metric: [frame[metric].mean()]}).dropna()
    return frame.groupby(keys, dropna=False, sort=True)[metric].mean().reset_index()


def summarize(
    runs: pd.DataFrame,
    by: Sequence[str],
    metric: str = "test_acc",
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of ``metric`` per group of ``by`` with a bootstrap interval over replicates.

    Returns columns ``*by, mean, low, high, n`` (n: replicates). Within a replicate the runs are
    averaged over all other axes first. With a single replicate, low and high are NaN.
    """
    by = list(by)
    level = seed_level(runs, by, metric)
    columns = [*by, "mean", "low", "high", "n"]
    if level.empty:
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed)
    groups = level.groupby(by, dropna=False, sort=True) if by else [((), level)]
    rows = []
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        point, low, high = bootstrap_ci(
            group[metric].to_numpy(), confidence=confidence, n_resamples=n_resamples, rng=rng
        )
        rows.append((*key, point, low, high, len(group)))
    return pd.DataFrame(rows, columns=columns)


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
    runs = ok(runs)
    runs = runs[np.isfinite(pd.to_numeric(runs[metric], errors="coerce").astype(float))]
    activations = list(activations) if activations is not None else levels(runs, "activation")
    if runs.empty or not activations:
        return {}
    tasks, seeds = task_axes(runs), seed_axes(runs)
    frame = pd.DataFrame(
        {
            "activation": runs["activation"].to_numpy(),
            "task": _group_ids(runs, tasks),
            "replicate": _group_ids(runs, seeds),
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
    Returns one row per activation, best IQM first: ``activation, iqm, iqm_low, iqm_high,
    p_improve, p_low, p_high, n_tasks, n_replicates``; the reference's own p columns are NaN.
    The reference is stored in ``DataFrame.attrs["reference"]``.
    """
    matrices = score_matrices(hidden(runs), metric)
    columns = [
        "activation", "iqm", "iqm_low", "iqm_high", "p_improve", "p_low", "p_high", "n_tasks",
        "n_replicates",
    ]  # fmt: skip
    if not matrices or next(iter(matrices.values())).shape[1] == 0:
        return pd.DataFrame(columns=columns)
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
            (activation, stats.point, stats.low, stats.high, *p, matrix.shape[1], n_replicates)
        )
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values("iqm", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs["reference"] = reference
    return table


# -----------------------------------------------------------------------------
# counts and the seed notebook


def failure_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Per activation: runs, failed runs (an error) and diverged runs (non-finite loss)."""
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


# The seed notebook's configuration: circles, noise 0.03, 2 hidden layers of 10 units, SGD at
# lr 0.1 for 1000 epochs; compared for activations none and relu.
SEED_CONFIG = {
    "dataset": "circles",
    "noise": 0.03,
    "depth": 2,
    "width": 10,
    "optimizer": "sgd",
    "lr": 0.1,
    "epochs": 1000,
}


def seed_config_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with the seed notebook's configuration (any activation)."""
    mask = np.ones(len(runs), dtype=bool)
    for axis, value in SEED_CONFIG.items():
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


# -----------------------------------------------------------------------------
# decision-surface gallery inputs


def select_gallery(surfaces: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One surface per (activation, dataset): depth 2 and width 10 when stored, else the median
    depth and width; per dataset the lowest noise; the lowest seed. Adds the run's axes."""
    extra = [c for c in runs.columns if c not in surfaces.columns or c == "run_id"]
    table = surfaces.merge(runs[extra], on="run_id", how="left")
    if table.empty:
        return table, {}
    pairs = set(zip(table["depth"], table["width"], strict=True))
    if (2, 10) in pairs:
        depth, width = 2, 10
    else:
        depths = sorted({d for d, _ in pairs if d > 0} or {d for d, _ in pairs})
        depth = depths[(len(depths) - 1) // 2]
        widths = sorted({w for d, w in pairs if d == depth})
        width = widths[(len(widths) - 1) // 2]
    table = table[(table["depth"] == depth) & (table["width"] == width)]
    noise = table.groupby("dataset")["noise"].min()
    table = table[table["noise"].to_numpy() == table["dataset"].map(noise).to_numpy()]
    table = table.sort_values("seed", kind="stable").drop_duplicates(["activation", "dataset"])
    return table, {"depth": depth, "width": width, "noise": noise.to_dict()}


DATA_AXES = ("n_samples", "noise", "label_noise", "data_seed", "test_size", "stratify")


def load_test_points(selected: pd.DataFrame) -> tuple[dict, list[str]]:
    """Test points ``{run_id: (X, y)}`` of each selected surface's run, regenerated with
    bench.data.make_dataset (projected on the plane of the surface for more than two features).
    Returns the points and a list of problems (datasets whose points could not be made)."""
    try:
        data = importlib.import_module("bench.data")
    except ImportError as error:
        return {}, [f"bench.data could not be imported ({error})"]
    cache: dict[tuple, tuple | None] = {}
    points, problems = {}, []
    for row in selected.to_dict("records"):
        key = tuple(row.get(c) for c in ("dataset_source", *DATA_AXES))
        if key not in cache:
            try:
                cache[key] = _plane_points(data.make_dataset(*_data_arguments(row)))
            except Exception as error:  # a moved CSV file must not stop the report
                cache[key] = None
                problems.append(f"{row['dataset']}: {str(error)[:200]}")
        if cache[key] is not None:
            points[row["run_id"]] = cache[key]
    return points, problems


def _data_arguments(row: dict) -> tuple:
    """make_dataset's arguments for a run: name, n_samples, noise, label_noise, data_seed,
    test_size, stratify."""
    casts = (int, float, float, int, float, bool)
    values = (cast(row[axis]) for cast, axis in zip(casts, DATA_AXES, strict=True))
    return (row.get("dataset_source", row["dataset"]), *values)


def _plane_points(dataset) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(dataset.X_test, dtype=float), np.asarray(dataset.y_test)
    if X.shape[1] > 2:  # the engine draws such surfaces on the data's first two PCs
        import torch

        metrics = importlib.import_module("bench.metrics")
        mean, components = metrics.pca_basis(torch.cat([dataset.X_train, dataset.X_test]))
        X = ((dataset.X_test.to(components.dtype) - mean) @ components.T).numpy()
    return X, y
