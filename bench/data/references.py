"""Yardsticks where no Bayes rule is known: a linear reference and a strong reference.

A real or CSV dataset has no known distribution, so no best possible accuracy
(bench.data.ceiling). What a network scores there reads instead beside two standard models,
trained and scored on exactly the data a run with the same data arguments gets (make_dataset:
the same split, the same standardisation fitted on the training rows, the same feature map:
the network's very inputs), one data sample (`data_seed`) at a time:

* **The linear reference** (`linear`): logistic regression (classification; L2, multinomial
  for more than two classes) or ridge regression, its regularisation chosen by
  cross-validation on the training split alone (LogisticRegressionCV over LOGISTIC_CS values
  of C, CV_FOLDS stratified folds, by accuracy; RidgeCV over RIDGE_ALPHAS, by its
  leave-one-out error), scored on the test points: accuracy, or R^2 (bench.stats.r_squared,
  the engine's test_r2).
* **The strong reference (a tuned standard model)** (`strong`): the best of an RBF support
  vector machine, histogram gradient boosting and k nearest neighbours, each tuned by a small
  grid search (GridSearchCV over the grids in `_candidates`, the same CV_FOLDS folds, fixed
  random_state) on the training split alone. The model is chosen by its mean cross-validated
  score on the training split, never by a test score; the winner, refitted on the whole
  training split, is scored on the test points. Its name says which won.

Neither is "the best possible": a tuned standard model is what a careful practitioner gets
without a neural network, and a network can beat it.

Both are computed for any dataset (a toy too), but not above MAX_TRAIN_ROWS training rows or
MAX_TRAIN_CELLS training rows x inputs, where the kernel machine's cost grows past a few
seconds: those get NaN and the reason. A training split with a class of fewer than two points
cannot be cross-validated by class, and is skipped the same way. Results are cached in memory and
on disk (bench.data.ceiling.stored, file REFERENCES_FILE), keyed by METHOD_VERSION, the
dataset's fingerprint (bench.data.datasets.dataset_fingerprint) and the data arguments.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from threadpoolctl import threadpool_limits

from bench.data.ceiling import _read_cache, _write_cache, stored
from bench.data.datasets import Dataset, dataset_fingerprint, make_dataset
from bench.stats import r_squared

METHOD_VERSION = "1"  # bump when the models, grids or folds below change: recomputes the cache
REFERENCES_FILE = "references.json"  # beside the ceilings (bench.data.ceiling.cache_path)
CV_FOLDS = 5  # folds of every cross-validation, shuffled with CV_SEED (fewer on tiny data)
CV_SEED = 0  # the folds' shuffle and every model's random_state
LOGISTIC_CS = 10  # values of C, log-spaced over [1e-4, 1e4] (LogisticRegressionCV's own grid)
LOGISTIC_MAX_ITER = 2000  # lbfgs iterations: enough for the weakest regularisation on digits
RIDGE_ALPHAS = tuple(np.logspace(-3, 3, 13))  # ridge penalties, each checked by leave-one-out
MAX_TRAIN_ROWS = 20_000  # beyond this the kernel machine's O(n^2) cost takes minutes
MAX_TRAIN_CELLS = 1_000_000  # training rows x inputs: digits (1,437 x 64) is 92,000

# Newer scikit-learn deprecates `penalty` for `l1_ratios` (0: L2) and reshapes some attributes.
_LOGISTIC = inspect.signature(LogisticRegressionCV).parameters
_LOGISTIC_EXTRA = (
    {"l1_ratios": (0.0,), "use_legacy_attributes": False}
    if _LOGISTIC["penalty"].default == "deprecated" and "use_legacy_attributes" in _LOGISTIC
    else {}
)


@dataclass(frozen=True)
class Reference:
    """One reference model's test score on one data sample."""

    score: float  # test accuracy (classification) or test R^2 (regression); NaN when skipped
    model: str  # what scored it, e.g. "logistic regression (C=2.78)", "" when skipped
    cv_score: float = math.nan  # its mean cross-validated score on the training split
    reason: str = ""  # why it was skipped; "" when it was computed


@dataclass(frozen=True)
class References:
    """The two yardsticks of one data sample."""

    metric: str  # "accuracy" or "r2"
    linear: Reference  # the linear reference
    strong: Reference  # the strong reference (a tuned standard model)


_MAKE_DATASET = inspect.signature(make_dataset)


def references(dataset: str, **data_args) -> References:
    """The linear and strong references of one data sample: ``data_args`` are make_dataset's
    other arguments (bench.schema.DATA_AXES). Cached in memory and on disk. Raises
    bench.data.datasets.DatasetError if the data cannot be made."""
    key, args = _key(dataset, data_args)
    return _cached(key, dataset, args)


