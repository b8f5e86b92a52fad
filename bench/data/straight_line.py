"""The best straight line: the most accuracy any affine classifier can reach on a dataset.

A network without an activation computes one affine map of its inputs however deep it is, so
its decision boundary is one straight line (two classes) or the cells of an argmax of affine
functions (more classes). This yardstick is the accuracy-best such classifier for the dataset's
own distribution, found as the Bayes rule is estimated (bench.data.ceiling): from a large noisy
sample of the generator itself (SAMPLE_POINTS, its own seed), then scored on each run's very
test points, so it stands beside chance, the linear network and the best possible on one axis.

* **Two classes** (`best_line`): every direction theta in [0, pi) on a grid of DIRECTIONS, then
  REFINE finer directions around the best; for each direction the sample is projected on it,
  sorted, and every threshold between neighbours is tried with either side as class 1 (exact
  for that direction: cumulative counts). The result is the line w . x + b = 0 with the most
  sample points on their side.
* **More classes** (`best_affine`): an argmax of affine scores has no threshold sweep; it is
  searched by maximising a smoothed accuracy (the softmax probability of the right class at a
  temperature that falls to SHARPEST) from multinomial logistic regression and RESTARTS random
  starts, keeping the most accurate on the sample. A search, so a lower bound on the best.

It differs from what the linear network learns: cross-entropy training finds the affine map
of least loss, which on symmetric data (circles, xor) is nearly constant and scores near
chance, while the accuracy-best line cuts off the part of the plane it can win.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from bench.data import ceiling
from bench.data.datasets import GENERATOR_VERSION, REGRESSION_DATASETS, is_csv, make_dataset
from bench.data.real import is_real

METHOD_VERSION = "1"  # bump when the search below changes, so cached lines are found again
SAMPLE_POINTS = 20_000  # noisy points: a line's accuracy on them has a standard error < 0.36 pt
DIRECTIONS = 180  # coarse grid over [0, pi): a degree apart
REFINE = 32  # finer directions within one coarse step either side of the best
RESTARTS = 4  # random starts of the multi-class search, besides logistic regression
SHARPEST = 0.01  # the smoothed accuracy's last temperature (in units of the scores)
SEED = 20261207  # data seed of the sample (distinct from the Bayes estimate's)
CACHE_FILE = "straight_lines.json"  # beside the ceilings


def threshold_accuracy(projection: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """The best threshold on one projection (n,) of two-class labels y (n,) in {0, 1}:
    (accuracy, threshold, sign), predicting class 1 where sign * (projection - threshold) > 0."""
    order = np.argsort(projection, kind="stable")
    p, labels = projection[order], y[order]
    n = len(p)
    ones_below = np.concatenate([[0], np.cumsum(labels)])  # (n + 1,) class-1 points below cut i
    zeros_below = np.arange(n + 1) - ones_below
    total_ones = ones_below[-1]
    # cut i puts points [0, i) below: class 1 above is right for the zeros below and ones above
    above = zeros_below + (total_ones - ones_below)
    below = (n - total_ones - zeros_below) + ones_below  # class 1 below: the mirror image
    cut = np.concatenate([[p[0] - 1.0], (p[:-1] + p[1:]) / 2, [p[-1] + 1.0]])
    # a cut between two equal projections separates nothing: only cuts between distinct values
    valid = np.concatenate([[True], p[1:] > p[:-1], [True]])
    above, below = np.where(valid, above, -1), np.where(valid, below, -1)
    i, j = int(above.argmax()), int(below.argmax())
    if above[i] >= below[j]:
        return above[i] / n, float(cut[i]), 1
    return below[j] / n, float(cut[j]), -1


def best_line(
    X: np.ndarray, y: np.ndarray, directions: int = DIRECTIONS, refine: int = REFINE
) -> tuple[np.ndarray, float, float]:
    """The accuracy-best straight line for two-class points X (n, 2), y (n,): (w (2,), b,
    accuracy on X), predicting class 1 where X @ w + b > 0."""
    X, y = np.asarray(X, np.float64), np.asarray(y).astype(np.int64)

    def search(thetas: np.ndarray) -> tuple[float, float, float, int]:
        best = (-1.0, 0.0, 0.0, 1)
        for theta in thetas:
            accuracy, threshold, sign = threshold_accuracy(X @ _unit(theta), y)
            if accuracy > best[0]:
                best = (accuracy, float(theta), threshold, sign)
        return best

    step = np.pi / directions
    accuracy, theta, threshold, sign = search(np.arange(directions) * step)
    if refine:
        fine = theta + np.linspace(-step, step, 2 * refine + 1)
        accuracy, theta, threshold, sign = max(
            (accuracy, theta, threshold, sign), search(fine), key=lambda r: r[0]
        )
    w = sign * _unit(theta)
    return w, float(-sign * threshold), float(accuracy)


def _unit(theta: float) -> np.ndarray:
    return np.array([np.cos(theta), np.sin(theta)])


def best_affine(
    X: np.ndarray, y: np.ndarray, restarts: int = RESTARTS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, float]:
    """An accuracy-best affine classifier found by search for C-class points X (n, d), y (n,):
    (W (C, d), b (C,), accuracy on X), predicting argmax_k X @ W[k] + b[k]."""
    from sklearn.linear_model import LogisticRegression

    X64, y64 = np.asarray(X, np.float64), np.asarray(y).astype(np.int64)
    classes = int(y64.max()) + 1
    fit = LogisticRegression(C=1e4, max_iter=2000).fit(X64, y64)
    starts = [(fit.coef_, fit.intercept_)]
    rng = np.random.default_rng(seed)
    for _ in range(restarts):
        starts.append((rng.normal(size=(classes, X64.shape[1])), rng.normal(size=classes)))
    Xt, yt = torch.from_numpy(X64), torch.from_numpy(y64)
    best = (None, None, -1.0)
    for W0, b0 in starts:
        W, b = _sharpen(Xt, yt, torch.tensor(W0, dtype=torch.float64),
                        torch.tensor(b0, dtype=torch.float64))  # fmt: skip
        accuracy = float(((Xt @ W.T + b).argmax(1) == yt).double().mean())
        if accuracy > best[2]:
            best = (W.numpy(), b.numpy(), accuracy)
    return best


def _sharpen(X, y, W, b, steps: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on the smoothed accuracy mean softmax(scores / t)[y], t falling geometrically from
    1 to SHARPEST in units of the scores' spread (the scale is kept fixed by normalising W)."""
    W, b = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    opt = torch.optim.Adam([W, b], lr=0.05)
    for t in np.geomspace(1.0, SHARPEST, steps):
        scale = W.norm()  # accuracy does not depend on the scale; the temperature is relative
        scores = (X @ W.T + b) / scale
        loss = -torch.softmax(scores / t, 1).gather(1, y[:, None]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return W.detach(), b.detach()


# -----------------------------------------------------------------------------
# the yardstick per dataset and noise, cached; scored on a run's test points


@functools.cache
def line_on_test(dataset: str, **data_args) -> float:
    """The best straight line's accuracy (a fraction) on one run's own test points: the
    yardstick beside its test accuracy. NaN for a CSV or regression dataset (whose
    distribution is unknown, or has no accuracy). ``data_args`` are make_dataset's other
    arguments (bench.schema.DATA_AXES)."""
    if is_csv(dataset) or is_real(dataset) or dataset in REGRESSION_DATASETS:
        return float("nan")
    data = make_dataset(dataset, **data_args)
    coords = data.coords_test if data.coords_test is not None else data.X_test
    if coords.shape[1] != 2:
        return float("nan")
    W, b = classifier(dataset, float(data_args.get("noise", 0.03)))
    predicted = (coords.double().numpy() @ W.T + b).argmax(1)
    return float((predicted == data.y_test.numpy()).mean())


@functools.cache
def classifier(dataset: str, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The best straight line of a built-in dataset at a noise level, as C affine scores W (C,
    2), b (C,) whose argmax is the predicted class (two classes: scores 0 and w . x + b).
    Cached in memory and on disk beside the Bayes estimates (bench.data.ceiling.stored)."""
    key = f"method {METHOD_VERSION}|generator {GENERATOR_VERSION}|{dataset}|{noise!r}"
    found = ceiling.stored(CACHE_FILE, key, lambda: _search(dataset, noise))
    return np.asarray(found["W"]), np.asarray(found["b"])


def _search(dataset: str, noise: float) -> dict:
    """The search on the generator's own sample, as JSON: {"W": [[...]], "b": [...]}."""
    data = make_dataset(dataset, SAMPLE_POINTS, noise=noise, data_seed=SEED, test_size=0.5,
                        stratify=False)  # fmt: skip
    coords = [d if d is not None else x for d, x in ((data.coords_train, data.X_train),
                                                     (data.coords_test, data.X_test))]  # fmt: skip
    X = torch.cat(coords).double().numpy()
    y = torch.cat([data.y_train, data.y_test]).numpy()
    if data.n_classes == 2:
        w, b0, _ = best_line(X, y)
        W, b = np.stack([np.zeros(2), w]), np.array([0.0, b0])
    else:
        W, b, _ = best_affine(X, y)
    return {"W": W.tolist(), "b": b.tolist()}
