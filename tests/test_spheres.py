"""Specification of `spheres`, the circles in any dimension: its generator
(bench/data/generators.py), its `dim` axis, and its exact Bayes rule (bench/data/ceiling.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy import special, stats
from sklearn.datasets import make_circles

from bench.data import ceiling, generators
from bench.data.datasets import DatasetError, make_dataset
from bench.grid.parse import GridError, parse_grid
from bench.spec import RunSpec

HALF_A_POINT = 0.005


def grid_of(text: str):
    return parse_grid(f'name = "g"\n{text}', source="g.toml")


# --------------------------------------------------------------------------- the generator


@pytest.mark.parametrize("dim", [1, 2, 3, 8])
def test_without_noise_the_classes_lie_on_the_circles_radii(dim):
    X, y = generators.spheres(501, 0.0, seed=0, dim=dim)
    assert X.shape == (501, dim) and y.dtype == np.int64
    assert abs(np.bincount(y)[0] - np.bincount(y)[1]) <= 1
    radius = np.linalg.norm(X, axis=1)
    # make_circles: the outer ring (radius 1) is class 0, the inner (radius 0.8) class 1
    circles_X, circles_y = make_circles(100, noise=0.0, random_state=0)
    circles_r = np.linalg.norm(circles_X, axis=1)
    for k in (0, 1):
        assert np.allclose(radius[y == k], circles_r[circles_y == k][0])
        assert np.allclose(radius[y == k], generators.SPHERE_RADII[k])


def test_directions_are_uniform_on_the_sphere():
    # a normalised Gaussian is uniform on the sphere: mean 0, second moment I / dim
    X, y = generators.spheres(40_000, 0.0, seed=1, dim=5)
    u = X[y == 0]  # on the unit sphere
    assert np.abs(u.mean(0)).max() < 0.02
    assert np.abs(u.T @ u / len(u) - np.eye(5) / 5).max() < 0.01


def test_noise_is_isotropic_gaussian_on_every_coordinate_as_make_circles_adds_it():
    clean = make_dataset("spheres", n_samples=4000, noise=0.0, dim=6)
    noisy = make_dataset("spheres", n_samples=4000, noise=0.1, dim=6)
    assert torch.equal(clean.y_train, noisy.y_train)
    jitter = (noisy.X_train - clean.X_train).double()  # (3200, 6)
    assert jitter.mean().abs() < 0.005
    assert torch.allclose(jitter.std(0), torch.full((6,), 0.1, dtype=torch.float64), rtol=0.05)


def test_dim_is_the_number_of_inputs_and_only_spheres_takes_it():
    assert make_dataset("spheres", dim=32).n_features == 32
    assert make_dataset("spheres").n_features == 2  # default dim 2: the circles' plane
    with pytest.raises(DatasetError, match="dim=3 on 'circles': only 'spheres' takes dim"):
        make_dataset("circles", dim=3)


# --------------------------------------------------------------------------- the dim axis


def test_dim_at_its_default_keeps_every_existing_run_id():
    assert RunSpec().run_id("1") == "50f8015ffdb3573f"  # as before dim existed
    assert RunSpec(dataset="spheres", dim=8).run_id("1") != RunSpec(dataset="spheres").run_id("1")


def test_a_grid_varies_dim_for_spheres():
    grid = grid_of('[grid]\ndataset = "spheres"\ndim = [2, 8, 32]\nactivation = "relu"')
    assert [s.dim for s in grid.specs()] == [2, 8, 32]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[grid]\ndataset = ["spheres", "moons"]\ndim = [2, 8]', "grid.dim"),
        ('[[block]]\ndataset = "spheres"\ndim = 4\n[[block]]\ndataset = "xor"\ndim = 3', "block[1].dim"),
        ('[grid]\ndim = 8\n[[block]]\ndataset = "spheres"\n[[block]]\ndataset = "xor"', "grid.dim"),
    ],
)  # fmt: skip
def test_dim_for_any_other_dataset_is_a_one_line_error_naming_the_key(text, key):
    with pytest.raises(
        GridError, match=rf"key '{re.escape(key)}' value \d+ with dataset '(moons|xor)'"
    ) as e:
        grid_of(text)
    assert "only 'spheres' takes dim" in str(e.value) and "\n" not in str(e.value)


def test_an_exclude_that_keeps_dim_off_the_other_datasets_is_enough():
    grid = grid_of(
        '[grid]\ndataset = ["spheres", "moons"]\ndim = [2, 8]\nactivation = "relu"\n'
        '[[exclude]]\ndataset = "moons"\ndim = 8'
    )
    assert sorted((s.dataset, s.dim) for s in grid.specs()) == [
        ("moons", 2),
        ("spheres", 2),
        ("spheres", 8),
    ]


# --------------------------------------------------------------------------- the Bayes rule


def rice_closed_form(noise: float) -> float:
    """The circles' Bayes accuracy (tests/test_ceiling.py's closed form): each ring's radius
    is Rice-distributed; integrate the larger of the two half-densities."""
    r = np.linspace(0, 1 + 10 * noise, 200_001)
    outer = stats.rice.pdf(r, 1.0 / noise, scale=noise)
    inner = stats.rice.pdf(r, 0.8 / noise, scale=noise)
    return 0.5 * np.trapezoid(np.maximum(outer, inner), r)


def log_radial_density(r: np.ndarray, radius: float, noise: float, dim: int) -> np.ndarray:
    """log density of |x| for x uniform on the sphere of `radius` plus N(0, noise^2 I_dim),
    written out directly (the noncentral chi law): independent of scipy's ncx2."""
    t, lam, nu = r / noise, radius / noise, dim / 2 - 1
    z = lam * t
    log_bessel = np.log(special.ive(nu, z)) + z  # log I_nu(z), scaled against overflow
    return (
        -(t**2 + lam**2) / 2
        + dim * np.log(t)
        + np.log(lam)
        - dim / 2 * np.log(z)
        + (log_bessel - np.log(noise))
    )


