"""Specification of bench/data/datasets.py: what every dataset guarantees, and how bad input is reported."""

import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_circles
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from bench.data.datasets import (
    BUILTIN_DATASETS,
    CLASSIFICATION_DATASETS,
    GENERATOR_VERSION,
    REGRESSION_DATASETS,
    Dataset,
    DatasetError,
    dataset_fingerprint,
    is_csv,
    make_dataset,
    n_classes_of,
    validate_dataset_name,
)

ALL_BUILTINS = [*CLASSIFICATION_DATASETS, "spirals4"]


def _all_labels(ds: Dataset) -> torch.Tensor:
    return torch.cat([ds.y_train, ds.y_test])


def _all_points(ds: Dataset) -> torch.Tensor:
    return torch.cat([ds.X_train, ds.X_test])


def _same_tensors(a: Dataset, b: Dataset) -> bool:
    return all(
        torch.equal(getattr(a, f), getattr(b, f))
        for f in ("X_train", "y_train", "X_test", "y_test")
    )


# -----------------------------------------------------------------------------
# the seed notebook


def test_circles_reproduces_the_seed_notebook_exactly():
    # the notebook cast to float32 torch tensors first and then split the tensors; make_dataset
    # splits float64 numpy arrays and casts afterwards: the permutation and the values must agree
    X, y = make_circles(1000, noise=0.03, random_state=42)
    X = torch.from_numpy(X).type(torch.float)
    y = torch.from_numpy(y).type(torch.float)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

    ds = make_dataset("circles", 1000, noise=0.03, data_seed=42, test_size=0.2, stratify=False)

    assert torch.equal(ds.X_train, X_train)
    assert torch.equal(ds.X_test, X_test)
    assert torch.equal(ds.y_train, y_train.long())
    assert torch.equal(ds.y_test, y_test.long())


# -----------------------------------------------------------------------------
# properties every builtin dataset has


@pytest.mark.parametrize("name", ALL_BUILTINS)
def test_dtypes_and_shapes(name):
    ds = make_dataset(name, n_samples=500, test_size=0.2)
    assert ds.name == name
    assert ds.X_train.dtype == torch.float32 and ds.X_test.dtype == torch.float32
    assert ds.y_train.dtype == torch.int64 and ds.y_test.dtype == torch.int64
    assert ds.X_train.shape == (400, 2) and ds.X_test.shape == (100, 2)
    assert ds.y_train.shape == (400,) and ds.y_test.shape == (100,)
    assert ds.n_features == 2
    assert ds.n_classes == n_classes_of(name)
    assert set(_all_labels(ds).tolist()) == set(range(ds.n_classes))
    assert torch.isfinite(_all_points(ds)).all()


@pytest.mark.parametrize("name", ALL_BUILTINS)
@pytest.mark.parametrize("n_samples", [1000, 301])
def test_classes_are_balanced_before_the_split(name, n_samples):
    counts = torch.bincount(_all_labels(make_dataset(name, n_samples=n_samples)))
    assert counts.sum() == n_samples
    assert counts.max() - counts.min() <= 1


def test_number_of_classes():
    assert n_classes_of("circles") == 2
    assert n_classes_of("checkerboard") == 2
    assert n_classes_of("spirals") == 3
    assert n_classes_of("spirals4") == 4
    assert n_classes_of("spirals8") == 8
    assert make_dataset("spirals").n_classes == 3
    assert make_dataset("spirals4").n_classes == 4


@pytest.mark.parametrize("name", ALL_BUILTINS)
def test_same_seed_same_tensors_different_seed_different_tensors(name):
    a = make_dataset(name, n_samples=200, label_noise=0.1, data_seed=7)
    b = make_dataset(name, n_samples=200, label_noise=0.1, data_seed=7)
    c = make_dataset(name, n_samples=200, label_noise=0.1, data_seed=8)
    assert _same_tensors(a, b)
    assert not torch.equal(a.X_train, c.X_train)


def test_stratified_split_keeps_class_proportions():
    # 1000 points in 3 classes (334/333/333), 25% held out
    ds = make_dataset("spirals", n_samples=1000, test_size=0.25, stratify=True)
    overall = torch.bincount(_all_labels(ds)).double() / 1000
    train = torch.bincount(ds.y_train).double() / len(ds.y_train)
    test = torch.bincount(ds.y_test).double() / len(ds.y_test)
    assert len(ds.y_test) == 250
    # each class is off by at most one point from its exact share
    assert torch.all((train - overall).abs() <= 1 / len(ds.y_train))
    assert torch.all((test - overall).abs() <= 1 / len(ds.y_test))


