"""A small synthetic-but-realistic results directory for the report tests.

`write_results` writes runs.parquet, curves.parquet, surfaces.parquet and manifest.json in the
runner's format (bench.schema). Axes that the tests do not vary take the seed notebook's values
(bench.grid.notebook.setup()), so a synthetic grid contains the notebook's configuration when its
depths, widths, noises and datasets include the notebook's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.grid import notebook

ACTIVATIONS = ("none", "relu", "tanh", "my_swish")  # my_swish: a plugin-looking name
DATASETS = ("circles", "blobs", "spirals4")
N_CLASSES = {"circles": 2, "blobs": 2, "spirals4": 4}
SMOOTH = {"tanh", "my_swish"}

# Mean test accuracy of a network with hidden layers: nonlinearity matters on circles and
# spirals4, not on blobs (the negative control).
BASE_ACC = {
    ("circles", "none"): 0.50,
    ("circles", "relu"): 0.96,
    ("circles", "tanh"): 0.93,
    ("circles", "my_swish"): 0.95,
    ("blobs", "none"): 0.97,
    ("blobs", "relu"): 0.975,
    ("blobs", "tanh"): 0.97,
    ("blobs", "my_swish"): 0.972,
    ("spirals4", "none"): 0.30,
    ("spirals4", "relu"): 0.85,
    ("spirals4", "tanh"): 0.80,
    ("spirals4", "my_swish"): 0.83,
}
LOGISTIC_ACC = {"circles": 0.50, "blobs": 0.97, "spirals4": 0.30}


def _run_id(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def make_runs(
    *,
    activations=ACTIVATIONS,
    datasets=DATASETS,
    depths=(1, 2),
    widths=(4, 10),
    noises=(0.03, 0.2),
    seeds=(0, 1, 2),
    epochs=1000,
    eval_every=100,
    rng_seed=0,
) -> pd.DataFrame:
    """One row per run, every axis of runs.parquet, one failed and one diverged run; `affine`
    is set for the activation "none"."""
    rng = np.random.default_rng(rng_seed)
    fixed = dataclasses.asdict(notebook.setup())
    rows = []
    for dataset, noise, activation, depth, width, seed in itertools.product(
        datasets, noises, activations, depths, widths, seeds
    ):
        axes = {
            **fixed,
            "dataset": dataset,
            "noise": noise,
            "activation": activation,
            "depth": depth,
            "width": width,
            "epochs": epochs,
            "eval_every": eval_every,
            "seed": seed,
        }
        if depth == 0:
            acc = LOGISTIC_ACC[dataset]
        else:
            acc = BASE_ACC[(dataset, activation)] + 0.005 * depth + 0.002 * width
        acc = float(np.clip(acc - 0.3 * noise + 0.01 * rng.standard_normal(), 0.0, 1.0))
        train_acc = min(1.0, acc + 0.02)
        nonlinear = activation != "none" and depth > 0
        if depth == 0 or activation == "none":
            regions = 1.0
        elif activation in SMOOTH:
            regions = np.nan
        else:
            regions = float(width * depth * 3 + rng.integers(0, 5))
        rows.append(
            {
                "run_id": _run_id(axes),
                **axes,
                "n_classes": N_CLASSES[dataset],
                "train_acc": train_acc,
                "test_acc": acc,
                "train_loss": -np.log(max(train_acc, 0.05)),
                "test_loss": -np.log(max(acc, 0.05)),
                "best_test_acc": min(1.0, acc + 0.005),
                "epochs_to_target": 300.0 if acc >= 0.95 else np.nan,
                "gen_gap": train_acc - acc,
                "linear_fit_r2": (0.4 + 0.1 * rng.random()) if nonlinear else 1.0,
                "linear_regions": regions,
                "dead_unit_frac": (0.05 * depth if activation == "relu" else 0.0)
                if depth
                else np.nan,
                "dead_unit_frac_init": (0.02 * depth if activation == "relu" else 0.0)
                if depth
                else np.nan,
                "grad_norm_init_first": float(np.exp(-0.5 * depth) * (1 + 0.1 * rng.random()))
                if depth
                else np.nan,
                "grad_norm_init_last": 1.0 if depth else np.nan,
                "n_params": 2 * width + width * width * max(depth - 1, 0) + width,
                "affine": activation == "none",
                "diverged": False,
                "error": "",
                "wall_s": 0.01,
                "device": "cpu",
                "engine_version": "1",
            }
        )
    runs = pd.DataFrame(rows)
    metrics = ["train_acc", "test_acc", "train_loss", "test_loss", "best_test_acc", "gen_gap"]
    # a failed run: an error message and no metrics
    failed_index = runs.index[runs["seed"] == seeds[-1]][len(runs) // (2 * len(seeds))]
    runs.loc[failed_index, "error"] = "RuntimeError: synthetic failure"
    runs.loc[failed_index, metrics + ["linear_fit_r2", "dead_unit_frac"]] = np.nan
    # a diverged run: trained, but its loss stopped being finite
    diverged_index = runs.index[(runs["seed"] == seeds[0]) & (runs["error"] == "")][-1]
    runs.loc[diverged_index, "diverged"] = True
    runs.loc[diverged_index, ["train_loss", "test_loss"]] = np.inf
    return runs


def make_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Learning curves at every eval_every epochs (0 and the last included), ending at the run's
    final test accuracy and loss."""
    frames = []
    for run in runs[runs["error"] == ""].itertuples():
        epochs = list(range(0, run.epochs + 1, run.eval_every))
        if epochs[-1] != run.epochs:
            epochs.append(run.epochs)
        t = np.asarray(epochs, dtype=float) / run.epochs
        chance = 1.0 / run.n_classes
        test_acc = chance + (run.test_acc - chance) * (1 - np.exp(-5 * t)) / (1 - np.exp(-5))
        final_loss = run.test_loss if np.isfinite(run.test_loss) else np.log(run.n_classes)
        test_loss = final_loss + (np.log(run.n_classes) - final_loss) * np.exp(-5 * t)
        frames.append(
            pd.DataFrame(
                {
                    "run_id": run.run_id,
                    "epoch": epochs,
                    "train_loss": (test_loss * 0.9).astype(np.float32),
                    "test_loss": test_loss.astype(np.float32),
                    "train_acc": np.minimum(test_acc + 0.02, 1).astype(np.float32),
                    "test_acc": test_acc.astype(np.float32),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_points(dataset: str, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Test points in the surfaces' square, labelled like the surfaces: a disc on two-class data,
    quadrants of the angle on spirals4."""
    rng = np.random.default_rng(len(dataset))
    X = rng.uniform(-1.4, 1.4, size=(n, 2)).astype(np.float32)
    y = (np.hypot(X[:, 0], X[:, 1]) > 0.8).astype(np.int8)
    if N_CLASSES[dataset] > 2:
        angle = np.arctan2(X[:, 1], X[:, 0])
        y = ((angle + np.pi) / (2 * np.pi) * N_CLASSES[dataset]).astype(np.int8) % N_CLASSES[
            dataset
        ]
    return X, y


def make_surfaces(runs: pd.DataFrame, resolution: int = 24) -> pd.DataFrame:
    """One surface per dataset, noise, activation, depth and width (the lowest seed), with its
    test points; spirals4 is drawn on a 'pca' plane, the others on the 'input' plane."""
    keys = ["dataset", "noise", "activation", "depth", "width"]
    stored = runs[runs["error"] == ""].sort_values("seed").drop_duplicates(keys)
    xs = np.linspace(-1.5, 1.5, resolution)
    gx, gy = np.meshgrid(xs, xs)  # [iy, ix]
    rows = []
    for run in stored.itertuples():
        if run.activation == "none" or run.depth == 0:
            logit = 3 * (gx + 0.5 * gy)  # a straight boundary
        else:
            logit = 6 * (np.hypot(gx, gy) - 0.8)  # a curved one
        prob = 1 / (1 + np.exp(-logit))
        if run.n_classes > 2:
            angle = np.arctan2(gy, gx)
            pred = ((angle + np.pi) / (2 * np.pi) * run.n_classes).astype(int) % run.n_classes
            prob = 0.4 + 0.5 * prob
        else:
            pred = (prob > 0.5).astype(int)
        X, y = test_points(run.dataset)
        rows.append(
            {
                "run_id": run.run_id,
                **{k: getattr(run, k) for k in keys},
                "seed": run.seed,
                "resolution": resolution,
                "x_min": -1.5,
                "x_max": 1.5,
                "y_min": -1.5,
                "y_max": 1.5,
                "prob": prob.ravel().astype(np.float32),
                "pred": pred.ravel().astype(np.int8),
                "plane": "pca" if run.dataset == "spirals4" else "input",
                "test_x": X[:, 0],
                "test_y": X[:, 1],
                "test_label": y,
            }
        )
    return pd.DataFrame(rows)


def manifest(name: str = "toy") -> dict:
    return {
        "grid": {
            "name": name,
            "description": "a synthetic grid",
            "source": f"grids/{name}.toml",
            "hash": "abc123",
            "text": f'name = "{name}"',
            "plugins": [],
        },
        "grid_hash": "abc123",
        "versions": {"nonlinbench": "0.1.0", "torch": "2.13.0", "python": "3.11.0"},
        "device": "cpu",
        "git_commit": "0123456789abcdef",
        "started": "2025-01-01T00:00:00",
        "finished": "2025-01-01T00:05:00",
        "command": f"nonlinbench run --grid {name}",
    }


def write_results(
    path: Path,
    runs: pd.DataFrame | None = None,
    *,
    surfaces: bool = True,
    name: str = "toy",
    **options,
) -> Path:
    """Write a results directory; `options` go to make_runs when runs are not given."""
    path.mkdir(parents=True, exist_ok=True)
    runs = make_runs(**options) if runs is None else runs
    runs.to_parquet(path / "runs.parquet", index=False)
    make_curves(runs).to_parquet(path / "curves.parquet", index=False)
    if surfaces:
        make_surfaces(runs).to_parquet(path / "surfaces.parquet", index=False)
    (path / "manifest.json").write_text(json.dumps(manifest(name)))
    return path


# -----------------------------------------------------------------------------
# regression runs (n_classes 0): fitted functions scored by test R^2

REGRESSION_DATASETS = ("sine", "saddle")
REGRESSION_DATA = {"n_samples": 200, "noise": 0.1}  # small: the report regenerates the data
# Mean test R^2 with hidden layers, below the data's best possible R^2 by this much: on sine
# relu and tanh tie, on saddle tanh is clearly best. A linear network reaches the best line.
BELOW_BEST = {
    ("sine", "relu"): 0.010,
    ("sine", "tanh"): 0.011,
    ("saddle", "relu"): 0.150,
    ("saddle", "tanh"): 0.005,
}


def regression_yardsticks(dataset: str) -> tuple[float, float]:
    """(best possible, best line) R^2 of a synthetic regression dataset, as the report computes
    them (bench.data.ceiling.r2_yardsticks)."""
    from bench.data.ceiling import r2_yardsticks

    fixed = dataclasses.asdict(notebook.setup())
    args = {a: fixed[a] for a in ("label_noise", "data_seed", "test_size", "stratify", "features")}
    return r2_yardsticks(dataset, **args, **REGRESSION_DATA)


def make_regression_runs(
    *, datasets=REGRESSION_DATASETS, activations=("none", "relu", "tanh"), depths=(1, 2),
    seeds=(0, 1, 2), rng_seed=1,
) -> pd.DataFrame:  # fmt: skip
    """Regression runs in runs.parquet's format: classification metrics NaN, test_r2 near the
    linear network's best line (affine) or below the best possible (BELOW_BEST)."""
    rng = np.random.default_rng(rng_seed)
    fixed = dataclasses.asdict(notebook.setup())
    rows = []
    for dataset, activation, depth, seed in itertools.product(datasets, activations, depths, seeds):
        axes = {**fixed, **REGRESSION_DATA, "dataset": dataset, "activation": activation,
                "depth": depth, "width": 10, "seed": seed}  # fmt: skip
        best, line = regression_yardsticks(dataset)
        if activation == "none":
            r2 = line + 0.0002 * rng.standard_normal()
        else:
            r2 = best - BELOW_BEST[(dataset, activation)] + 0.002 * rng.standard_normal()
        rows.append(
            {
                "run_id": _run_id(axes),
                **axes,
                "n_classes": 0,
                "train_r2": r2 + 0.01,
                "test_r2": r2,
                "test_mse": 0.5 * (1 - r2),
                "train_loss": 0.5 * (1 - r2 - 0.01),
                "test_loss": 0.5 * (1 - r2),
                **dict.fromkeys(("train_acc", "test_acc", "best_test_acc", "gen_gap"), np.nan),
                "epochs_to_target": np.nan,
                "linear_fit_r2": 1.0 if activation == "none" else 0.3,
                "linear_regions": 1.0 if activation == "none" else np.nan,
                "affine": activation == "none",
                "diverged": False,
                "error": "",
                "wall_s": 0.01,
                "device": "cpu",
                "engine_version": "1",
            }
        )
    return pd.DataFrame(rows)


def make_regression_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """R^2 curves rising from below 0 to the run's final test R^2."""
    frames = []
    for run in runs.itertuples():
        epochs = np.arange(0, run.epochs + 1, run.eval_every)
        t = epochs / run.epochs
        r2 = -0.5 + (run.test_r2 + 0.5) * (1 - np.exp(-5 * t)) / (1 - np.exp(-5))
        loss = 0.5 * (1 - r2)
        frames.append(
            pd.DataFrame(
                {
                    "run_id": run.run_id,
                    "epoch": epochs,
                    "train_loss": loss.astype(np.float32),
                    "test_loss": loss.astype(np.float32),
                    "train_acc": np.float32(np.nan),
                    "test_acc": np.float32(np.nan),
                    "train_r2": r2.astype(np.float32),
                    "test_r2": r2.astype(np.float32),
                }  # fmt: skip
            )
        )
    return pd.concat(frames, ignore_index=True)


def make_regression_surfaces(runs: pd.DataFrame, resolution: int = 24) -> pd.DataFrame:
    """One surface per dataset, noise, activation, depth and width: sine on a 'line' plane (the
    y axis a dummy), saddle on the 'input' plane; the fit is the truth for a nonlinear network
    and a straight line for the linear one."""
    from bench.data.datasets import make_dataset
    from bench.data.generators import REGRESSION_TRUTH

    keys = ["dataset", "noise", "activation", "depth", "width"]
    rows = []
    for run in runs.sort_values("seed").drop_duplicates(keys).itertuples():
        data = make_dataset(run.dataset, **REGRESSION_DATA, data_seed=run.data_seed)
        truth, dims = REGRESSION_TRUTH[run.dataset]
        xs = np.linspace(-1.2, 1.2, resolution)
        ys = xs if dims == 2 else np.linspace(-0.5, 0.5, resolution)
        gx, gy = np.meshgrid(xs, ys)  # [iy, ix]
        grid = np.stack([gx.ravel(), gy.ravel()], 1)
        value = truth(grid) if run.activation != "none" else 0.3 * grid[:, 0]
        coords = data.coords_test.numpy()
        rows.append(
            {
                "run_id": run.run_id,
                **{k: getattr(run, k) for k in keys},
                "seed": run.seed,
                "resolution": resolution,
                "x_min": xs[0],
                "x_max": xs[-1],
                "y_min": ys[0],
                "y_max": ys[-1],
                "plane": "line" if dims == 1 else "input",
                "prob": value.astype(np.float32),
                "pred": np.zeros(len(grid), np.int8),
                "test_x": coords[:, 0],
                "test_y": coords[:, 1] if dims == 2 else np.zeros(len(coords), np.float32),
                "test_label": np.zeros(len(coords), np.int8),
                "test_target": data.y_test.numpy(),
            }  # fmt: skip
        )
    return pd.DataFrame(rows)


def write_mixed_results(
    path: Path, classification: pd.DataFrame | None, regression: pd.DataFrame | None
) -> Path:
    """A results directory with classification runs, regression runs, or both."""
    path.mkdir(parents=True, exist_ok=True)
    parts = [(classification, make_curves, make_surfaces),
             (regression, make_regression_curves, make_regression_surfaces)]  # fmt: skip
    runs, curves, surfaces = [], [], []
    for frame, curve_maker, surface_maker in parts:
        if frame is not None:
            runs.append(frame)
            curves.append(curve_maker(frame))
            surfaces.append(surface_maker(frame))
    pd.concat(runs, ignore_index=True).to_parquet(path / "runs.parquet", index=False)
    pd.concat(curves, ignore_index=True).to_parquet(path / "curves.parquet", index=False)
    pd.concat(surfaces, ignore_index=True).to_parquet(path / "surfaces.parquet", index=False)
    (path / "manifest.json").write_text(json.dumps(manifest("mixed")))
    return path
