"""The built-in toy problems' samplers, noise included (bench.data.datasets splits them).

Classification samplers take (n_samples, noise, data_seed) and return X (n, 2) float64 and
y (n,) int64, with per-class counts differing by at most 1 and the rows shuffled (`spheres`
takes a number of dimensions too and returns X (n, dim)); regression
samplers (below) return a float64 target instead. Changing any of them changes the data
behind a name: bump bench.data.datasets.GENERATOR_VERSION.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.datasets import make_circles, make_moons

# Geometry constants of the hand-written generators.
_XOR_MARGIN = 0.1  # |x|, |y| >= 0.1 before noise, so noise=0 xor is cleanly separable by the axes
_BLOB_CENTERS = np.array([[-1.0, -1.0], [1.0, 1.0]])
_BLOB_STD = 0.3
_BLOB_MAX_RADIUS = 3 * _BLOB_STD  # truncate at 3 std: the centres are sqrt(2) from the boundary
_BOARD_HALF_WIDTH = 2.0  # the board is [-2, 2]^2 with unit cells, i.e. 4x4
# make_circles' rings: the outer (class 0) of radius 1, the inner (class 1) of radius `factor`;
# `spheres` uses the same two radii in any number of dimensions.
CIRCLES_FACTOR = 0.8
SPHERE_RADII = (1.0, CIRCLES_FACTOR)  # radius of class 0, class 1


def _class_counts(n: int, k: int) -> list[int]:
    """Split n samples over k classes as evenly as possible (the first n % k classes get one more)."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def _finish(
    xs: list[np.ndarray], noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-class points xs[j] (n_j, d) into X (n, d), y (n,), add noise, shuffle rows."""
    X = np.concatenate(xs)
    y = np.concatenate([np.full(len(x), j, dtype=np.int64) for j, x in enumerate(xs)])
    # noise is added after labelling, so it blurs the class boundary instead of moving it
    X = X + rng.normal(scale=noise, size=X.shape)
    perm = rng.permutation(len(X))
    return X[perm], y[perm]


def circles(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # outer ring is class 0; the factor given is make_circles' default, so the data is the seed's
    X, y = make_circles(n, noise=noise, random_state=seed, factor=CIRCLES_FACTOR)
    return X, y.astype(np.int64)


def spheres(n: int, noise: float, seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The circles in `dim` dimensions: class j uniform on the sphere of radius SPHERE_RADII[j]
    (a normalised Gaussian direction times the radius), then isotropic Gaussian noise of std
    `noise` on every coordinate, as make_circles adds it. At dim 2 these are the circles' two
    rings and noise, with random angles where make_circles spaces them evenly."""
    rng = np.random.default_rng(seed)
    xs = []
    for radius, n_j in zip(SPHERE_RADII, _class_counts(n, 2), strict=True):
        direction = rng.normal(size=(n_j, dim))  # (n_j, dim), isotropic
        xs.append(radius * direction / np.linalg.norm(direction, axis=1, keepdims=True))
    return _finish(xs, noise, rng)


def moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(n, noise=noise, random_state=seed)
    return X, y.astype(np.int64)


