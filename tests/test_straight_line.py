"""The best straight line: an exact threshold sweep per direction, checked against brute force."""

import itertools

import numpy as np
import pytest

from bench.data import straight_line


def brute_force_best_line(X: np.ndarray, y: np.ndarray) -> float:
    """The most points any line puts on their side: some optimal line can be moved until it
    passes through two points, so try every line through two points, nudged to either side
    of each, with either side as class 1."""
    best = max(np.mean(y == 1), np.mean(y == 0))
    for i, j in itertools.combinations(range(len(X)), 2):
        d = X[j] - X[i]
        normal = np.array([-d[1], d[0]])
        side = (X - X[i]) @ normal
        on_line = np.abs(side) < 1e-12
        for shift in (-1, 1):  # the two points fall on one side or the other
            for sign in (-1, 1):
                predicted = np.where(on_line, shift * sign > 0, sign * side > 0)
                best = max(best, np.mean(predicted == (y == 1)))
    return best


def test_the_threshold_sweep_is_exact_for_one_direction():
    projection = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0, 0, 1, 0, 1])
    accuracy, threshold, sign = straight_line.threshold_accuracy(projection, y)
    assert accuracy == pytest.approx(0.8) and sign == 1 and 1.0 < threshold < 2.0
    # reversed, class 1 lies below the cut
    assert straight_line.threshold_accuracy(-projection, y)[2] == -1
    # equal projections cannot be split
    assert straight_line.threshold_accuracy(np.zeros(4), np.array([0, 1, 0, 1]))[0] == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_search_finds_the_brute_force_optimum_on_a_small_case(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 2))
    y = ((X[:, 0] * X[:, 1] > 0) ^ (rng.random(30) < 0.1)).astype(int)  # xor-like, noisy
    w, b, accuracy = straight_line.best_line(X, y, directions=2000, refine=200)
    assert accuracy == pytest.approx(brute_force_best_line(X, y))
    # the line it returns scores what it says
    assert np.mean((X @ w + b > 0) == (y == 1)) == pytest.approx(accuracy)


def test_on_circles_no_line_does_much_better_than_cutting_off_one_side():
    # The noise-free rings: any line leaves most of the outer ring on the inner ring's side.
    W, b = straight_line.classifier("circles", 0.03)
    accuracy = straight_line.line_on_test("circles", n_samples=600, noise=0.03, data_seed=42)
    assert 0.55 < accuracy < 0.65
    blobs = straight_line.line_on_test("blobs", n_samples=600, noise=0.1, data_seed=42)
    assert blobs == 1.0  # the negative control: a line separates the blobs


def test_more_classes_are_searched_as_an_argmax_of_affine_scores():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, 600)
    X = centres[y] + rng.normal(size=(600, 2))
    W, b, accuracy = straight_line.best_affine(X, y, restarts=1)
    assert W.shape == (3, 2) and accuracy > 0.95
    assert np.mean((X @ W.T + b).argmax(1) == y) == pytest.approx(accuracy)


def test_regression_and_csv_data_have_no_line():
    assert np.isnan(straight_line.line_on_test("sine", n_samples=100, noise=0.1, data_seed=0))
