"""The yardsticks of a test accuracy: chance, and the best possible accuracy (the Bayes rate).

A score reads differently beside its yardsticks: 85% is poor where 99% is possible and
excellent where noise caps every classifier at 86%.

* **Chance** is the share of the test set's largest class: what always predicting that class
  scores (`chance_accuracy`). The built-in generators are balanced, so it is 1 / classes up to
  the split's rounding.
* **The best possible accuracy** (`ceiling`) is the Bayes-optimal test accuracy on a built-in
  dataset's own distribution. Every built-in generator draws noise-free points and adds isotropic
  Gaussian noise of std `noise`, so each class density is the noise-free distribution convolved
  with that Gaussian. The estimate (`estimate`):

    1. draw a dense noise-free sample from the generator itself (noise=0, REFERENCE_POINTS);
    2. histogram each class on a fine grid (cells of noise / CELLS_PER_STD) and smooth it with
       the Gaussian of std `noise`: prior_k x density_k on the grid, up to one common factor;
    3. draw fresh noisy points from the generator (MC_POINTS) and read each class's posterior
       there (bilinear interpolation); the Bayes accuracy is E[max_k posterior_k(x)].

  At noise 0 the built-in shapes do not overlap, so the ceiling is 1. CSV datasets and the
  real datasets (bench.data.real) have none: their distribution is unknown (their yardsticks
  are a linear and a strong reference model, bench.data.references).

  `spheres` (any `dim`) is computed exactly instead (`spheres_rule`): its class densities are
  radial, and for a point of a sphere of radius R plus isotropic noise of std s in d dimensions
  (r/s)^2 follows the noncentral chi-square law with d degrees of freedom and noncentrality
  (R/s)^2. That family's likelihood ratio grows with the noncentrality (a monotone likelihood
  ratio), so the Bayes rule, the class of larger prior x density of r, is one threshold t on
  r = |x|: the outer class beyond it. Its accuracy, the expectation of the max posterior
  (the integral of max_k prior_k density_k(r) over r), is then exactly
  1/2 P(r > t | outer) + 1/2 P(r <= t | inner), two noncentral chi-square tail masses
  (scipy.stats.ncx2; equal priors, the generator's classes being balanced). t is where that
  sum is largest (bounded Brent search, to 1e-12 in r: t lands within about 1e-8 of the
  densities' crossing, and the accuracy, flat there, is good to about 1e-10, the CDFs' own
  precision). No sampling; at dim 2 it is the circles' Rice-law ceiling.

Both are classification yardsticks: a regression dataset (bench.data.datasets.REGRESSION_DATASETS,
diabetes, or a CSV file with a `target` column) has no chance or Bayes accuracy (`ceiling` gives None,
`chance_accuracy` NaN). Its yardsticks are R^2 values on the run's own test set
(`r2_yardsticks`): the noise-free function itself, the best any model can do on average, and the
least-squares affine fit, the best a network without an activation can do.

Estimates are cached in memory and on disk (`cache_path`; `stored` is the helper other
yardsticks share), keyed by the estimator's version, bench.data.datasets.GENERATOR_VERSION,
the dataset and the noise; they are seeded, so a rebuilt cache gives the same numbers. The exact
spheres values take milliseconds and are not stored.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import optimize, stats
from scipy.ndimage import gaussian_filter, map_coordinates

from bench.data.datasets import (
    DEFAULT_DIM,
    DIM_DATASET,
    GENERATOR_VERSION,
    REGRESSION_DATASETS,
    is_csv,
    make_dataset,
)
from bench.data.generators import REGRESSION_TRUTH, SPHERE_RADII
from bench.data.real import is_real
from bench.stats import r_squared

METHOD_VERSION = "1"  # bump when the estimate below changes, so cached values are recomputed
REFERENCE_POINTS = 400_000  # noise-free points: ~40 per noise-std disc on checkerboard at 0.03
MC_POINTS = 100_000  # noisy points: the mean of max-posterior has a standard error < 0.16 point
CELLS_PER_STD = 5  # grid cells per noise std: the box blur adds 1/300 to the kernel's variance
MAX_CELLS = 1024  # per side, to bound memory; at tiny noise the cells are then wider than std/5
MARGIN_STDS = 6  # the grid extends this many noise stds beyond the noise-free points
SEED = 20240601  # data seed of the reference and Monte Carlo samples (data_seed < 2**32)
CACHE_ENV = "NONLINBENCH_CACHE_DIR"  # overrides the cache folder
CEILINGS_FILE = "ceilings.json"
SPHERES_TAIL = 1e-9  # the threshold is searched between these tail quantiles of the two radii


@dataclass(frozen=True)
class Estimate:
    """The Bayes accuracy and two checks of it, as fractions."""

    accuracy: float  # E[max_k posterior_k(x)] over noisy points: the Bayes accuracy
    plug_in: float  # accuracy of the estimated Bayes rule on the labelled noisy points
    stderr: float  # standard error of `accuracy` over the Monte Carlo points


def estimate(
    dataset: str,
    noise: float,
    *,
    reference_points: int = REFERENCE_POINTS,
    mc_points: int = MC_POINTS,
    seed: int = SEED,
) -> Estimate:
    """Estimate the Bayes-optimal accuracy of a built-in dataset at a noise level (see the module
    docstring). The plug-in accuracy is lower only by how far the estimated rule is from the
    Bayes rule, and by sampling; the two agreeing checks the density estimate."""
    if is_csv(dataset) or is_real(dataset):
        raise ValueError(f"{dataset}: its distribution is unknown, so it has no ceiling")
    if dataset in REGRESSION_DATASETS:
        raise ValueError(f"{dataset}: a regression dataset has no accuracy, so no ceiling")
    if noise <= 0:
        return Estimate(1.0, 1.0, 0.0)  # the built-in shapes are disjoint without noise
    rule = _bayes_rule(dataset, noise, reference_points, seed)
    # 3. posteriors at fresh noisy points
    noisy_x, noisy_y = _points(dataset, mc_points, noise, seed + 1)
    posterior = rule.posterior(noisy_x)  # (classes, points)
    best = posterior.max(0)  # (points,)
    return Estimate(
        accuracy=float(best.mean()),
        plug_in=float((posterior.argmax(0) == noisy_y).mean()),
        stderr=float(best.std(ddof=1) / np.sqrt(len(best))),
    )


@dataclass(frozen=True)
class BayesRule:
    """The estimated class posteriors of a built-in dataset at one noise level: per class,
    prior x density on a grid of cells (steps 1 and 2 of the module docstring)."""

    low: np.ndarray  # (2,) the grid's lower corner
    cell: float  # the side of one grid cell
    density: np.ndarray  # (classes, nx, ny), up to one common factor

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """(classes, points) posteriors at the points ``x`` (points, 2), read by bilinear
        interpolation at the cell centres; uniform where no class has any density."""
        coords = ((np.asarray(x, np.float64) - self.low) / self.cell - 0.5).T  # (2, points)
        at = np.stack([map_coordinates(d, coords, order=1, mode="nearest") for d in self.density])
        total = at.sum(0)
        n_classes = len(self.density)
        return np.where(total > 0, at / np.where(total > 0, total, 1), 1.0 / n_classes)


def _bayes_rule(dataset: str, noise: float, reference_points: int, seed: int) -> BayesRule:
    """Steps 1 and 2: noise-free reference points, counted on a grid per class and smoothed by
    the noise's Gaussian."""
    clean_x, clean_y = _points(dataset, reference_points, 0.0, seed)
    n_classes = int(clean_y.max()) + 1
    low = clean_x.min(0) - MARGIN_STDS * noise
    high = clean_x.max(0) + MARGIN_STDS * noise
    cell = max(noise / CELLS_PER_STD, float((high - low).max()) / MAX_CELLS)
    shape = np.ceil((high - low) / cell).astype(int)
    edges = [low[d] + cell * np.arange(shape[d] + 1) for d in range(2)]
    density = np.stack(
        [
            gaussian_filter(
                np.histogram2d(*clean_x[clean_y == k].T, bins=edges)[0],
                sigma=noise / cell,
                mode="constant",
                truncate=5.0,
            )
            for k in range(n_classes)
        ]
    )
    return BayesRule(low, cell, density)