def _key(dataset: str, data_args: dict) -> tuple[str, tuple]:
    """The cache key of one data sample and its arguments, every default filled in: one key
    per data sample however it is asked for."""
    bound = _MAKE_DATASET.bind(dataset, **data_args)
    bound.apply_defaults()
    data_args = {k: v for k, v in bound.arguments.items() if k != "name"}
    args = json.dumps(data_args, sort_keys=True, default=str)
    key = f"method {METHOD_VERSION}|{dataset_fingerprint(dataset)}|{dataset}|{args}"
    return key, tuple(sorted(data_args.items()))


def prefetch(requests: list[tuple[str, dict]], jobs: int | None = None) -> None:
    """Compute the references of the data samples in ``requests`` ((dataset, data_args) pairs)
    that the disk cache lacks, in ``jobs`` processes at once (default: one per core), and store
    them in one write from this process (the cache file keeps one writer). Each fit runs on
    one thread (`one_thread`), so the processes share the cores instead of fighting over them."""
    missing, seen = [], set()
    have = _read_cache(REFERENCES_FILE)
    for dataset, data_args in requests:
        key, args = _key(dataset, data_args)
        if key not in have and key not in seen:
            seen.add(key)
            missing.append((key, dataset, args))
    if len(missing) < 2:
        return
    jobs = min(len(missing), jobs or os.cpu_count() or 1)
    values = Parallel(n_jobs=jobs)(
        delayed(_compute_json)(dataset, dict(args)) for _, dataset, args in missing
    )
    found = dict(zip((key for key, _, _ in missing), values, strict=True))
    _write_cache({**_read_cache(REFERENCES_FILE), **found}, REFERENCES_FILE)


def _compute_json(dataset: str, data_args: dict) -> dict:
    return _as_json(compute(dataset, **data_args))


@functools.cache
def _cached(key: str, dataset: str, data_args: tuple) -> References:
    value = stored(REFERENCES_FILE, key, lambda: _as_json(compute(dataset, **dict(data_args))))
    return References(value["metric"], Reference(**value["linear"]), Reference(**value["strong"]))


def _as_json(refs: References) -> dict:
    return {"metric": refs.metric, "linear": asdict(refs.linear), "strong": asdict(refs.strong)}


def compute(dataset: str, **data_args) -> References:
    """Both references, without the cache."""
    data = make_dataset(dataset, **data_args)
    metric = "r2" if data.regression else "accuracy"
    reason = skip_reason(data)
    if reason:
        skipped = Reference(math.nan, "", reason=reason)
        return References(metric, skipped, skipped)
    return References(metric, linear(data), strong(data))


def skip_reason(data: Dataset) -> str:
    """Why the references are not computed for this data, or "" when they are."""
    n, d = data.X_train.shape
    if n > MAX_TRAIN_ROWS or n * d > MAX_TRAIN_CELLS:
        return (
            f"skipped: {n:,} training rows x {d} inputs is beyond the references' limit "
            f"({MAX_TRAIN_ROWS:,} rows, {MAX_TRAIN_CELLS:,} rows x inputs)"
        )
    if not data.regression and np.bincount(data.y_train.numpy()).min() < 2:
        return "skipped: a class has fewer than 2 training points, too few to cross-validate"
    return ""


def folds(data: Dataset):
    """The cross-validation folds of the training split: stratified for classification."""
    n_train = len(data.y_train)
    if data.regression:
        return KFold(min(CV_FOLDS, n_train), shuffle=True, random_state=CV_SEED)
    smallest = int(np.bincount(data.y_train.numpy()).min())
    return StratifiedKFold(min(CV_FOLDS, smallest), shuffle=True, random_state=CV_SEED)


def _arrays(data: Dataset) -> tuple[np.ndarray, ...]:
    """X_train (n, k) float64, y_train, X_test, y_test: the network's own inputs and targets."""
    return (
        data.X_train.double().numpy(),
        data.y_train.numpy(),
        data.X_test.double().numpy(),
        data.y_test.numpy(),
    )


def _test_score(model, X_test: np.ndarray, y_test: np.ndarray, regression: bool) -> float:
    predicted = model.predict(X_test)
    if regression:
        return float(r_squared(predicted.astype(np.float64), y_test.astype(np.float64)))
    return float((predicted == y_test).mean())


