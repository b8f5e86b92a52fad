"""Datasets for the benchmark: small toy problems, real tables and user-supplied CSV files.

Every dataset is returned as a `Dataset` of float32 features and int64 labels (classification)
or float32 targets (regression, `n_classes` 0), already split into train and test. Everything
is a pure function of the arguments: the same `data_seed` gives bit-identical tensors, so a run
id can name its data by
(name, arguments, `dataset_fingerprint(name)`).

The builtin problems, from easiest to hardest for a small MLP:

    blobs         two Gaussian blobs, linearly separable: the negative control
    circles       scikit-learn's make_circles (inner ring vs outer ring)
    spheres       the circles in `dim` dimensions (two concentric noisy spheres; dim 2: circles)
    moons         scikit-learn's make_moons (two interleaved half circles)
    xor           opposite quadrants share a class
    spirals[K]    K interleaved spiral arms, K classes (plain `spirals` is 3 arms, K in 2..8)
    checkerboard  4x4 board on [-2, 2]^2

and the regression problems (inputs uniform on [-1, 1]^d, `noise` is the target's):

    sine, abs, step     1-D: sin(pi x), 2|x| - 1, sign(x)
    plane, gauss, saddle  2-D: (x1 + x2) / 2 (affine: the control), a bump up and a bump down,
                        x1 * x2

The real datasets scikit-learn ships (iris, wine, breast_cancer, digits; diabetes, a
regression) are used whole, split by `data_seed` and standardised on their training rows: see
bench.data.real. A name ending in `.csv` is read as a file instead, see
`bench.data.csv_files.load_csv` for the format; its features are standardised the same way
unless the file says they are already scaled.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from bench.data import generators, real
from bench.data.csv_files import DatasetError, csv_file, load_csv
from bench.data.features import apply_feature_map
from bench.data.real import REAL_DATASETS, Scaler, is_real
from bench.schema import DATA_AXES

# Bump whenever any builtin generator would produce different numbers for the same arguments:
# it is part of every run id, so old results are never mixed with data they were not trained on.
GENERATOR_VERSION: str = "1"

CLASSIFICATION_DATASETS: tuple[str, ...] = (
    "circles",
    "spheres",
    "moons",
    "xor",
    "spirals",
    "blobs",
    "checkerboard",
)
REGRESSION_DATASETS: tuple[str, ...] = tuple(generators.REGRESSION_TRUTH)
# The generated problems; the real ones are bench.data.real.REAL_DATASETS.
BUILTIN_DATASETS: tuple[str, ...] = CLASSIFICATION_DATASETS + REGRESSION_DATASETS
DIM_DATASET = "spheres"  # the one dataset that takes `dim`, its number of coordinates
DEFAULT_DIM = 2  # every other dataset's (and what make_dataset assumes unless told)

# `spirals` is 3 arms; `spirals2` .. `spirals8` choose the number of arms (= classes) explicitly.
_SPIRALS_RE = re.compile(r"spirals([2-8])?")
_DEFAULT_SPIRAL_ARMS = 3
_SPIRAL_VARIANTS: tuple[str, ...] = tuple(f"spirals{k}" for k in range(2, 9))


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors field by field is ambiguous
class Dataset:
    name: str
    X_train: torch.Tensor = field(repr=False)  # (n_train, n_features) float32
    # (n_train,) int64 classes 0..n_classes-1, or float32 targets for regression
    y_train: torch.Tensor = field(repr=False)
    X_test: torch.Tensor = field(repr=False)  # (n_test, n_features) float32
    y_test: torch.Tensor = field(repr=False)  # (n_test,) like y_train, never label-noised
    n_classes: int  # 0 for regression
    # What the data was made from (`dataset_fingerprint`): a CSV file's hash is taken from the
    # very bytes that were parsed, so a run can check it trains on what its id names.
    fingerprint: str = ""
    # The inputs are a feature map (bench.data.features) of these coordinates, on which grid
    # measures and decision surfaces are drawn; for "raw" they are the inputs themselves.
    feature_map: str = "raw"
    coords_train: torch.Tensor | None = field(default=None, repr=False)  # (n_train, d) float32
    coords_test: torch.Tensor | None = field(default=None, repr=False)  # (n_test, d) float32
    # The standardisation the coordinates went through (fitted on the training rows; real data
    # and CSV files not marked as scaled), and a real regression target's; None: as generated.
    scaler: Scaler | None = field(default=None, repr=False)
    target_scaler: Scaler | None = field(default=None, repr=False)

    @property
    def regression(self) -> bool:
        return self.n_classes == 0

    @property
    def n_features(self) -> int:
        """The network's inputs (after the feature map)."""
        return self.X_train.shape[1]

    @property
    def n_coords(self) -> int:
        """The data's own coordinates (before the feature map)."""
        return self.coords_train.shape[1] if self.coords_train is not None else self.n_features