@functools.cache
def _default_rule(dataset: str, noise: float) -> BayesRule:
    return _bayes_rule(dataset, noise, REFERENCE_POINTS, SEED)


@dataclass(frozen=True)
class SpheresRule:
    """The exact Bayes rule of `spheres` at one noise and dim (see the module docstring)."""

    threshold: float  # radius where the classes' prior x density of r are equal
    accuracy: float  # its expected accuracy, the Bayes accuracy (a fraction)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(points,) classes at x (points, dim): 0 (the outer sphere) beyond the threshold."""
        return np.where(np.linalg.norm(np.asarray(x, np.float64), axis=1) > self.threshold, 0, 1)


@functools.cache
def spheres_rule(noise: float, dim: int = DEFAULT_DIM) -> SpheresRule:
    """The Bayes rule and accuracy of `spheres` at a noise level in `dim` dimensions."""
    outer, inner = SPHERE_RADII
    if noise <= 0:
        return SpheresRule((outer + inner) / 2, 1.0)  # disjoint spheres
    lam_outer, lam_inner = (outer / noise) ** 2, (inner / noise) ** 2

    def accuracy(t: float) -> float:  # the threshold rule's, from the two tails of (r/s)^2
        u = (t / noise) ** 2
        return 0.5 * (stats.ncx2.sf(u, dim, lam_outer) + stats.ncx2.cdf(u, dim, lam_inner))

    # the threshold lies between the inner radius's low tail and the outer's high tail
    low = noise * np.sqrt(stats.ncx2.ppf(SPHERES_TAIL, dim, lam_inner))
    high = noise * np.sqrt(stats.ncx2.isf(SPHERES_TAIL, dim, lam_outer))
    best = optimize.minimize_scalar(
        lambda t: -accuracy(t), bounds=(low, high), method="bounded", options={"xatol": 1e-12}
    )
    return SpheresRule(float(best.x), float(accuracy(best.x)))