@pytest.mark.parametrize("name", ALL_BUILTINS)
def test_noise_is_gaussian_jitter_with_that_standard_deviation(name):
    # the same seed gives the same clean points, labels and split; noise only jitters the points
    clean = make_dataset(name, noise=0.0)
    noisy = make_dataset(name, noise=0.2)
    assert torch.equal(clean.y_train, noisy.y_train) and torch.equal(clean.y_test, noisy.y_test)
    jitter = noisy.X_train - clean.X_train  # (800, 2)
    assert jitter.mean().abs() < 0.02
    assert (jitter.std() - 0.2).abs() < 0.01


# -----------------------------------------------------------------------------
# the geometry of each problem


def test_blobs_without_noise_are_linearly_separable():
    ds = make_dataset("blobs", noise=0.0)
    clf = LogisticRegression().fit(ds.X_train.numpy(), ds.y_train.numpy())
    assert clf.score(ds.X_train.numpy(), ds.y_train.numpy()) == 1.0
    assert clf.score(ds.X_test.numpy(), ds.y_test.numpy()) == 1.0


def test_xor_without_noise_is_separated_by_the_axes_but_not_by_any_line():
    ds = make_dataset("xor", noise=0.0)
    X, y = _all_points(ds), _all_labels(ds)
    # class 0 in quadrants I and III, class 1 in II and IV, at least 0.1 from either axis
    assert torch.equal(y, (X[:, 0] * X[:, 1] < 0).long())
    assert X.abs().min() >= 0.1 and X.abs().max() <= 1.0
    # ... which is exactly what a linear model cannot represent: it stays near chance
    clf = LogisticRegression().fit(ds.X_train.numpy(), ds.y_train.numpy())
    assert clf.score(ds.X_test.numpy(), ds.y_test.numpy()) < 0.7


def test_checkerboard_without_noise_follows_the_board():
    X, y = _all_points(ds := make_dataset("checkerboard", noise=0.0)), _all_labels(ds)
    assert X.abs().max() <= 2.0
    assert torch.equal(y, X.floor().sum(dim=1).long() % 2)


@pytest.mark.parametrize("name", ["spirals", "spirals4"])
def test_spiral_arms_without_noise(name):
    ds = make_dataset(name, noise=0.0)
    X, y, k = _all_points(ds), _all_labels(ds), ds.n_classes
    r = X.norm(dim=1)
    assert r.min() > 0 and r.max() <= 1.0 + 1e-6
    # arm j sits at angle 2*pi*r + 2*pi*j/k (mod 2*pi)
    expected = 2 * torch.pi * r + 2 * torch.pi * y / k
    diff = torch.atan2(X[:, 1], X[:, 0]) - expected
    wrapped = torch.atan2(diff.sin(), diff.cos())  # in (-pi, pi]
    assert wrapped.abs().max() < 1e-4


# -----------------------------------------------------------------------------
# label noise


@pytest.mark.parametrize("name", ["moons", "spirals4"])
def test_label_noise_flips_that_fraction_of_train_labels_only(name):
    clean = make_dataset(name, n_samples=1000, label_noise=0.0)
    noisy = make_dataset(name, n_samples=1000, label_noise=0.25)
    flipped = noisy.y_train != clean.y_train
    assert flipped.sum() == round(0.25 * 800)
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() < clean.n_classes
    # the points, the split and the test labels are untouched
    assert torch.equal(noisy.X_train, clean.X_train)
    assert torch.equal(noisy.X_test, clean.X_test)
    assert torch.equal(noisy.y_test, clean.y_test)


def test_label_noise_zero_is_the_same_as_no_label_noise():
    default = make_dataset("spirals", data_seed=3)
    explicit = make_dataset("spirals", data_seed=3, label_noise=0.0)
    assert _same_tensors(default, explicit)


def test_label_flips_are_drawn_from_the_data_seed():
    flips = [
        make_dataset("circles", label_noise=0.2, data_seed=s).y_train
        != make_dataset("circles", data_seed=s).y_train
        for s in (1, 1, 2)
    ]
    assert torch.equal(flips[0], flips[1])
    assert not torch.equal(flips[0], flips[2])


