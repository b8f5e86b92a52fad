"""The result schema: every column of runs, curves and surfaces, with its dtype and meaning.

This module is the one definition of the tables that the engine fills, the runner assembles,
the store writes and the report reads. The README's column list is checked against it.

    runs.parquet      one row per run: run_id, every axis (RunSpec's fields), RUN_RESULTS
    curves.parquet    one row per run and evaluated epoch: CURVE_COLUMNS
    surfaces.parquet  one row per SURFACE_CELL setting (its first run): SURFACE_COLUMNS
    weights.parquet   one row per run: its final parameters, WEIGHT_COLUMNS
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from bench.spec import RunSpec


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # pandas dtype name; "list<...>" for Parquet list columns
    meaning: str


AXES: tuple[str, ...] = tuple(f.name for f in fields(RunSpec))
_AXIS_DTYPES = {bool: "bool", int: "int64", float: "float64", str: "object"}
AXIS_COLUMNS: tuple[Column, ...] = tuple(
    Column(f.name, _AXIS_DTYPES[type(getattr(RunSpec(), f.name))], "grid axis (see RunSpec)")
    for f in fields(RunSpec)
)

# The arguments of `bench.data.datasets.make_dataset`: runs that agree on these train on the same data.
DATA_AXES: tuple[str, ...] = (
    "dataset",
    "n_samples",
    "noise",
    "label_noise",
    "data_seed",
    "test_size",
    "stratify",
    "features",
    "dim",
)
# Axes whose value other columns already carry: a mixed stack's `layers` is its `activation`
# label ("[16 relu, 8 tanh]") with depth and width, so summaries do not vary it on its own.
DERIVED_AXES: tuple[str, ...] = ("layers",)
# Independent repetitions: intervals are computed over their settings.
SEED_AXES: tuple[str, ...] = ("data_seed", "seed")
# Data axes that a real dataset or a CSV file sets itself (its rows; no noise): recorded per
# run, but where they differ between datasets and never within one they are properties of the
# datasets (`dataset_properties`), not axes of variation: no figure, table or control uses them.
PROPERTY_AXES: tuple[str, ...] = ("n_samples", "noise")


def dataset_properties(runs) -> list[str]:
    """The PROPERTY_AXES that vary in ``runs`` (a runs table) only because their datasets
    differ: one value per dataset, several datasets."""
    if "dataset" not in runs or runs["dataset"].nunique() < 2:
        return []
    found = []
    for axis in PROPERTY_AXES:
        if axis in runs and runs[axis].nunique() > 1:
            if (runs.groupby("dataset")[axis].nunique() <= 1).all():
                found.append(axis)
    return found


# One decision surface is stored per setting of these axes (the first run in grid order).
SURFACE_KEY: tuple[str, ...] = ("dataset", "noise", "activation", "depth", "width")
# The runs whose decision surface is stored: one per setting of every axis that changes the
# learned function (all but the seeds and the axes that only change what is recorded).
SURFACE_CELL: tuple[str, ...] = tuple(
    a for a in AXES if a not in (*SEED_AXES, "eval_every", "target_acc")
)

# Per-run measurements the engine returns, in this order; all float64 (NaN: not measured).
# Classification runs leave the regression columns NaN, and the reverse.
METRICS: tuple[Column, ...] = (
    Column("train_acc", "float64", "final training accuracy (fraction)"),
    Column("test_acc", "float64", "final test accuracy (fraction)"),
    Column("train_loss", "float64", "final mean training loss (the data loss, no penalty)"),
    Column("test_loss", "float64", "final mean test loss"),
    Column("train_r2", "float64", "regression: final R^2 on the training set"),
    Column("test_r2", "float64", "regression: final R^2 on the test set"),
    Column("test_mse", "float64", "regression: final mean squared error on the test set"),
    Column("best_test_acc", "float64", "highest test accuracy at any evaluated epoch"),
    Column("epochs_to_target", "float64", "first evaluated epoch with test_acc >= target_acc"),
    Column("gen_gap", "float64", "train_acc - test_acc"),
    # "The input plane": the data's two coordinates, or with more the first two principal
    # components of the training inputs, centred at their mean (surfaces' `plane` says which).
    Column("linear_fit_r2", "float64", "R^2 of an affine fit to the logits on the input plane"),
    Column("linear_regions", "float64", "distinct linear pieces on the input plane (NaN: smooth)"),
    Column("linear_regions_init", "float64", "the same at initialisation, before training"),
    Column("born_dead", "float64", "1 if a hidden layer is zero on every training input at init"),
    Column("dead_after_training", "float64", "the same after training (1 or 0)"),
    Column("dead_unit_frac", "float64", "hidden units never active on the training set, trained"),
    Column("dead_unit_frac_init", "float64", "the same at initialisation"),
    Column("grad_norm_init_first", "float64", "first hidden layer's weight-gradient norm at init"),
    Column("grad_norm_init_last", "float64", "last hidden layer's weight-gradient norm at init"),
)
RUN_RESULTS: tuple[Column, ...] = (
    *METRICS,
    Column("n_params", "int64", "trainable parameters, learnable activations included"),
    Column("n_classes", "int64", "classes in the dataset; 0 for a regression dataset"),
    Column("affine", "bool", "the activation is affine, so the network is one affine map"),
    Column(
        "act_params",
        "object",
        'learned activation parameters as JSON, e.g. {"0.slope": 0.21} ("<hidden layer>.<name>"; '
        'the mean of a non-scalar one under "<layer>.<name>.mean"), "" for none',
    ),
    Column("diverged", "bool", "the training loss stopped being finite"),
    Column("diverged_epoch", "float64", "the epoch it did (NaN if never)"),
    Column("wall_s", "float64", "the chunk's wall time, shared equally by its runs"),
    Column("chunk_size", "int64", "models trained together in the run's chunk"),
    Column("error", "object", "empty, or why the run failed (its metrics are then missing)"),
    Column("device", "object", "where it trained"),
    Column("engine_version", "object", "bench.engine.ENGINE_VERSION"),
    Column("nonlinbench_version", "object", "bench.__version__"),
)
RUN_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "object", "a stable hash of the settings and the data's fingerprint"),
    *AXIS_COLUMNS,
    *RUN_RESULTS,
)

# The engine records four curves per run: the losses, then a score on each split, which is
# the accuracy for classification and R^2 for regression (the other pair stays NaN).
CURVE_METRICS: tuple[str, ...] = ("train_loss", "test_loss", "train_acc", "test_acc")
REGRESSION_CURVES: tuple[str, ...] = ("train_loss", "test_loss", "train_r2", "test_r2")
CURVE_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "object", "the run"),
    Column("epoch", "int64", "0 (initialisation), every eval_every epochs, and the last"),
    *(
        Column(m, "float32", f"{m.replace('_', ' ')} at that epoch")
        for m in dict.fromkeys(CURVE_METRICS + REGRESSION_CURVES)
    ),
)


def curve_columns(regression: bool) -> tuple[str, ...]:
    """The columns of the engine's four recorded curves, in its order."""
    return REGRESSION_CURVES if regression else CURVE_METRICS