# -----------------------------------------------------------------------------
# names


def is_csv(name: str) -> bool:
    """True when `name` is a path to a CSV file rather than a builtin dataset name."""
    return isinstance(name, str) and name.lower().endswith(".csv")


def _spiral_arms(name: str) -> int | None:
    """Number of arms for a `spirals`/`spiralsK` name, None for any other name."""
    m = _SPIRALS_RE.fullmatch(name)
    if m is None:
        return None
    return int(m.group(1)) if m.group(1) else _DEFAULT_SPIRAL_ARMS


def validate_dataset_name(name: str) -> None:
    """Raise DatasetError unless `name` is a builtin or real dataset, `spirals2`..`spirals8`, or an
    existing `.csv` file. Only the file's existence is checked here: its contents are checked on
    load."""
    if not isinstance(name, str):
        raise DatasetError(f"dataset name must be a string, got {type(name).__name__} {name!r}")
    if is_csv(name):
        if not Path(csv_file(name)).is_file():
            raise DatasetError(
                f"dataset file {csv_file(name)!r} not found (relative to {Path.cwd()})"
            )
        return
    if name in BUILTIN_DATASETS or is_real(name) or _spiral_arms(name) is not None:
        return
    known = list(BUILTIN_DATASETS) + list(REAL_DATASETS) + list(_SPIRAL_VARIANTS)
    msg = (
        f"unknown dataset {name!r}; allowed: {', '.join(BUILTIN_DATASETS)}, "
        f"spirals2..spirals8 (number of arms), the real datasets {', '.join(REAL_DATASETS)}, "
        "or a path ending in .csv"
    )
    close = difflib.get_close_matches(name, known, n=3)
    if close:
        msg += f". Did you mean {' or '.join(repr(c) for c in close)}?"
    raise DatasetError(msg)


def n_classes_of(name: str) -> int:
    """Number of classes of a dataset without generating it (a CSV file is read for its labels);
    0 for a regression dataset."""
    validate_dataset_name(name)
    if is_csv(name) or is_real(name):
        y = load_csv(name).y if is_csv(name) else real.load_real(name)[1]
        return 0 if y.dtype.kind == "f" else int(y.max()) + 1
    if name in REGRESSION_DATASETS:
        return 0
    arms = _spiral_arms(name)
    return arms if arms is not None else 2


def dataset_fingerprint(name: str) -> str:
    """What identifies the data behind a name: builtins are fixed by the generator code, so their
    fingerprint is GENERATOR_VERSION; a CSV file is identified by its bytes ("csv:" + 16 hex of
    sha256, bench.data.csv_files.csv_fingerprint), so editing the file changes the run ids
    trained on it; a real dataset by its loaded arrays (bench.data.real.real_fingerprint)."""
    validate_dataset_name(name)
    if is_csv(name):
        return load_csv(name).fingerprint
    if is_real(name):
        return real.real_fingerprint(name)
    return GENERATOR_VERSION


# -----------------------------------------------------------------------------
# the public entry point


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_args(
    name: str, n_samples: int, noise: float, label_noise: float, data_seed: int,
    test_size: float, dim: int,
) -> None:  # fmt: skip
    if not _is_int(n_samples):
        raise DatasetError(f"n_samples must be an integer, got {n_samples!r}")
    if not (isinstance(noise, numbers.Real) and math.isfinite(noise) and noise >= 0):
        raise DatasetError(f"noise must be a finite number >= 0 (a std dev), got {noise!r}")
    if not (isinstance(label_noise, numbers.Real) and 0 <= label_noise < 1):
        raise DatasetError(f"label_noise must be a fraction in [0, 1), got {label_noise!r}")
    if not (isinstance(test_size, numbers.Real) and 0 < test_size < 1):
        raise DatasetError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    if not (_is_int(data_seed) and 0 <= data_seed < 2**32):
        raise DatasetError(f"data_seed must be an integer in [0, 2**32), got {data_seed!r}")
    if not (_is_int(dim) and dim >= 1):
        raise DatasetError(f"dim must be an integer >= 1 (coordinates), got {dim!r}")
    if dim != DEFAULT_DIM and name != DIM_DATASET:
        raise DatasetError(
            f"dim={dim} on {name!r}: only {DIM_DATASET!r} takes dim (its number of "
            f"coordinates); every other dataset has its own: leave dim at {DEFAULT_DIM}"
        )
    if is_real(name):
        real.check_unset(name, n_samples, noise)