# -----------------------------------------------------------------------------
# argument checking


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 3}, r"n_samples=3 .* n_samples >= 4"),
        ({"noise": -0.1}, r"noise .* >= 0.*-0\.1"),
        ({"label_noise": 1.0}, r"label_noise .* \[0, 1\).*1\.0"),
        ({"label_noise": -0.5}, r"label_noise .* \[0, 1\).*-0\.5"),
        ({"test_size": 0.0}, r"test_size .* \(0, 1\).*0\.0"),
        ({"test_size": 1.5}, r"test_size .* \(0, 1\).*1\.5"),
        ({"data_seed": -1}, r"data_seed .*-1"),
    ],
)
def test_invalid_arguments_say_what_is_allowed(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        make_dataset("circles", **kwargs)


def test_spirals_need_two_points_per_arm():
    with pytest.raises(DatasetError, match=r"n_samples >= 10"):
        make_dataset("spirals5", n_samples=9)


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


# -----------------------------------------------------------------------------
# names


def test_valid_names():
    for name in [*BUILTIN_DATASETS, "spirals2", "spirals8"]:
        validate_dataset_name(name)


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("circels", "circles"), ("moon", "moons"), ("checkerbord", "checkerboard")],
)
def test_unknown_name_lists_the_allowed_names_and_suggests_a_close_one(typo, suggestion):
    with pytest.raises(DatasetError, match=rf"Did you mean '{suggestion}'") as err:
        validate_dataset_name(typo)
    for name in BUILTIN_DATASETS:
        assert name in str(err.value)
    with pytest.raises(DatasetError, match="unknown dataset"):
        make_dataset(typo)


@pytest.mark.parametrize("name", ["spirals1", "spirals9", "spirals10", "Spirals"])
def test_spiral_arm_count_is_limited_to_2_to_8(name):
    with pytest.raises(DatasetError, match=r"spirals2\.\.spirals8"):
        validate_dataset_name(name)


def test_is_csv():
    assert is_csv("data/points.csv")
    assert is_csv("/abs/POINTS.CSV")
    assert not is_csv("circles")
    assert not is_csv("points.csv.gz")


def test_builtin_fingerprint_is_the_generator_version():
    assert dataset_fingerprint("circles") == GENERATOR_VERSION
    assert dataset_fingerprint("spirals5") == GENERATOR_VERSION


# -----------------------------------------------------------------------------
# CSV files


def _write_points(path, labels, n_per_label=10, seed=0, prefix="x"):
    """Write n_per_label points per label, label k centred at (k, -k); feature columns x1, x2
    (standardised on load) or, with prefix "z", z1, z2 (used as written)."""
    rng = np.random.default_rng(seed)
    rows = [
        {f"{prefix}1": k + rng.normal(), f"{prefix}2": -k + rng.normal(), "label": lab}
        for k, lab in enumerate(labels)
        for _ in range(n_per_label)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_csv_round_trip_with_integer_labels(tmp_path):
    path = _write_points(tmp_path / "ints.csv", labels=[2, 10, 5], prefix="z")
    ds = make_dataset(path, noise=0.0, test_size=0.3)
    assert ds.name == path
    assert ds.n_classes == 3 and n_classes_of(path) == 3
    assert ds.n_features == 2
    assert ds.X_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert len(ds.y_train) + len(ds.y_test) == 30  # every row, whatever n_samples says
    # noise=0 gives back the file's points exactly (as float32), labels in sorted numeric order:
    # 2 -> 0, 5 -> 1, 10 -> 2
    df = pd.read_csv(path)
    file_points = torch.tensor(df[["z1", "z2"]].to_numpy(), dtype=torch.float32)
    file_labels = torch.tensor(df["label"].map({2: 0, 5: 1, 10: 2}).to_numpy())
    got = sorted(zip(_all_points(ds).tolist(), _all_labels(ds).tolist(), strict=True))
    want = sorted(zip(file_points.tolist(), file_labels.tolist(), strict=True))
    assert got == want


def test_csv_string_labels_map_to_sorted_class_indices(tmp_path):
    path = _write_points(tmp_path / "animals.csv", labels=["dog", "cat", "emu"], prefix="z")
    ds = make_dataset(path, noise=0.0)
    assert ds.n_classes == 3
    # sorted: cat -> 0, dog -> 1, emu -> 2; "cat" was written with centre (1, -1)
    cats = _all_points(ds)[_all_labels(ds) == 0]
    assert len(cats) == 10
    assert torch.allclose(cats.mean(dim=0), torch.tensor([1.0, -1.0]), atol=1.0)


def test_csv_with_more_features_and_label_noise(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(100, 3)), columns=["x1", "x2", "x3"])
    df["label"] = np.arange(100) % 2
    path = str(tmp_path / "wide.csv")
    df.to_csv(path, index=False)
    clean = make_dataset(path, noise=0.0)
    noisy = make_dataset(path, noise=0.1, label_noise=0.25)
    assert clean.n_features == 3
    assert (noisy.y_train != clean.y_train).sum() == 20
    assert torch.equal(noisy.y_test, clean.y_test)
    assert not torch.equal(noisy.X_train, clean.X_train)  # noise applies to CSV features too
    assert torch.allclose(noisy.X_train, clean.X_train, atol=1.0)