SURFACE_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "object", "the run"),
    *(c for c in AXIS_COLUMNS if c.name in (*SURFACE_KEY, "seed")),
    Column("resolution", "int64", "points per side of the square grid"),
    Column("x_min", "float64", "the grid's extent on the plane's first axis"),
    Column("x_max", "float64", ""),
    Column("y_min", "float64", "the grid's extent on the plane's second axis"),
    Column("y_max", "float64", ""),
    Column(
        "plane",
        "object",
        "'input' (two features), 'pca' (first two principal components of the training inputs, "
        "centred at their mean) or 'line' (one "
        "feature; y is a dummy axis)",
    ),
    Column(
        "prob",
        "list<float32>",
        "two classes: P(class 1); more: P(predicted class); regression: the predicted value; "
        "row-major [iy, ix]",
    ),
    Column("pred", "list<int8>", "predicted class, row-major [iy, ix] (regression: zeros)"),
    Column("test_x", "list<float32>", "test points' first coordinate in the plane"),
    Column("test_y", "list<float32>", "test points' second coordinate in the plane"),
    Column("test_label", "list<int8>", "test points' true class (regression: zeros)"),
    Column("test_target", "list<float32>", "regression: test points' targets (else empty)"),
)

WEIGHT_COLUMNS: tuple[Column, ...] = (
    Column("run_id", "object", "the run"),
    Column(
        "layout",
        "object",
        "JSON [[name, shape], ...]: the trained network as a plain nn.Sequential's state dict, "
        'e.g. [["0.weight", [10, 2]], ["0.bias", [10]], ...]; learnable activation parameters '
        "under their layer's index",
    ),
    Column("params", "list<float32>", "the state dict's tensors flattened in layout order"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "runs": RUN_COLUMNS,
    "curves": CURVE_COLUMNS,
    "surfaces": SURFACE_COLUMNS,
    "weights": WEIGHT_COLUMNS,
}
# Rows of a table are unique on these columns (the newest wins a merge).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id",),
    "curves": ("run_id", "epoch"),
    "surfaces": ("run_id",),
    "weights": ("run_id",),
}


def names(columns: tuple[Column, ...]) -> list[str]:
    return [c.name for c in columns]


METRIC_NAMES: tuple[str, ...] = tuple(names(METRICS))
