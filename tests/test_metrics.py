"""Specification of bench.engine.metrics, with networks whose answers can be checked by hand."""

import math
from itertools import pairwise

import pytest
import torch

from bench.engine.metrics import (
    count_linear_regions,
    covering_grid,
    dead_unit_fraction,
    grid_in_input_space,
    linear_fit_r2,
    pca_basis,
    predicted_class,
    project_2d,
    surface_probabilities,
)

# -----------------------------------------------------------------------------
# helpers


def stacked_forward(x, weights, biases, activation=None):
    """The engine's batched forward pass on hand-chosen stacked parameters.

    x: (P, d) shared points or (M, P, d). weights[l]: (M, fan_in, fan_out), biases[l]: (M, 1,
    fan_out). The activation (None = identity) follows every layer but the last.
    Returns logits (M, P, C), pre-activations and post-activations of the hidden layers.
    """
    M = weights[0].shape[0]
    h = x.expand(M, *x.shape) if x.dim() == 2 else x  # (M, P, d)
    pres, posts = [], []
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        h = torch.baddbmm(b, h, W)  # (M, P, fan_out)
        if i < len(weights) - 1:
            pres.append(h)
            h = activation(h) if activation is not None else h
            posts.append(h)
    return h, pres, posts


def stack(*arrays):
    """Stack per-model parameter lists into (M, ...) float32 tensors."""
    return torch.tensor(arrays, dtype=torch.float32)


def random_params(M, sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(M, i, o, generator=g) / math.sqrt(i) for i, o in pairwise(sizes)]
    biases = [0.1 * torch.randn(M, 1, o, generator=g) for o in sizes[1:]]
    return weights, biases


def square_grid(resolution=100):
    """A grid over [-1, 1]^2 (no margin). Even resolution: no grid point lies exactly on 0."""
    points, _ = covering_grid(torch.tensor([[-1.0, -1.0], [1.0, 1.0]]), resolution, margin=0.0)
    return points


def one_layer_relu(lines):
    """One hidden ReLU layer whose unit k switches on across the line a*x + b*y + c = 0."""
    W1 = stack([[a for a, _, _ in lines], [b for _, b, _ in lines]])  # (1, 2, units)
    b1 = stack([[c for _, _, c in lines]])  # (1, 1, units)
    W2 = torch.ones(1, len(lines), 1)
    b2 = torch.zeros(1, 1, 1)
    return [W1, W2], [b1, b2]


# -----------------------------------------------------------------------------
# covering_grid


def test_covering_grid_shape_layout_and_extent():
    X = torch.tensor([[0.0, 0.0], [10.0, 2.0], [4.0, 1.0]])
    points, extent = covering_grid(X, resolution=7, margin=0.1)
    assert points.shape == (49, 2) and points.dtype == torch.float32
    # the box [0, 10] x [0, 2] grows by 10% of its size on each side
    assert extent == pytest.approx((-1.0, 11.0, -0.2, 2.2))
    grid = points.reshape(7, 7, 2)  # [iy, ix]
    assert grid[0, 0].tolist() == pytest.approx([-1.0, -0.2])
    assert grid[0, -1].tolist() == pytest.approx([11.0, -0.2])
    assert grid[-1, 0].tolist() == pytest.approx([-1.0, 2.2])
    assert (grid[:, 1:, 0] > grid[:, :-1, 0]).all()  # x increases with ix ...
    assert (grid[1:, :, 0] == grid[:-1, :, 0]).all()  # ... and not with iy
    assert (grid[1:, :, 1] > grid[:-1, :, 1]).all()  # y increases with iy ...
    assert (grid[:, 1:, 1] == grid[:, :-1, 1]).all()  # ... and not with ix
    x_min, x_max, y_min, y_max = extent
    assert (X[:, 0] > x_min).all() and (X[:, 0] < x_max).all()
    assert (X[:, 1] > y_min).all() and (X[:, 1] < y_max).all()