def xor(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # class 0 lives in quadrants I and III (x*y > 0), class 1 in II and IV (x*y < 0)
    rng = np.random.default_rng(seed)
    xs = []
    for j, n_j in enumerate(_class_counts(n, 2)):
        mag = rng.uniform(_XOR_MARGIN, 1.0, size=(n_j, 2))  # (n_j, 2) distance from each axis
        sign = rng.choice([-1.0, 1.0], size=(n_j, 1))  # (n_j, 1) which of the two quadrants
        quadrant = np.array([1.0, 1.0]) if j == 0 else np.array([1.0, -1.0])
        xs.append(mag * sign * quadrant)
    return _finish(xs, noise, rng)


def spirals(n: int, noise: float, seed: int, arms: int) -> tuple[np.ndarray, np.ndarray]:
    # arm j: points at radius r in (0, 1], angle 2*pi*r (one full turn out to r=1) + 2*pi*j/arms
    rng = np.random.default_rng(seed)
    xs = []
    for j, n_j in enumerate(_class_counts(n, arms)):
        r = 1.0 - rng.random(n_j)  # (n_j,) in (0, 1]
        theta = 2 * np.pi * r + 2 * np.pi * j / arms
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
    return _finish(xs, noise, rng)


def blobs(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # Gaussian blobs truncated at 3 std (rejection sampling), so that with noise=0 the classes are
    # separated by the line x + y = 0 with a margin of sqrt(2) - 0.9 ~ 0.5 for every seed.
    rng = np.random.default_rng(seed)
    xs = []
    for center, n_j in zip(_BLOB_CENTERS, _class_counts(n, 2), strict=True):
        offsets = np.empty((0, 2))
        while len(offsets) < n_j:
            draw = rng.normal(scale=_BLOB_STD, size=(n_j, 2))
            keep = np.linalg.norm(draw, axis=1) <= _BLOB_MAX_RADIUS
            offsets = np.concatenate([offsets, draw[keep]])
        xs.append(center + offsets[:n_j])
    return _finish(xs, noise, rng)


def checkerboard(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # label = (floor(x) + floor(y)) mod 2 on [-2, 2]^2. Each colour covers exactly half the board,
    # so a uniform sample is only balanced on average: oversample, then keep n_j of each colour.
    rng = np.random.default_rng(seed)
    counts = _class_counts(n, 2)
    pts = np.empty((0, 2))
    labels = np.empty(0, dtype=np.int64)
    while any((labels == j).sum() < n_j for j, n_j in enumerate(counts)):
        draw = rng.uniform(-_BOARD_HALF_WIDTH, _BOARD_HALF_WIDTH, size=(2 * n + 64, 2))
        pts = np.concatenate([pts, draw])
        labels = np.concatenate([labels, np.floor(draw).sum(axis=1).astype(np.int64) % 2])
    xs = [pts[labels == j][:n_j] for j, n_j in enumerate(counts)]
    return _finish(xs, noise, rng)


_Generator = Callable[[int, float, int], tuple[np.ndarray, np.ndarray]]
BY_NAME: dict[str, _Generator] = {
    "circles": circles,
    "moons": moons,
    "xor": xor,
    "blobs": blobs,
    "checkerboard": checkerboard,
}


# --------------------------------------------------------------------------- regression
#
# Each takes (n_samples, noise, data_seed) and returns X (n, d) float64 uniform on [-1, 1]^d and
# a target y (n,) float64 of roughly unit range, with Gaussian noise of std `noise` added to the
# target (not to X: the inputs are where the function is asked, the noise is in its answers).

_GAUSS_CENTERS = np.array([[0.5, 0.5], [-0.5, -0.5]])  # a bump up and a bump down
_GAUSS_WIDTH = 0.3


def _inputs(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=(n, d))


def _regression(f: Callable[[np.ndarray], np.ndarray], d: int) -> Callable:
    def sample(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        X = _inputs(n, d, rng)
        return X, f(X) + rng.normal(scale=noise, size=n)

    sample.__doc__ = f.__doc__
    return sample


def _sine(X: np.ndarray) -> np.ndarray:
    """sin(pi x): one period over [-1, 1]."""
    return np.sin(np.pi * X[:, 0])


def _abs(X: np.ndarray) -> np.ndarray:
    """2|x| - 1: one kink at 0."""
    return 2 * np.abs(X[:, 0]) - 1


def _step(X: np.ndarray) -> np.ndarray:
    """sign(x): a jump at 0 (no continuous function fits it exactly)."""
    return np.where(X[:, 0] >= 0, 1.0, -1.0)


def _plane(X: np.ndarray) -> np.ndarray:
    """(x1 + x2) / 2: affine, so even a linear network fits it (the control)."""
    return (X[:, 0] + X[:, 1]) / 2


def _gauss(X: np.ndarray) -> np.ndarray:
    """A Gaussian bump up at (0.5, 0.5) and one down at (-0.5, -0.5) (TensorFlow Playground's)."""
    bumps = np.exp(-((X[:, None, :] - _GAUSS_CENTERS) ** 2).sum(-1) / (2 * _GAUSS_WIDTH**2))
    return bumps[:, 0] - bumps[:, 1]


def _saddle(X: np.ndarray) -> np.ndarray:
    """x1 * x2: the regression twin of xor."""
    return X[:, 0] * X[:, 1]


REGRESSION_TRUTH: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {
    "sine": (_sine, 1),
    "abs": (_abs, 1),
    "step": (_step, 1),
    "plane": (_plane, 2),
    "gauss": (_gauss, 2),
    "saddle": (_saddle, 2),
}
REGRESSION_BY_NAME: dict[str, _Generator] = {
    name: _regression(f, d) for name, (f, d) in REGRESSION_TRUTH.items()
}