@pytest.mark.parametrize("noise", [0.1, 0.2])
def test_at_dim_2_it_is_the_circles_closed_form(noise):
    assert ceiling.spheres_rule(noise, 2).accuracy == pytest.approx(
        rice_closed_form(noise), abs=1e-6
    )


@pytest.mark.parametrize("noise", [0.1, 0.2])
def test_at_dim_2_it_predicts_as_the_circles_estimated_bayes_rule(noise):
    X, y = generators.spheres(50_000, noise, seed=5, dim=2)
    exact = ceiling.spheres_rule(noise, 2).predict(X)
    grid_rule = ceiling._default_rule("circles", noise).posterior(X).argmax(0)
    assert (exact == grid_rule).mean() >= 0.99
    assert (exact == y).mean() == pytest.approx((grid_rule == y).mean(), abs=HALF_A_POINT)
    # and the distribution's accuracies agree (the circles' is a grid estimate)
    assert ceiling.spheres_rule(noise, 2).accuracy == pytest.approx(
        ceiling.estimate("circles", noise).accuracy, abs=HALF_A_POINT
    )


@pytest.mark.parametrize("dim", [8, 32])
def test_in_more_dimensions_the_exact_bayes_error_matches_monte_carlo(dim):
    noise = 0.1
    X, y = generators.spheres(200_000, noise, seed=11, dim=dim)
    r = np.linalg.norm(X, axis=1)
    outer, inner = (log_radial_density(r, R, noise, dim) for R in generators.SPHERE_RADII)
    posterior_outer = special.expit(outer - inner)  # equal priors
    true_rule = np.where(posterior_outer > 0.5, 0, 1)
    exact = ceiling.spheres_rule(noise, dim)
    assert (true_rule == y).mean() == pytest.approx(exact.accuracy, abs=HALF_A_POINT)
    expected_max = np.maximum(posterior_outer, 1 - posterior_outer).mean()
    assert expected_max == pytest.approx(exact.accuracy, abs=HALF_A_POINT)
    assert (exact.predict(X) == true_rule).mean() > 0.9999  # the same threshold rule


def test_the_exact_accuracy_is_the_integral_of_the_larger_half_density():
    noise, dim = 0.15, 8
    r = np.linspace(1e-6, 3, 400_001)
    halves = [np.exp(log_radial_density(r, R, noise, dim)) / 2 for R in generators.SPHERE_RADII]
    assert np.trapezoid(halves[0] + halves[1], r) == pytest.approx(1, abs=1e-6)  # densities
    assert ceiling.spheres_rule(noise, dim).accuracy == pytest.approx(
        np.trapezoid(np.maximum(*halves), r), abs=1e-6
    )


def test_more_dimensions_at_the_same_noise_is_harder_and_no_noise_is_perfect():
    accuracies = [ceiling.ceiling("spheres", 0.1, dim=d) for d in (2, 8, 32, 128)]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[-1] > 0.5
    assert ceiling.ceiling("spheres", 0.0, dim=64) == 1.0


def test_ceiling_keeps_its_two_argument_call_and_takes_dim():
    assert ceiling.ceiling("spheres", 0.1) == ceiling.spheres_rule(0.1, 2).accuracy
    assert ceiling.ceiling("spheres", 0.1, 8) == ceiling.spheres_rule(0.1, 8).accuracy
    with pytest.raises(ValueError, match="only 'spheres' takes dim"):
        ceiling.ceiling("circles", 0.1, dim=3)


def test_the_bayes_rule_on_a_runs_own_test_points():
    args = {"n_samples": 40_000, "noise": 0.1, "data_seed": 3, "test_size": 0.5, "dim": 8}
    on_test = ceiling.bayes_on_test("spheres", **args)
    assert on_test == pytest.approx(ceiling.ceiling("spheres", 0.1, dim=8), abs=0.01)
    data = make_dataset("spheres", **args)
    rule = ceiling.spheres_rule(0.1, 8)
    assert (
        on_test == (rule.predict(data.coords_test.double().numpy()) == data.y_test.numpy()).mean()
    )
