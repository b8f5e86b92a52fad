"""Specification of bench/data/references.py: the linear and strong references, each the very
scikit-learn model fitted directly on a run's split, chosen on the training split alone."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as sk
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from bench.data import references
from bench.data.datasets import dataset_fingerprint, make_dataset


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder of the test's own, and an empty memory cache."""
    monkeypatch.setenv("NONLINBENCH_CACHE_DIR", str(tmp_path))
    references._cached.cache_clear()
    yield tmp_path / references.REFERENCES_FILE
    references._cached.cache_clear()


def wine_split(data_seed: int):
    """wine as a run gets it, rebuilt from scikit-learn's pieces: the stratified split of the
    raw table and a StandardScaler fitted on its training rows."""
    X, y = sk.load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=data_seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def test_the_linear_reference_is_logistic_regression_cv_fitted_directly():
    X_train, y_train, X_test, y_test = wine_split(data_seed=3)
    direct = LogisticRegressionCV(
        Cs=references.LOGISTIC_CS,
        cv=StratifiedKFold(references.CV_FOLDS, shuffle=True, random_state=references.CV_SEED),
        scoring="accuracy",
        max_iter=references.LOGISTIC_MAX_ITER,
        **references._LOGISTIC_EXTRA,
    ).fit(X_train, y_train)
    linear = references.linear(make_dataset("wine", data_seed=3))
    assert linear.score == direct.score(X_test, y_test)
    assert linear.model == f"logistic regression (C={float(np.ravel(direct.C_)[0]):.3g})"
    assert 0.9 < linear.cv_score <= 1


def test_the_linear_reference_of_a_regression_is_ridge_cv_scored_by_r2():
    X, y = sk.load_diabetes(return_X_y=True, scaled=False)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=5)
    scaler = StandardScaler().fit(X_train)
    direct = RidgeCV(alphas=references.RIDGE_ALPHAS).fit(scaler.transform(X_train), y_train)
    expected = r2_score(y_test, direct.predict(scaler.transform(X_test)))
    linear = references.linear(make_dataset("diabetes", data_seed=5))
    assert linear.score == pytest.approx(expected, abs=1e-6)  # R^2 ignores the target's scale
    assert linear.model.startswith("ridge regression (alpha=")


def test_the_strong_reference_is_chosen_by_cross_validation_on_the_training_split():
    data = make_dataset("iris", data_seed=0)
    X, y = data.X_train.double().numpy(), data.y_train.numpy()
    with threadpool_limits(1):  # a busy machine's OpenMP threads only wait for each other
        searches = {
            name: GridSearchCV(model, grid, scoring="accuracy", cv=references.folds(data)).fit(X, y)
            for name, model, grid in references._candidates(data, X)
        }
    assert list(searches) == ["RBF SVM", "gradient boosting", "k nearest neighbours"]
    winner = max(searches, key=lambda name: searches[name].best_score_)  # the first on a tie
    strong = references.strong(data)
    assert strong.model.startswith(winner + " (")
    assert strong.cv_score == searches[winner].best_score_
    test_acc = searches[winner].best_estimator_.score(data.X_test.double().numpy(), data.y_test)
    assert strong.score == test_acc  # scored on the test points, which chose nothing


def test_references_by_name_are_cached_in_memory_and_on_disk(cache):
    refs = references.references("iris", data_seed=1)
    assert refs.metric == "accuracy" and 0.8 < refs.linear.score <= 1
    assert refs.strong.reason == "" and 0.8 < refs.strong.score <= 1
    stored = json.loads(cache.read_text())
    (key,) = stored
    assert key.startswith(f"method {references.METHOD_VERSION}|{dataset_fingerprint('iris')}|iris|")
    assert '"data_seed": 1' in key
    # a value on disk is used as it is, without fitting again
    stored[key]["linear"]["score"] = 0.123
    cache.write_text(json.dumps(stored))
    references._cached.cache_clear()
    assert references.references("iris", data_seed=1).linear.score == 0.123
    assert references.references("iris", data_seed=1, noise=0.03).linear.score == 0.123  # default
    assert references.references("iris", data_seed=2).linear.score != 0.123  # another sample


def test_a_csv_dataset_gets_references_too(tmp_path, cache):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    frame = pd.DataFrame(X, columns=["x1", "x2"]).assign(label=(X[:, 0] ** 2 + X[:, 1] > 0.5) * 1)
    frame.to_csv(path := tmp_path / "bowl.csv", index=False)
    refs = references.references(str(path), noise=0.0)
    # a curved boundary: the tuned standard model beats the best line
    assert refs.strong.score > refs.linear.score
    assert dataset_fingerprint(str(path)) in json.loads(cache.read_text()).popitem()[0]


def test_data_beyond_the_size_limit_is_skipped_with_its_reason(monkeypatch):
    monkeypatch.setattr(references, "MAX_TRAIN_CELLS", 1000)
    refs = references.compute("digits")
    for ref in (refs.linear, refs.strong):
        assert math.isnan(ref.score) and ref.model == ""
        assert ref.reason.startswith("skipped: 1,437 training rows x 64 inputs is beyond")


def test_a_class_too_small_to_cross_validate_is_skipped_with_its_reason(tmp_path):
    rows = "".join(f"{i},{i % 2}\n" for i in range(30)) + "100,2\n"  # one point of class 2
    (path := tmp_path / "odd.csv").write_text("x1,label\n" + rows)
    refs = references.compute(str(path), noise=0.0, stratify=False, data_seed=0)
    assert math.isnan(refs.linear.score)
    assert "fewer than 2 training points" in refs.strong.reason
