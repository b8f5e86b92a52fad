"""The best possible accuracy (bench/data/ceiling.py) against closed forms and plain Monte Carlo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special, stats

from bench.data import ceiling
from bench.data.datasets import GENERATOR_VERSION

TOLERANCE = 0.005  # half a point


def circles_closed_form(noise: float) -> float:
    """make_circles: rings of radius 1 and 0.8 with isotropic noise, so each class's radius is
    Rice-distributed; the Bayes rule compares the two densities at each radius."""
    r = np.linspace(0, 1 + 10 * noise, 200_001)
    outer = stats.rice.pdf(r, 1.0 / noise, scale=noise)
    inner = stats.rice.pdf(r, 0.8 / noise, scale=noise)
    return 0.5 * np.trapezoid(np.maximum(outer, inner), r)


def boxes_closed_form(boxes: list[list[tuple]], noise: float, half: float) -> float:
    """Classes uniform on unions of axis-aligned boxes, blurred by isotropic noise: each box's
    blurred mass is a product of two normal-CDF differences. Integrated on a fine grid."""
    grid = np.linspace(-half - 6 * noise, half + 6 * noise, 600)
    x, y = np.meshgrid(grid, grid)

    def mass(lo, hi, v):
        return special.ndtr((hi - v) / noise) - special.ndtr((lo - v) / noise)

    densities = []
    for class_boxes in boxes:
        area = sum((b[1] - b[0]) * (b[3] - b[2]) for b in class_boxes)
        blurred = sum(mass(b[0], b[1], x) * mass(b[2], b[3], y) for b in class_boxes)
        densities.append(blurred / area / len(boxes))  # prior x density
    return float(np.max(densities, axis=0).sum() * (grid[1] - grid[0]) ** 2)


@pytest.mark.parametrize("noise", [0.1, 0.2])
def test_circles_match_the_rice_closed_form(noise):
    assert ceiling.estimate("circles", noise).accuracy == pytest.approx(
        circles_closed_form(noise), abs=TOLERANCE
    )


def test_xor_and_checkerboard_match_the_closed_form():
    xor = [
        [(0.1, 1, 0.1, 1), (-1, -0.1, -1, -0.1)],
        [(0.1, 1, -1, -0.1), (-1, -0.1, 0.1, 1)],
    ]
    assert ceiling.estimate("xor", 0.2).accuracy == pytest.approx(
        boxes_closed_form(xor, 0.2, 1.0), abs=TOLERANCE
    )
    cells = [[], []]
    for i in range(-2, 2):
        for j in range(-2, 2):
            cells[(i + j) % 2].append((i, i + 1, j, j + 1))
    assert ceiling.estimate("checkerboard", 0.1).accuracy == pytest.approx(
        boxes_closed_form(cells, 0.1, 2.0), abs=TOLERANCE
    )


@pytest.mark.parametrize(("dataset", "noise"), [("moons", 0.2), ("spirals", 0.1), ("blobs", 0.2)])
def test_the_estimated_rule_scores_its_estimate_on_fresh_labelled_points(dataset, noise):
    """Plain Monte Carlo: the estimated Bayes rule applied to fresh noisy points from
    make_dataset, counting correct labels, agrees with E[max posterior]."""
    estimate = ceiling.estimate(dataset, noise)
    assert estimate.plug_in == pytest.approx(estimate.accuracy, abs=TOLERANCE)
    assert estimate.stderr < 0.002


def test_noise_zero_is_perfect_and_csv_has_no_ceiling():
    assert ceiling.estimate("spirals", 0.0).accuracy == 1.0
    assert ceiling.ceiling("data/mine.csv", 0.1) is None


def test_ceilings_are_cached_on_disk_by_generator_version(tmp_path, monkeypatch):
    monkeypatch.setenv(ceiling.CACHE_ENV, str(tmp_path))
    ceiling._cached.cache_clear()
    value = ceiling.ceiling("moons", 0.1)
    stored = json.loads((tmp_path / "ceilings.json").read_text())
    (key,) = stored
    assert f"generator {GENERATOR_VERSION}" in key and "moons" in key
    assert stored[key] == value
    # a value on disk is used as it is, without estimating again
    (tmp_path / "ceilings.json").write_text(json.dumps({key: 0.5}))
    ceiling._cached.cache_clear()
    assert ceiling.ceiling("moons", 0.1) == 0.5
    ceiling._cached.cache_clear()


def test_chance_is_the_test_sets_largest_class_share():
    assert ceiling.chance_accuracy("circles", n_samples=600, noise=0.03, data_seed=42) == 0.5
    spirals = ceiling.chance_accuracy("spirals", n_samples=600, noise=0.03, data_seed=42)
    assert spirals == pytest.approx(1 / 3)


def test_the_bayes_rule_on_a_runs_own_test_points_moves_with_that_test_set():
    # on a large test set it scores the expected Bayes accuracy; on small ones it scatters
    # around it, which is why shares of the best possible are taken per test set
    big = ceiling.bayes_on_test("circles", n_samples=20000, noise=0.1, data_seed=1, test_size=0.5)
    assert big == pytest.approx(ceiling.ceiling("circles", 0.1), abs=0.01)
    small = [
        ceiling.bayes_on_test("circles", n_samples=600, noise=0.1, data_seed=s, test_size=0.2)
        for s in range(6)
    ]
    assert len(set(small)) > 1 and all(0.7 < v <= 1 for v in small)
    assert ceiling.bayes_on_test("moons", n_samples=600, noise=0.0) == 1.0
    assert np.isnan(ceiling.bayes_on_test("sine", n_samples=200, noise=0.1))
