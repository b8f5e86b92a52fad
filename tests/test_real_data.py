"""Specification of the real datasets (bench/data/real.py) and of the standardisation fitted on
the training rows that they and CSV files get (bench/data/datasets.py, bench/data/csv_files.py)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import datasets as sk
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from bench.data import real
from bench.data.datasets import (
    DatasetError,
    dataset_fingerprint,
    load_data,
    make_dataset,
    n_classes_of,
    validate_dataset_name,
)
from bench.grid.parse import GridError, load_grid, parse_grid
from bench.run.runner import run_grid
from bench.spec import RunSpec

# name: (rows, features, classes), as scikit-learn documents them
SHAPES = {
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2),
    "digits": (1797, 64, 10),
    "diabetes": (442, 10, 0),
}


def split_indices(y: np.ndarray, data_seed: int, test_size=0.2, stratify=True):
    """The rows make_dataset puts in train and test: train_test_split's permutation depends
    only on the number of rows, the labels (when stratified) and the seed."""
    rows = np.arange(len(y))
    return train_test_split(
        rows, test_size=test_size, random_state=data_seed, stratify=y if stratify else None
    )


# --------------------------------------------------------------------------- by name


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_real_dataset_by_name_uses_every_row(name):
    rows, features, classes = SHAPES[name]
    assert real.real_shape(name) == (rows, features, classes)
    validate_dataset_name(name)
    ds = make_dataset(name, data_seed=1)
    assert ds.n_features == features and ds.n_classes == classes == n_classes_of(name)
    assert len(ds.y_train) + len(ds.y_test) == rows
    assert len(ds.y_test) == int(np.ceil(0.2 * rows))  # test_size applies
    assert ds.X_train.dtype == torch.float32
    assert ds.y_train.dtype == (torch.float32 if classes == 0 else torch.int64)
    assert ds.fingerprint == dataset_fingerprint(name)
    assert re.fullmatch(r"real:[0-9a-f]{16}", ds.fingerprint)
    assert load_data(RunSpec(dataset=name, data_seed=1)).X_train.equal(ds.X_train)


def test_the_rows_are_scikit_learns_own_standardised_on_the_training_rows():
    X, y = sk.load_wine(return_X_y=True)
    train, test = split_indices(y, data_seed=7)
    scaler = StandardScaler().fit(X[train])
    ds = make_dataset("wine", data_seed=7)
    assert np.allclose(ds.X_train.numpy(), scaler.transform(X[train]), atol=1e-5)
    assert np.allclose(ds.X_test.numpy(), scaler.transform(X[test]), atol=1e-5)
    assert np.array_equal(ds.y_train.numpy(), y[train])
    assert np.array_equal(ds.y_test.numpy(), y[test])


def test_the_data_seed_draws_a_stratified_split():
    a, b = make_dataset("iris", data_seed=1), make_dataset("iris", data_seed=2)
    assert not torch.equal(a.y_test, b.y_test) or not torch.equal(a.X_test, b.X_test)
    assert make_dataset("iris", data_seed=1).X_train.equal(a.X_train)  # bit-identical
    # 150 irises, 50 per species, 30 held out: 10 of each
    assert torch.bincount(a.y_test).tolist() == [10, 10, 10]
    unstratified = make_dataset("iris", data_seed=1, stratify=False)
    _, test = split_indices(real.load_real("iris")[1], 1, stratify=False)
    assert np.array_equal(unstratified.y_test.numpy(), real.load_real("iris")[1][test])


def test_label_noise_flips_training_labels_only_as_for_the_toys():
    clean, noisy = make_dataset("digits"), make_dataset("digits", label_noise=0.1)
    assert (clean.y_train != noisy.y_train).sum() == round(0.1 * len(clean.y_train))
    assert torch.equal(clean.y_test, noisy.y_test) and torch.equal(clean.X_train, noisy.X_train)


def test_noise_and_n_samples_do_not_apply():
    # the defaults (as a run leaves them) and the truth (every row, no noise) are accepted
    assert make_dataset("iris", n_samples=150, noise=0.0).X_train.equal(
        make_dataset("iris").X_train
    )
    with pytest.raises(DatasetError, match="noise=0.1 on 'iris', a real dataset"):
        make_dataset("iris", noise=0.1)
    with pytest.raises(DatasetError, match="n_samples=500 on 'wine', a real dataset.*178 rows"):
        make_dataset("wine", n_samples=500)
    with pytest.raises(DatasetError, match="label_noise=0.1 on 'diabetes', a regression"):
        make_dataset("diabetes", label_noise=0.1)


def test_the_regression_target_is_standardised_on_the_training_rows_too():
    _, y = sk.load_diabetes(return_X_y=True)
    train, test = split_indices(y, 0, stratify=False)
    ds = make_dataset("diabetes", data_seed=0)
    mean, std = y[train].mean(), y[train].std()
    assert ds.target_scaler.mean == pytest.approx(mean) and ds.target_scaler.scale == pytest.approx(
        std
    )
    assert np.allclose(ds.y_test.numpy(), (y[test] - mean) / std, atol=1e-5)
    assert np.allclose(ds.target_scaler.inverse(ds.y_train.numpy()), y[train], atol=1e-3)


def test_the_fingerprint_hashes_the_loaded_arrays(monkeypatch):
    before = real.real_fingerprint("iris")
    X, y = real.load_real("iris")
    changed = X.copy()
    changed[0, 0] += 0.1  # one measurement differs: another dataset, whatever its version says
    monkeypatch.setattr(real, "load_real", lambda name: (changed, y))
    real.real_fingerprint.cache_clear()
    try:
        assert real.real_fingerprint("iris") != before
    finally:
        real.real_fingerprint.cache_clear()


# --------------------------------------------------------------------------- the scaler


def test_the_scaler_is_fitted_on_the_training_rows_alone():
    X, y = real.load_real("breast_cancer")
    train, _ = split_indices(y, data_seed=4)
    ds = make_dataset("breast_cancer", data_seed=4)
    assert np.allclose(ds.scaler.mean, X[train].mean(0))
    assert np.allclose(ds.scaler.scale, X[train].std(0))
    assert not np.allclose(ds.scaler.mean, X.mean(0))  # the test rows moved nothing


def test_a_feature_constant_on_the_training_rows_is_only_centred():
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    scaler = real.Scaler.fit(train)
    assert scaler.scale.tolist() == [1.0, 1.0] and scaler.mean.tolist() == [2.0, 5.0]
    assert scaler.transform(np.array([[2.0, 7.0]])).tolist() == [[0.0, 2.0]]
    digits = make_dataset("digits")
    assert torch.isfinite(digits.X_train).all() and torch.isfinite(digits.X_test).all()


def write_csv(path, X, y, prefix="x"):
    frame = pd.DataFrame(X, columns=[f"{prefix}{i + 1}" for i in range(X.shape[1])])
    frame["label"] = y
    frame.to_csv(path, index=False)
    return str(path)


def test_changing_only_the_test_rows_of_a_csv_does_not_change_the_scaler(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[5.0, -3.0, 100.0], scale=[2.0, 0.5, 30.0], size=(60, 3))
    y = np.arange(60) % 3
    train, test = split_indices(y, data_seed=9)
    before = make_dataset(write_csv(tmp_path / "a.csv", X, y), data_seed=9, noise=0.0)
    perturbed = X.copy()
    perturbed[test] = perturbed[test] * 10 + 1000  # the test rows, and only they, move far
    after = make_dataset(write_csv(tmp_path / "b.csv", perturbed, y), data_seed=9, noise=0.0)
    assert np.array_equal(before.scaler.mean, after.scaler.mean)
    assert np.array_equal(before.scaler.scale, after.scaler.scale)
    assert np.allclose(before.scaler.mean, X[train].mean(0))
    assert np.allclose(before.scaler.scale, X[train].std(0))
    assert torch.equal(before.X_train, after.X_train)  # the transformed training rows
    assert not torch.allclose(before.X_test, after.X_test)


def test_a_csv_marked_as_scaled_is_used_as_written(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 2)) * 50, np.arange(40) % 2
    ds = make_dataset(write_csv(tmp_path / "z.csv", X, y, prefix="z"), noise=0.0)
    assert ds.scaler is None
    train, _ = split_indices(y, 42)
    assert torch.equal(ds.X_train, torch.from_numpy(X[train]).float())
    # and its noise is the one it always had: drawn for every row before the split
    noisy = make_dataset(str(tmp_path / "z.csv"), noise=0.3)
    jittered = X + np.random.default_rng([42, 2]).normal(scale=0.3, size=X.shape)
    assert torch.equal(noisy.X_train, torch.from_numpy(jittered[train]).float())


def test_noise_on_standardised_csv_features_is_in_their_units(tmp_path):
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(4000, 2)) * [1000.0, 0.001], np.arange(4000) % 2
    path = write_csv(tmp_path / "wide.csv", X, y)
    clean, noisy = make_dataset(path, noise=0.0), make_dataset(path, noise=0.2)
    assert torch.allclose(clean.X_train.std(0), torch.ones(2), atol=0.01)
    jitter = noisy.X_train - clean.X_train
    assert torch.allclose(jitter.std(0), torch.full((2,), 0.2), rtol=0.05)


# --------------------------------------------------------------------------- grids


def test_a_tiny_grid_over_the_five_real_datasets_parses_and_loads(tmp_path):
    path = tmp_path / "real.toml"
    path.write_text(
        'name = "real"\n[grid]\n'
        'dataset = ["Iris", "wine", "breast_cancer", "digits", "diabetes"]\n'
        'activation = "relu"\ndepth = 1\nwidth = 4\nepochs = 5\nseed = [0, 1]\n'
    )
    grid = load_grid(path)
    assert grid.size() == 10 and grid.axes["dataset"] == list(SHAPES)
    for spec in grid.specs():
        data = load_data(spec)
        rows, features, classes = SHAPES[spec.dataset]
        assert (data.n_features, data.n_classes) == (features, classes)
    assert len(set(grid.run_ids())) == 10


@pytest.mark.usefixtures("isolated")
def test_real_datasets_train_and_record_their_classes(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text(
        'name = "real-train"\n[grid]\ndataset = ["iris", "digits", "diabetes"]\n'
        'activation = "relu"\ndepth = 1\nwidth = 4\noptimizer = "adam"\nlr = 0.05\n'
        "epochs = 20\neval_every = 10\n"
    )
    run_grid(load_grid(path), tmp_path / "out", device="cpu", jobs=1, threads=1, quiet=True)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index("dataset")
    assert (runs["error"] == "").all()
    assert runs["n_classes"].to_dict() == {"iris": 3, "digits": 10, "diabetes": 0}
    assert runs.loc["iris", "test_acc"] > 0.5 and np.isfinite(runs.loc["diabetes", "test_r2"])


@pytest.mark.parametrize(
    ("text", "key", "axis"),
    [
        ('[grid]\ndataset = ["circles", "iris"]\nnoise = [0.03, 0.1]', "grid.noise", "noise"),
        ('[grid]\ndataset = "wine"\nn_samples = 500', "grid.n_samples", "n_samples"),
        ('[grid]\nnoise = 0.2\n[[block]]\ndataset = "moons"\n[[block]]\ndataset = "iris"', "grid.noise", "noise"),
        ('[[block]]\ndataset = "moons"\n[[block]]\ndataset = "digits"\nnoise = 0.1', "block[1].noise", "noise"),
    ],
)  # fmt: skip
def test_noise_or_n_samples_reaching_a_real_dataset_is_a_one_line_error(text, key, axis):
    with pytest.raises(GridError, match=rf"key '{re.escape(key)}' value [\d.]+ with dataset") as e:
        parse_grid(f'name = "g"\n{text}', source="g.toml")
    assert f"so {axis} does not apply to it" in str(e.value) and "\n" not in str(e.value)


def test_noise_given_only_to_the_generated_datasets_is_fine():
    grid = parse_grid(
        'name = "g"\n[grid]\nactivation = "relu"\n[[block]]\ndataset = "moons"\n'
        'noise = [0.1, 0.2]\n[[block]]\ndataset = ["iris", "diabetes"]',
        source="g.toml",
    )
    # a real dataset records what it is: all its rows, no noise
    assert sorted((s.dataset, s.noise) for s in grid.specs()) == [
        ("diabetes", 0.0),
        ("iris", 0.0),
        ("moons", 0.1),
        ("moons", 0.2),
    ]