# One thread: these small fits gain nothing from more, and on a busy machine BLAS's and
# OpenMP's threads only wait for each other (digits' logistic fit: 0.2 s instead of 5 s, its
# boosting search 5 s instead of minutes).
def one_thread(fit: Callable) -> Callable:
    @functools.wraps(fit)
    def limited(*args, **kwargs):
        with threadpool_limits(1):
            return fit(*args, **kwargs)

    return limited


@one_thread
def linear(data: Dataset) -> Reference:
    """The linear reference of one data sample (see the module docstring)."""
    X, y, X_test, y_test = _arrays(data)
    if data.regression:
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit(X, y)
        # RidgeCV's best_score_ is minus the leave-one-out mean squared error
        cv = 1 + float(model.best_score_) / float(np.var(y))
        name = f"ridge regression (alpha={float(model.alpha_):.3g})"
    else:
        model = LogisticRegressionCV(
            Cs=LOGISTIC_CS,
            cv=folds(data),
            scoring="accuracy",
            max_iter=LOGISTIC_MAX_ITER,
            random_state=CV_SEED,
            **_LOGISTIC_EXTRA,
        ).fit(X, y)
        C = float(np.ravel(model.C_)[0])
        cv = float(np.max(np.mean(_fold_scores(model), axis=0)))
        name = f"logistic regression (C={C:.3g})"
    return Reference(_test_score(model, X_test, y_test, data.regression), name, cv)


def _fold_scores(model: LogisticRegressionCV) -> np.ndarray:
    """(folds, Cs) cross-validated accuracies, whichever attribute layout the version has."""
    scores = model.scores_
    if isinstance(scores, dict):  # the legacy layout: one (folds, Cs) array per class
        return next(iter(scores.values())).reshape(-1, LOGISTIC_CS)
    return np.asarray(scores).reshape(-1, LOGISTIC_CS)


def _candidates(data: Dataset, X: np.ndarray) -> list[tuple[str, object, dict]]:
    """(name, estimator, grid) of the strong reference's three models; the RBF width is
    searched around scikit-learn's "scale" (1 / (inputs x the inputs' variance))."""
    scale = 1.0 / (X.shape[1] * max(float(X.var()), 1e-12))
    gammas = [scale / 10, scale, scale * 10]
    smallest_fold = len(X) - math.ceil(len(X) / folds(data).get_n_splits())  # its training rows
    neighbours = [k for k in (1, 3, 5, 9, 15, 25) if k <= smallest_fold]
    boosting = {
        "max_iter": 200,
        "early_stopping": True,  # on a tenth of each fold's training rows
        "random_state": CV_SEED,
    }
    if data.regression:  # the SVR is tuned on a standardised target (R^2 does not change)
        svr = TransformedTargetRegressor(regressor=SVR(), transformer=StandardScaler())
        return [
            ("RBF SVM", svr, {"regressor__C": [0.1, 1, 10, 100], "regressor__gamma": gammas}),
            ("gradient boosting", HistGradientBoostingRegressor(**boosting), _BOOSTING_GRID),
            ("k nearest neighbours", KNeighborsRegressor(), _knn_grid(neighbours)),
        ]
    return [
        ("RBF SVM", SVC(), {"C": [0.1, 1, 10, 100], "gamma": gammas}),
        ("gradient boosting", HistGradientBoostingClassifier(**boosting), _BOOSTING_GRID),
        ("k nearest neighbours", KNeighborsClassifier(), _knn_grid(neighbours)),
    ]


# early stopping sets the number of trees; a slower rate with more trees is the costly half
_BOOSTING_GRID = {"learning_rate": [0.1, 0.3], "max_leaf_nodes": [15]}


def _knn_grid(neighbours: list[int]) -> dict:
    return {"n_neighbors": neighbours, "weights": ["uniform", "distance"]}


@one_thread
def strong(data: Dataset) -> Reference:
    """The strong reference (a tuned standard model) of one data sample: the model of best
    cross-validated score on the training split, scored on the test points."""
    X, y, X_test, y_test = _arrays(data)
    scoring = "r2" if data.regression else "accuracy"
    best = None
    for name, estimator, grid in _candidates(data, X):
        search = GridSearchCV(estimator, grid, scoring=scoring, cv=folds(data), n_jobs=1)
        search.fit(X, y)
        if best is None or search.best_score_ > best[1].best_score_:  # ties: the earlier
            best = (name, search)
    name, search = best
    params = ", ".join(f"{k.split('__')[-1]}={_short(v)}" for k, v in search.best_params_.items())
    return Reference(
        _test_score(search.best_estimator_, X_test, y_test, data.regression),
        f"{name} ({params})",
        float(search.best_score_),
    )


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