def test_csv_relative_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    _write_points(tmp_path / "rel.csv", labels=["a", "b"])
    monkeypatch.chdir(tmp_path)
    assert make_dataset("rel.csv").n_classes == 2


def test_csv_fingerprint_changes_with_the_file_bytes(tmp_path):
    # standardised features (x1..xd) are marked, so their ids differ from those of the runs
    # trained on the same bytes before CSV files were standardised; z1..zd files are as read
    as_written = _write_points(tmp_path / "z.csv", labels=[0, 1], prefix="z")
    assert re.fullmatch(r"csv:[0-9a-f]{16}", dataset_fingerprint(as_written))
    path = _write_points(tmp_path / "fp.csv", labels=[0, 1])
    first = dataset_fingerprint(path)
    assert re.fullmatch(r"csv:[0-9a-f]{16}\+standardised", first)
    assert make_dataset(path).fingerprint == first
    assert dataset_fingerprint(path) == first
    _write_points(path, labels=[0, 1], seed=1)
    assert dataset_fingerprint(path) != first


def _expect_csv_error(path, message):
    """Loading `path` raises DatasetError matching `message`, and the message names the file."""
    with pytest.raises(DatasetError, match=message) as err:
        make_dataset(str(path))
    assert str(path) in str(err.value)


def test_csv_missing_file(tmp_path):
    _expect_csv_error(tmp_path / "nope.csv", "not found")
    with pytest.raises(DatasetError, match="not found"):
        n_classes_of(str(tmp_path / "nope.csv"))
    with pytest.raises(DatasetError, match="not found"):
        dataset_fingerprint(str(tmp_path / "nope.csv"))


def test_csv_empty_file(tmp_path):
    (path := tmp_path / "empty.csv").write_text("")
    _expect_csv_error(path, "is empty")


def test_csv_header_only(tmp_path):
    (path := tmp_path / "header.csv").write_text("x1,x2,label\n")
    _expect_csv_error(path, "no data rows")


def test_csv_without_label_column(tmp_path):
    (path := tmp_path / "nolabel.csv").write_text("x1,x2,y\n0,0,0\n1,1,1\n")
    _expect_csv_error(path, "no 'label' .* or 'target' .* column")


@pytest.mark.parametrize(
    "header", ["a,b,label", "x1,x3,label", "x2,x1,label", "label", "x1,label,x2"]
)
def test_csv_feature_columns_must_be_x1_to_xd(tmp_path, header):
    (path := tmp_path / "cols.csv").write_text(header + "\n" + ",".join(["0"] * 3) + "\n")
    _expect_csv_error(path, r"expected feature columns x1\.\.xd")


def test_csv_non_numeric_feature_names_the_row_and_column(tmp_path):
    (path := tmp_path / "text.csv").write_text("x1,x2,label\n0,0,a\n1,oops,b\n2,2,a\n")
    _expect_csv_error(path, r"row 2, column 'x2': 'oops' is not a finite number")


def test_csv_missing_feature_value(tmp_path):
    (path := tmp_path / "hole.csv").write_text("x1,x2,label\n0,0,a\n,1,b\n")
    _expect_csv_error(path, r"row 2, column 'x1': '' is not a finite number")


def test_csv_needs_two_classes(tmp_path):
    path = _write_points(tmp_path / "one.csv", labels=["only"])
    _expect_csv_error(path, "1 distinct label.*at least 2")
    with pytest.raises(DatasetError, match="at least 2"):
        n_classes_of(path)