def _flip_labels(y: np.ndarray, n_classes: int, fraction: float, data_seed: int) -> np.ndarray:
    """Return a copy of y (n,) with round(fraction * n) labels, chosen at random, each changed to a
    different class chosen uniformly at random."""
    # a generator of its own (not the data generator's), so turning label noise on or off changes
    # only the flipped labels and nothing else
    rng = np.random.default_rng([data_seed, 1])
    n_flip = round(fraction * len(y))
    idx = rng.choice(len(y), size=n_flip, replace=False)
    y = y.copy()
    # adding 1..k-1 modulo k always lands on another class, each equally likely
    y[idx] = (y[idx] + rng.integers(1, n_classes, size=n_flip)) % n_classes
    return y


def _generated(name: str, n_samples: int, noise: float, data_seed: int, dim: int) -> tuple:
    """A builtin generator's X (n, d) float64 and y (n,), its noise included."""
    if name in REGRESSION_DATASETS:
        if n_samples < 4:
            raise DatasetError(f"n_samples={n_samples} is too small for {name!r}: need >= 4")
        return generators.REGRESSION_BY_NAME[name](n_samples, noise, data_seed)
    arms = _spiral_arms(name)
    n_classes = arms if arms is not None else 2
    if n_samples < 2 * n_classes:
        raise DatasetError(
            f"n_samples={n_samples} is too small for {name!r}: need at least 2 per class, "
            f"i.e. n_samples >= {2 * n_classes}"
        )
    if arms is not None:
        return generators.spirals(n_samples, noise, data_seed, arms)
    if name == DIM_DATASET:
        return generators.spheres(n_samples, noise, data_seed, dim)
    return generators.BY_NAME[name](n_samples, noise, data_seed)