def test_covering_grid_of_points_on_a_line_does_not_collapse():
    X = torch.tensor([[1.0, 3.0], [2.0, 3.0]])  # all y == 3: that axis gets unit size
    _, (x_min, x_max, y_min, y_max) = covering_grid(X, resolution=5, margin=0.0)
    assert (x_min, x_max) == (1.0, 2.0)
    assert (y_min, y_max) == (2.5, 3.5)


# -----------------------------------------------------------------------------
# PCA projection


def test_pca_grid_maps_back_onto_the_data_plane():
    # 3-D data on the plane z = x + 2y + 5, off the origin
    g = torch.Generator().manual_seed(0)
    xy = torch.randn(200, 2, generator=g) * torch.tensor([3.0, 1.0])
    X = torch.cat([xy, (xy[:, 0] + 2 * xy[:, 1] + 5).unsqueeze(1)], dim=1)  # (200, 3)

    coords, mean, components = project_2d(X, reference=X)
    assert coords.shape == (200, 2) and mean.shape == (3,) and components.shape == (2, 3)
    assert torch.allclose(components @ components.T, torch.eye(2), atol=1e-5)  # orthonormal
    assert torch.allclose(mean, pca_basis(X)[0])

    # the data lies on the plane, so projecting and mapping back is lossless
    assert torch.allclose(grid_in_input_space(coords, mean, components), X, atol=1e-4)

    points_2d, _ = covering_grid(coords, resolution=20)
    points = grid_in_input_space(points_2d, mean, components)  # (400, 3)
    assert points.shape == (400, 3)
    residual = points[:, 2] - (points[:, 0] + 2 * points[:, 1] + 5)
    assert residual.abs().max() < 1e-3


# -----------------------------------------------------------------------------
# linear_fit_r2


def test_r2_by_hand_on_three_points():
    x = torch.tensor([[-1.0], [0.0], [1.0]])  # (P=3, d=1)
    affine = 2 * x + 3  # fitted exactly
    square = x**2  # 1, 0, 1: symmetric, so the best fit is the constant 2/3 and explains nothing
    constant = torch.full_like(x, 7.0)  # SS_tot = 0: a constant is affine
    logits = torch.stack([affine, square, constant])  # (M=3, P=3, C=1)
    assert linear_fit_r2(x, logits).tolist() == pytest.approx([1.0, 0.0, 1.0], abs=1e-12)

    # two outputs: x (SS_tot = 2, fitted) and x^2 (SS_tot = SS_res = 2/3)
    # R^2 = 1 - (2/3) / (2 + 2/3) = 0.75
    both = torch.cat([x, x**2], dim=1).unsqueeze(0)  # (1, 3, 2)
    assert linear_fit_r2(x, both).item() == pytest.approx(0.75)


@pytest.mark.parametrize("depth", [1, 3, 8])
@pytest.mark.parametrize("n_out", [1, 3])
def test_network_without_activation_is_affine_at_any_depth(depth, n_out):
    weights, biases = random_params(M=4, sizes=[2] + [16] * depth + [n_out], seed=depth)
    points = square_grid(50)
    logits, _, _ = stacked_forward(points, weights, biases, activation=None)
    r2 = linear_fit_r2(points, logits)
    assert r2.shape == (4,)
    assert (r2 >= 1 - 1e-5).all() and (r2 <= 1 + 1e-9).all()


def test_affine_network_on_a_pca_grid_in_higher_dimension():
    # A 2-D grid embedded in 5-D is rank deficient; the fit must still be exact
    g = torch.Generator().manual_seed(1)
    X = torch.randn(300, 5, generator=g)
    coords, mean, components = project_2d(X, reference=X)
    points_2d, _ = covering_grid(coords, resolution=30)
    points = grid_in_input_space(points_2d, mean, components)  # (900, 5)
    weights, biases = random_params(M=3, sizes=[5, 8, 8, 1], seed=2)
    logits, _, _ = stacked_forward(points, weights, biases, activation=None)
    assert (linear_fit_r2(points, logits) >= 1 - 1e-5).all()
    assert (linear_fit_r2(points_2d, logits) >= 1 - 1e-5).all()