@functools.cache
def bayes_on_test(dataset: str, **data_args) -> float:
    """The estimated Bayes rule's accuracy on one run's own test points (a fraction): the
    yardstick on the same test points as the run's test accuracy, beside the distribution's
    expected Bayes accuracy (:func:`ceiling`). A small test set can be easier or harder than
    average; this moves with it. NaN for a CSV, real or regression dataset. ``data_args`` are
    make_dataset's other arguments (bench.schema.DATA_AXES); test labels are never flipped, so
    label noise does not change it."""
    if is_csv(dataset) or is_real(dataset) or dataset in REGRESSION_DATASETS:
        return float("nan")
    data = make_dataset(dataset, **data_args)
    coords = (data.coords_test if data.coords_test is not None else data.X_test).double().numpy()
    y = data.y_test.numpy()
    noise = float(data_args.get("noise", 0.03))
    if noise <= 0:
        return 1.0
    if dataset == DIM_DATASET:
        predicted = spheres_rule(noise, int(data_args.get("dim", DEFAULT_DIM))).predict(coords)
    else:
        predicted = _default_rule(dataset, noise).posterior(coords).argmax(0)
    return float((predicted == y).mean())


def _points(dataset: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points of a built-in dataset from its own generator: X (n, 2) float64, y (n,)."""
    data = make_dataset(dataset, n, noise=noise, data_seed=seed, test_size=0.5, stratify=False)
    x = np.concatenate([data.X_train.numpy(), data.X_test.numpy()]).astype(np.float64)
    y = np.concatenate([data.y_train.numpy(), data.y_test.numpy()])
    return x, y


# -----------------------------------------------------------------------------
# cached values


def ceiling(dataset: str, noise: float, dim: int = DEFAULT_DIM) -> float | None:
    """The best possible test accuracy (fraction) on a built-in dataset at a noise level (and,
    for `spheres`, its dim); None for a CSV, real or regression dataset. Cached in memory and on
    disk (spheres' exact value is computed each time, in milliseconds)."""
    if is_csv(dataset) or is_real(dataset) or dataset in REGRESSION_DATASETS:
        return None
    if dataset == DIM_DATASET:
        return spheres_rule(float(noise), int(dim)).accuracy
    if dim != DEFAULT_DIM:
        raise ValueError(f"dim={dim} on {dataset!r}: only {DIM_DATASET!r} takes dim")
    return _cached(str(dataset), float(noise))


@functools.cache
def _cached(dataset: str, noise: float) -> float:
    key = f"method {METHOD_VERSION}|generator {GENERATOR_VERSION}|{dataset}|{noise!r}"
    return float(stored(CEILINGS_FILE, key, lambda: estimate(dataset, noise).accuracy))


def stored(filename: str, key: str, compute: Callable[[], object]) -> object:
    """The value under `key` in the JSON cache file `filename` (beside `cache_path`), else
    compute() (a JSON value), stored there first. Shared by the yardsticks that take long."""
    values = _read_cache(filename)
    if key in values:
        return values[key]
    value = compute()
    _write_cache({**_read_cache(filename), key: value}, filename)
    return value


def cache_path(filename: str = CEILINGS_FILE) -> Path:
    """$NONLINBENCH_CACHE_DIR/ceilings.json, else the user cache folder's nonlinbench/."""
    folder = os.environ.get(CACHE_ENV) or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "nonlinbench"
    )
    return Path(folder) / filename


def _read_cache(filename: str = CEILINGS_FILE) -> dict:
    try:
        return json.loads(cache_path(filename).read_text())
    except (OSError, ValueError):  # absent, unreadable or damaged: estimate again
        return {}


def _write_cache(values: dict, filename: str = CEILINGS_FILE) -> None:
    """Write atomically (another process may read it meanwhile); a read-only home only costs
    the cache."""
    path = cache_path(filename)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(values, indent=1, sort_keys=True))
        temporary.replace(path)
    except OSError:
        pass