def make_dataset(
    name: str,
    n_samples: int = real.UNSET_SAMPLES,
    noise: float = real.UNSET_NOISE,
    label_noise: float = 0.0,
    data_seed: int = 42,
    test_size: float = 0.2,
    stratify: bool = True,
    features: str = "raw",
    dim: int = DEFAULT_DIM,
) -> Dataset:
    """Generate (or load) a dataset and split it into train and test.

    Args:
        name: a builtin name (see BUILTIN_DATASETS; also `spirals2`..`spirals8`), a real dataset
            (bench.data.real.REAL_DATASETS) or a path to a `.csv` file, relative to the working
            directory or absolute (or a CsvName, as a grid gives it: its name as written,
            carrying its path).
        n_samples: total number of points before the split, at least 2 per class. Ignored for CSV
            files, which always use every row; a real dataset takes only the default or its row
            count (it uses every row).
        noise: standard deviation of Gaussian noise added to every coordinate (scikit-learn's
            meaning), or to the target of a regression dataset. For CSV files too: noise=0
            uses the file's values as they are (grids give CSV datasets 0 unless they ask), and
            on standardised features it is in their units (training std 1). A real dataset
            takes none: only the default or 0.
        label_noise: fraction in [0, 1) of the TRAINING labels (after the split) changed to a
            different class chosen at random. Test labels are never flipped, so test accuracy
            measures how well the true function was learned, not how well the noise was memorised.
            label_noise=0 gives data bit-identical to not flipping at all.
        data_seed: seeds the generator, the split and the label flips; same seed, same tensors.
        test_size: fraction in (0, 1) of the points held out for testing.
        stratify: keep the class proportions equal in train and test.
        features: a feature map (bench.data.features) applied to the coordinates after the split;
            `coords_train`/`coords_test` keep the coordinates themselves.
        dim: the number of coordinates of `spheres`; every other dataset takes only 2 (the default).

    Real datasets, and CSV files whose features are not marked as scaled, are standardised
    after the split with the training rows' mean and std (`Dataset.scaler`).

    With stratify=False, `make_dataset("circles", 1000, 0.03, data_seed=42, test_size=0.2)` gives
    exactly the tensors of the original notebook (make_circles, then train_test_split).
    """
    validate_dataset_name(name)
    _check_args(name, n_samples, noise, label_noise, data_seed, test_size, dim)
    n_samples, data_seed = int(n_samples), int(data_seed)

    # 1. the clean data: X (n, d) float64, y (n,) int64 (or float64 targets for regression),
    # and for a CSV file unit Gaussian draws `unit` (n, d) or (n,), scaled by `noise` after the
    # split: on the coordinates of a classification file, on the target of a regression file
    fingerprint, standardise, unit = GENERATOR_VERSION, False, None
    if is_csv(name):
        X, y, fingerprint, standardise = load_csv(name)
        unit = np.random.default_rng([data_seed, 2]).normal(
            size=(y if y.dtype.kind == "f" else X).shape
        )
    elif is_real(name):
        (X, y), fingerprint, standardise = real.load_real(name), real.real_fingerprint(name), True
    else:
        X, y = _generated(name, n_samples, noise, data_seed, dim)
    regression = y.dtype.kind == "f"
    n_classes = 0 if regression else int(y.max()) + 1
    if regression and label_noise > 0:
        raise DatasetError(
            f"label_noise={label_noise} on {name!r}, a regression dataset: label noise flips "
            "classes; for a regression target use noise (the target's std)"
        )

    # 2. the split. Done on float64 numpy arrays and cast afterwards: train_test_split draws the
    # same permutation whatever the array type (and however many arrays it splits), and casting
    # is elementwise, so this matches the notebook, which cast to float32 torch tensors first
    # and then split. A regression target has no classes to stratify by.
    arrays = (X, y) if unit is None else (X, y, unit)
    try:
        parts = train_test_split(
            *arrays,
            test_size=test_size,
            random_state=data_seed,
            stratify=y if stratify and not regression else None,
        )
    except ValueError as e:  # e.g. too few samples for a stratified split over every class
        raise DatasetError(
            f"cannot split {name!r} ({len(y)} samples, {n_classes} classes, "
            f"test_size={test_size}, stratify={stratify}): {e}"
        ) from None
    X_train, X_test, y_train, y_test = parts[:4]

    # 3. standardisation fitted on the training rows alone, applied to both splits
    scaler = Scaler.fit(X_train) if standardise else None
    target_scaler = Scaler.fit(y_train) if standardise and regression and is_real(name) else None
    if scaler is not None:
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if target_scaler is not None:
        y_train, y_test = target_scaler.transform(y_train), target_scaler.transform(y_test)

    # 4. a CSV file's noise, skipped at 0 so that the file's values come through exactly
    if unit is not None and noise > 0:
        unit_train, unit_test = parts[4:]
        if regression:
            y_train, y_test = y_train + noise * unit_train, y_test + noise * unit_test
        else:
            X_train, X_test = X_train + noise * unit_train, X_test + noise * unit_test

    # 5. label noise on the training labels only
    if label_noise > 0:
        y_train = _flip_labels(y_train, n_classes, label_noise, data_seed)

    # 6. the network's inputs: the coordinates through the feature map (in float64, then cast)
    coords_train, coords_test = torch.from_numpy(X_train), torch.from_numpy(X_test)
    return Dataset(
        name=name,
        X_train=apply_feature_map(features, coords_train).float(),  # (n_train, k) float32
        y_train=_targets(y_train, regression),  # (n_train,)
        X_test=apply_feature_map(features, coords_test).float(),  # (n_test, k) float32
        y_test=_targets(y_test, regression),  # (n_test,)
        n_classes=n_classes,
        fingerprint=fingerprint,
        feature_map=features,
        coords_train=coords_train.float(),  # (n_train, d) float32
        coords_test=coords_test.float(),  # (n_test, d) float32
        scaler=scaler,
        target_scaler=target_scaler,
    )


def _targets(y: np.ndarray, regression: bool) -> torch.Tensor:
    """int64 class labels, or float32 regression targets."""
    return torch.from_numpy(y).float() if regression else torch.from_numpy(y).long()


# -----------------------------------------------------------------------------
# a run's data


def data_key(spec) -> tuple:
    """What identifies a run's data: its values of `bench.schema.DATA_AXES`."""
    return tuple(getattr(spec, axis) for axis in DATA_AXES)


def load_data(spec) -> Dataset:
    """The dataset a run (a `bench.spec.RunSpec`) trains and is tested on."""
    arguments = {axis: getattr(spec, axis) for axis in DATA_AXES}
    return make_dataset(arguments.pop("dataset"), **arguments)