def test_relu_network_computing_abs_x_plus_abs_y_is_far_from_linear():
    # |x| + |y| = relu(x) + relu(-x) + relu(y) + relu(-y). It is even in x and in y, so on a
    # symmetric grid the best affine fit is the constant: R^2 = 0.
    weights, biases = one_layer_relu([(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0)])
    points = square_grid(100)
    logits, _, _ = stacked_forward(points, weights, biases, torch.relu)
    assert torch.allclose(logits[0, :, 0], points.abs().sum(1))
    assert linear_fit_r2(points, logits).item() == pytest.approx(0.0, abs=1e-6)


def test_r2_batched_equals_one_model_at_a_time_and_per_model_points():
    weights, biases = random_params(M=5, sizes=[2, 8, 8, 3], seed=3)
    points = square_grid(40)
    logits, _, _ = stacked_forward(points, weights, biases, torch.tanh)
    together = linear_fit_r2(points, logits)
    alone = torch.stack([linear_fit_r2(points, logits[m : m + 1])[0] for m in range(5)])
    assert torch.allclose(together, alone, atol=1e-12)
    per_model = linear_fit_r2(points.expand(5, -1, -1), logits)
    assert torch.allclose(together, per_model, atol=1e-12)
    tiny_chunks = linear_fit_r2(points, logits, chunk_elements=1)  # one model per chunk
    assert torch.allclose(together, tiny_chunks, atol=1e-12)
    assert (together < 1 - 1e-3).all()  # tanh networks bend


# -----------------------------------------------------------------------------
# count_linear_regions

# Lines a*x + b*y + c = 0 in the box [-1, 1]^2. A line that crosses the box adds
# 1 + (number of earlier lines it crosses inside the box) regions.
CROSS = [(1, 0, 0), (0, 1, 0)]  # x = 0, y = 0: 1 + 1 + (1 + 1) = 4
GENERAL = [(1, 0, 0), (0, 1, 0), (1, 1, -0.5)]  # + x + y = 0.5 crossing both inside: 4 + 3 = 7
PARALLEL = [(1, 0, 0.5), (1, 0, 0), (1, 0, -0.5)]  # x = -0.5, 0, 0.5: strips, 1 + 1 + 1 + 1 = 4
OUTSIDE = [(1, 0, 0), (0, 1, 0), (1, 0, -5)]  # x = 5 never crosses the box: still 4


@pytest.mark.parametrize(
    "lines, expected",
    [(CROSS, 4), (GENERAL, 7), (PARALLEL, 4), (OUTSIDE, 4), ([(0, 0, -1)], 1)],
)
def test_regions_of_one_relu_layer_by_hand(lines, expected):
    weights, biases = one_layer_relu(lines)
    _, pres, _ = stacked_forward(square_grid(100), weights, biases, torch.relu)
    assert count_linear_regions(pres).tolist() == [expected]


def test_depth_zero_is_one_region():
    assert count_linear_regions([]).tolist() == [1]
    assert count_linear_regions([], num_models=3).tolist() == [1, 1, 1]


def test_regions_batched_equals_one_model_at_a_time():
    # three models of width 3 stacked: GENERAL, PARALLEL, OUTSIDE -> 7, 4, 4
    params = [one_layer_relu(lines) for lines in (GENERAL, PARALLEL, OUTSIDE)]
    weights = [torch.cat([p[0][i] for p in params]) for i in range(2)]
    biases = [torch.cat([p[1][i] for p in params]) for i in range(2)]
    _, pres, _ = stacked_forward(square_grid(100), weights, biases, torch.relu)
    assert count_linear_regions(pres).tolist() == [7, 4, 4]
    assert count_linear_regions(pres, chunk_bytes=1).tolist() == [7, 4, 4]
    for m, expected in enumerate([7, 4, 4]):
        assert count_linear_regions([h[m : m + 1] for h in pres]).tolist() == [expected]


