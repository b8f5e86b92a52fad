"""Real datasets by name: the small tables scikit-learn ships inside its package (never a
download), and the standardisation fitted on a training split that they and CSV files get.

    iris           150 flowers, 4 measurements (cm), 3 species
    wine           178 wines, 13 chemical measurements, 3 cultivars
    breast_cancer  569 tumours, 30 features of their cell nuclei, malignant (0) or benign (1)
    digits         1,797 handwritten digits, 8x8 grey levels 0..16 (64 features), 10 classes
    diabetes       442 patients, 10 baseline measurements (age, sex, BMI, blood pressure and six
                   blood serum values, unscaled); the target is disease progression a year
                   later: regression

How they become a run's data (bench.data.datasets.make_dataset):

* **Every row, as measured.** `n_samples` and `noise` do not apply: a run uses all the rows and
  adds no noise. make_dataset takes only their defaults (or the row count and 0) and says so
  otherwise (`check_unset`); a grid that gives either to a real dataset is refused
  (bench.grid.parse).
  `label_noise` flips training labels as for the toys (not on diabetes, a regression).
* **The split** is the toys': `data_seed` draws it, `test_size` sets its size, and it is
  stratified by class unless the grid turns `stratify` off.
* **Standardisation on the training rows only** (`Scaler`): each feature is centred and
  divided by the mean and standard deviation of the *training* rows, and the same map is
  applied to the test rows, so nothing about the test points reaches training. A feature that
  is constant on the training rows (digits' corner pixels) is only centred. diabetes' target is
  standardised the same way (its R^2 does not change; the networks start at unit scale).
  CSV files get the same treatment of their features unless they say they are already scaled
  (bench.data.csv_files).
* **The fingerprint** in every run id (`real_fingerprint`) hashes the loaded arrays themselves
  and PREPARATION_VERSION, so a scikit-learn release that changed a table changes the run ids.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn import datasets as sk

from bench.data.csv_files import DatasetError
from bench.spec import DEFAULTS

# Bump when the preparation above (split, standardisation) changes for the same tables: it is
# part of every real dataset's fingerprint, so old results are never mixed with new data.
PREPARATION_VERSION = "1"

_LOADERS: dict[str, Callable] = {
    "iris": sk.load_iris,
    "wine": sk.load_wine,
    "breast_cancer": sk.load_breast_cancer,
    "digits": sk.load_digits,
    # scaled=False: the raw measurements; scikit-learn's scaled copy is scaled on all the rows
    "diabetes": functools.partial(sk.load_diabetes, scaled=False),
}
REAL_CLASSIFICATION: tuple[str, ...] = ("iris", "wine", "breast_cancer", "digits")
REAL_REGRESSION: tuple[str, ...] = ("diabetes",)
REAL_DATASETS: tuple[str, ...] = REAL_CLASSIFICATION + REAL_REGRESSION
# n_samples and noise as a run leaves them unset (RunSpec's defaults): what a real dataset takes
# besides its row count and 0
UNSET_SAMPLES, UNSET_NOISE = DEFAULTS["n_samples"], DEFAULTS["noise"]


def is_real(name: object) -> bool:
    """True for the name of a real dataset (exactly as listed: the grid lower-cases names)."""
    return isinstance(name, str) and name in REAL_DATASETS


@functools.cache
def load_real(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A real dataset as scikit-learn ships it: X (n, d) float64 and y (n,), int64 classes
    0..k-1 or a float64 target. Read once per process; the arrays are read-only."""
    if not is_real(name):
        raise ValueError(f"unknown real dataset {name!r}; allowed: {', '.join(REAL_DATASETS)}")
    X, y = _LOADERS[name](return_X_y=True)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64 if name in REAL_REGRESSION else np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def check_unset(name: str, n_samples: int, noise: float) -> None:
    """DatasetError unless n_samples and noise are unset (the defaults), or the row count and 0."""
    rows = len(load_real(name)[0])
    for key, value, allowed in (("n_samples", n_samples, (UNSET_SAMPLES, rows)),
                                ("noise", noise, (UNSET_NOISE, 0))):  # fmt: skip
        if value not in allowed:
            raise DatasetError(
                f"{key}={value!r} on {name!r}, a real dataset: it uses all its {rows} rows as "
                f"measured, without noise; leave {key} unset (its default {allowed[0]!r}) or give "
                f"{allowed[1]!r}"
            )


def real_shape(name: str) -> tuple[int, int, int]:
    """(rows, features, classes) of a real dataset; classes 0 for a regression."""
    X, y = load_real(name)
    return X.shape[0], X.shape[1], 0 if y.dtype.kind == "f" else int(y.max()) + 1


@functools.cache
def real_fingerprint(name: str) -> str:
    """ "real:" + 16 hex of the sha256 of PREPARATION_VERSION, the name and the loaded arrays
    (shape, dtype and bytes): what identifies a real dataset's data in a run id."""
    X, y = load_real(name)
    digest = hashlib.sha256(f"{PREPARATION_VERSION}|{name}|{X.shape}|{y.dtype}|".encode())
    digest.update(X.astype("<f8").tobytes())
    digest.update(y.astype("<f8" if y.dtype.kind == "f" else "<i8").tobytes())
    return "real:" + digest.hexdigest()[:16]


# -----------------------------------------------------------------------------
# standardisation fitted on the training rows


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one bool
class Scaler:
    """x -> (x - mean) / scale per column, with mean and scale the training rows' own."""

    mean: np.ndarray = field(repr=False)  # (d,) mean of each column over the training rows
    # (d,) standard deviation (ddof 0, as StandardScaler) over the training rows; 1 for a
    # column constant on them, which is then only centred
    scale: np.ndarray = field(repr=False)

    @classmethod
    def fit(cls, train: np.ndarray) -> Scaler:
        """Fitted on the training rows train (n, d), or a target (n,), alone."""
        train = np.asarray(train, dtype=np.float64)
        constant = np.ptp(train, axis=0) == 0  # exactly: a rounding-level std would blow up
        return cls(train.mean(axis=0), np.where(constant, 1.0, train.std(axis=0)))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """x (n, d) (or (n,) for a target) in the training rows' units, float64."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Back to the data's own units: the inverse of `transform`."""
        return np.asarray(z, dtype=np.float64) * self.scale + self.mean