def test_csv_too_small_to_split(tmp_path):
    # a class of one row cannot be stratified into both train and test
    rows = "".join(f"{i},{'b' if i == 0 else 'a'}\n" for i in range(10))
    (path := tmp_path / "tiny.csv").write_text("x1,label\n" + rows)
    _expect_csv_error(path, "cannot split")


@pytest.mark.parametrize("rows", [1, 5, 9])
@pytest.mark.parametrize("last", ["label", "target"])
def test_a_csv_of_fewer_than_ten_rows_is_refused_before_training(tmp_path, rows, last):
    (path := tmp_path / "few.csv").write_text(
        f"x1,{last}\n" + "".join(f"{i},{i % 2}\n" for i in range(rows))
    )
    _expect_csv_error(path, f"has {rows} data row\\(s\\); a dataset needs at least 10")


def test_a_constant_regression_target_is_refused(tmp_path):
    (path := tmp_path / "flat.csv").write_text(
        "x1,target\n" + "".join(f"{i},3.5\n" for i in range(20))
    )
    _expect_csv_error(path, "every 'target' is 3.5; R\\^2 is undefined for a constant target")


@pytest.mark.parametrize("scale", [1e6, 1e12, 1e30])
def test_huge_regression_targets_are_refused_with_the_scale_to_divide_by(tmp_path, scale):
    (path := tmp_path / "huge.csv").write_text(
        "x1,target\n" + "".join(f"{i},{(i % 7) * scale!r}\n" for i in range(20))
    )
    reach = re.escape(f"'target' values reach {6 * scale:.3g}")
    _expect_csv_error(path, reach + ".*divide the target column by about")


def test_a_regression_csv_gets_noise_on_its_target_not_its_inputs(tmp_path):
    (path := tmp_path / "fit.csv").write_text(
        "x1,target\n" + "".join(f"{i / 10},{(i / 10) ** 2}\n" for i in range(20))
    )
    clean, noisy = make_dataset(str(path), noise=0.0), make_dataset(str(path), noise=0.5)
    assert torch.equal(noisy.X_train, clean.X_train)
    assert not torch.equal(noisy.y_train, clean.y_train)


# -----------------------------------------------------------------------------
# regression


@pytest.mark.parametrize("name", REGRESSION_DATASETS)
def test_regression_datasets_have_float_targets_and_no_classes(name):
    ds = make_dataset(name, n_samples=500, noise=0.0)
    assert name in BUILTIN_DATASETS and ds.regression and ds.n_classes == n_classes_of(name) == 0
    assert ds.y_train.dtype == torch.float32 and ds.y_train.shape == (400,)
    assert ds.n_features == (1 if name in ("sine", "abs", "step") else 2)
    assert _all_points(ds).abs().max() <= 1  # inputs on [-1, 1]^d
    assert 0.1 < _all_labels(ds).std() < 1.5  # targets of about unit range


def test_regression_targets_are_the_function_plus_noise_of_that_std():
    clean = make_dataset("sine", n_samples=4000, noise=0.0)
    assert torch.allclose(clean.y_train, torch.sin(torch.pi * clean.X_train[:, 0]), atol=1e-6)
    noisy = make_dataset("sine", n_samples=4000, noise=0.2)
    assert torch.equal(noisy.X_train, clean.X_train)  # noise is in the targets, not the inputs
    assert (noisy.y_train - clean.y_train).std().item() == pytest.approx(0.2, rel=0.05)


def test_regression_rejects_label_noise_and_ignores_stratify():
    with pytest.raises(DatasetError, match="label_noise=0.1 on 'saddle', a regression dataset"):
        make_dataset("saddle", label_noise=0.1)
    assert _same_tensors(
        make_dataset("gauss", stratify=True), make_dataset("gauss", stratify=False)
    )


def test_csv_with_a_target_column_is_regression(tmp_path):
    (path := tmp_path / "fit.csv").write_text(
        "z1,target\n" + "".join(f"{i / 10},{(i / 10) ** 2}\n" for i in range(20))
    )
    ds = make_dataset(str(path), noise=0.0)
    assert ds.regression and n_classes_of(str(path)) == 0
    assert torch.allclose(ds.y_train, ds.X_train[:, 0] ** 2)
    (bad := tmp_path / "bad.csv").write_text("x1,target\n0,1\n1,nan\n")
    _expect_csv_error(bad, r"row 2, column 'target': 'nan' is not a finite number")