def test_regions_count_patterns_across_layers_and_64_bit_words():
    # 69 always-off units then one unit switching at x = 0: the only informative bit is unit 69,
    # in the second 64-bit word, so the packing must keep it: 2 regions
    P = 10
    x = torch.linspace(-1, 1, P)
    off = torch.full((1, P, 69), -1.0)
    layer = torch.cat([off, x.reshape(1, P, 1)], dim=-1)  # (1, P, 70)
    assert count_linear_regions([layer]).tolist() == [2]

    # random patterns drawn from a small pool, over three layers (120 units, 2 words), compared
    # with a per-model torch.unique
    g = torch.Generator().manual_seed(4)
    M, P, widths = 3, 300, [50, 40, 30]
    pool = torch.randn(M, 12, sum(widths), generator=g)  # 12 candidate patterns per model
    pick = torch.randint(0, 12, (M, P), generator=g)
    pre = pool.gather(1, pick.unsqueeze(-1).expand(M, P, sum(widths)))  # (M, P, 120)
    layers = list(pre.split(widths, dim=-1))
    reference = [torch.unique(pre[m] > 0, dim=0).shape[0] for m in range(M)]
    assert count_linear_regions(layers).tolist() == reference
    assert count_linear_regions(layers, chunk_bytes=1).tolist() == reference


# -----------------------------------------------------------------------------
# dead_unit_fraction


def test_dead_units_over_all_layers():
    # layer 1: unit 0 has bias -100 and never fires on [-1, 1]^2 (dead); unit 1 is x + 1 >= 0,
    # with x + 1 > 0 on most points (alive). Layer 2 reads only unit 1 and adds 1: both alive.
    # Model 2 also kills layer-2 unit 1 with bias -100. Model 1: 1 dead of 4 units, model 2: 2 of 4.
    W1 = stack([[1, 1], [0, 0]], [[1, 1], [0, 0]])  # (2, 2, 2)
    b1 = stack([[-100, 1]], [[-100, 1]])
    W2 = stack([[0, 0], [1, 1]], [[0, 0], [1, 1]])
    b2 = stack([[1, 1]], [[1, -100]])
    W3 = torch.ones(2, 2, 1)
    b3 = torch.zeros(2, 1, 1)
    _, _, posts = stacked_forward(square_grid(20), [W1, W2, W3], [b1, b2, b3], torch.relu)
    assert dead_unit_fraction(posts).tolist() == [0.25, 0.5]
    assert dead_unit_fraction([h[1:] for h in posts]).tolist() == [0.5]  # batching


def test_no_hidden_units_have_an_undefined_dead_fraction():
    result = dead_unit_fraction([], num_models=2)
    assert result.shape == (2,) and torch.isnan(result).all()


# -----------------------------------------------------------------------------
# decision surfaces


def test_surface_probabilities_and_predicted_class():
    binary = torch.tensor([[[0.0], [math.log(3)], [-2.0]]])  # (1, 3, 1)
    assert surface_probabilities(binary)[0].tolist() == pytest.approx(
        [0.5, 0.75, 1 / (1 + math.e**2)]
    )
    assert predicted_class(binary).tolist() == [[0, 1, 0]]  # logit exactly 0 -> class 0

    three = torch.log(torch.tensor([[[1.0, 2.0, 1.0], [6.0, 1.0, 1.0]]]))  # (1, 2, 3)
    assert surface_probabilities(three)[0].tolist() == pytest.approx([0.5, 0.75])
    assert predicted_class(three).tolist() == [[1, 0]]
    assert predicted_class(three).dtype == torch.int64