@functools.cache
def chance_accuracy(dataset: str, **data_args) -> float:
    """Chance on one run's test set: the share of its largest class (what always predicting that
    class scores). ``data_args`` are make_dataset's other arguments (bench.schema.DATA_AXES).
    NaN for regression data, which has no classes. Raises bench.data.datasets.DatasetError if the data
    cannot be made (a CSV file no longer there)."""
    data = make_dataset(dataset, **data_args)
    if data.regression:
        return float("nan")
    counts = np.bincount(data.y_test.numpy(), minlength=data.n_classes)
    return float(counts.max() / counts.sum())


@functools.cache
def r2_yardsticks(dataset: str, **data_args) -> tuple[float, float]:
    """A regression run's two yardsticks, as R^2 on its test set (bench.engine.reference.r_squared, the
    engine's test_r2): (best possible, best affine).

    * best possible: the noise-free function (bench.data.generators.REGRESSION_TRUTH) at the test
      inputs, scored against the noisy test targets: what is left is the target's noise, so no
      model does better on average (about 1 - noise^2 / variance of the target). NaN for a CSV
      dataset, whose function is unknown.
    * best affine: the least-squares affine map of the network's inputs (after the feature
      map) fitted on the training set: the best a network without an activation can do (a line
      for one input, a plane for two).

    ``data_args`` are make_dataset's other arguments (bench.schema.DATA_AXES); cached per data
    setting. Raises ValueError for classification data, bench.data.datasets.DatasetError if the data
    cannot be made."""
    data = make_dataset(dataset, **data_args)
    if not data.regression:
        raise ValueError(f"{dataset}: classification data has no R^2 yardsticks")
    y_test = data.y_test.double()
    best = float("nan")
    if dataset in REGRESSION_TRUTH and data.coords_test is not None:
        truth, _ = REGRESSION_TRUTH[dataset]
        clean = truth(data.coords_test.double().numpy())  # (n_test,) noise-free targets
        best = float(r_squared(torch.from_numpy(clean), y_test))

    def affine(X: torch.Tensor) -> torch.Tensor:  # (n, k) -> (n, k + 1): a column of ones
        return torch.cat([X.double(), torch.ones(len(X), 1, dtype=torch.float64)], 1)

    weights = torch.linalg.lstsq(affine(data.X_train), data.y_train.double()[:, None]).solution
    line = float(r_squared((affine(data.X_test) @ weights)[:, 0], y_test))
    return best, line
