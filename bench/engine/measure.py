"""Mechanism measures of a stacked network: dead units, gradients at init, grid measures.

Grid measures live in the plane of the data: the input plane for two features, otherwise the
plane of the data's first two principal components, mapped back into input space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from bench.data.datasets import Dataset, data_key
from bench.data.features import apply_feature_map
from bench.engine import metrics
from bench.engine.stacked import StackedMLP, per_model_loss
from bench.spec import RunSpec

MEASURE_RESOLUTION = 100  # the plane's grid: 100 x 100 points, for the measures and surfaces
# Measuring on the grid keeps about three float32 tensors per hidden unit and grid point
# (pre-activations, post-activations, sign codes); models are measured in sub-batches that
# keep these under 64 MiB, far below a training chunk's budget, and a model too large for
# that alone is measured on the grid's points a batch at a time.
MEASURE_BYTES = 64 << 20


def measure_bytes_per_point(depth: int, width: int) -> int:
    """Bytes one model keeps per grid point while measured: three float32 per hidden unit."""
    return 4 * max(width * max(depth, 1), 1) * 3


def measure_batch_size(models: int, depth: int, width: int) -> int:
    """Models per sub-batch of the grid measures (see MEASURE_BYTES): at least one."""
    per_model = measure_bytes_per_point(depth, width) * MEASURE_RESOLUTION**2
    return max(1, min(models, MEASURE_BYTES // per_model))


def measure_point_batch(depth: int, width: int) -> int:
    """Grid points measured at a time: all of them, unless one model on all of them keeps
    more than MEASURE_BYTES (many wide layers: 64 x 4096 would keep 29 GiB); then as many as
    MEASURE_BYTES holds, at least one. The measures do not depend on it (grid_measures)."""
    points = MEASURE_RESOLUTION**2
    return max(1, min(points, MEASURE_BYTES // measure_bytes_per_point(depth, width)))


def measure_peak_bytes(models: int, depth: int, width: int) -> int:
    """Bytes the grid measures of `models` such models hold at once: one sub-batch's forward
    on one batch of points (MEASURE_BYTES at most, unless a single point keeps more), and the
    packed activation patterns of all the sub-batch's points, twice while they are counted
    (the codes and their sorted copy, metrics.count_distinct_patterns)."""
    together = measure_batch_size(models, depth, width)
    forward = measure_bytes_per_point(depth, width) * together * measure_point_batch(depth, width)
    codes = 8 * metrics.pattern_words(width * depth) * MEASURE_RESOLUTION**2 * together
    return forward + 2 * codes


@torch.no_grad()
def dead_unit_fractions(net: StackedMLP, X: torch.Tensor, batch: int) -> torch.Tensor:
    """Fraction of hidden units that output 0 on every sample of X: (models,)."""
    out = []
    for start in range(0, X.shape[0], batch):
        part = slice(start, start + batch)
        post = net.subset(part).forward(X[part], keep=True)[2]
        out.append(metrics.dead_unit_fraction([h.transpose(1, 2) for h in post]))
    return torch.cat(out)


@torch.no_grad()
def dead_networks(net: StackedMLP, X: torch.Tensor, batch: int) -> torch.Tensor:
    """Whether each network is dead on X (models, in, samples): some hidden layer outputs
    exactly zero for every unit and sample (no unit active on any input: the dying ReLU of Lu
    et al. 2019), so the output is the same everywhere and no gradient reaches the layers
    below. (models,) bool; never true without hidden layers. Only an activation that is zero
    on an interval can die: leaky_relu's negative side, elu or tanh never output exact zeros."""
    models = X.shape[0]
    dead = torch.zeros(models, dtype=torch.bool, device=X.device)
    for start in range(0, models, batch):
        part = slice(start, start + batch)
        post = net.subset(part).forward(X[part], keep=True)[2]  # each (m, width, samples)
        for h in post:
            dead[part] |= (h == 0).flatten(1).all(1)
    return dead


def init_gradient_norms(
    net: StackedMLP, X: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch gradient norms at init of the first and last hidden layer's weights: (models,)."""
    models = X.shape[0]
    if net.depth == 0:
        nan = torch.full((models,), float("nan"), device=X.device)
        return nan, nan
    first, last = net.weights[0], net.weights[net.depth - 1]
    loss = per_model_loss(net(X), y)
    g_first, g_last = torch.autograd.grad(loss.nansum(), [first, last])
    return g_first.flatten(1).norm(dim=1), g_last.flatten(1).norm(dim=1)


@dataclass(frozen=True)
class Plane:
    """A dataset's measurement plane: the grid, in the plane and in input space, and the test
    points in the plane."""

    kind: str  # "input" (two features), "pca" (more) or "line" (one: y is a dummy axis)
    points: torch.Tensor  # (P, 2) grid points in the plane, row-major [iy, ix]
    inputs: torch.Tensor  # (P, features) the same points in input space
    extent: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
    test_points: np.ndarray  # (n_test, 2) float32
    test_labels: np.ndarray  # (n_test,) int8 (zeros for regression)
    test_targets: np.ndarray  # (n_test,) float32 regression targets; (0,) for classification


def data_plane(data: Dataset) -> Plane:
    """The plane of the data's own coordinates (before any feature map), its grid, and the
    grid's points as the network's inputs (through the feature map). With more than two
    coordinates the plane is the first two principal components of the *training* inputs,
    centred at their mean (nothing about the test points chooses it); the grid covers every
    point's projection, and the test points are shown projected onto it."""
    train = data.coords_train if data.coords_train is not None else data.X_train
    test = data.coords_test if data.coords_test is not None else data.X_test
    coords = torch.cat([train, test])  # (n, d)
    if data.regression:
        labels, targets = np.zeros(len(data.y_test), np.int8), data.y_test.numpy()
    else:
        labels, targets = data.y_test.numpy().astype(np.int8), np.zeros(0, np.float32)
    if coords.shape[1] == 1:
        # A line: the grid's second axis is a dummy of unit height that the network never sees,
        # so a surface is drawn as bands and the measures count what happens along x.
        points, extent = metrics.covering_grid(
            torch.cat([coords, torch.zeros_like(coords)], 1), MEASURE_RESOLUTION
        )
        kind, on_plane, shown = "line", points[:, :1], torch.cat([test, torch.zeros_like(test)], 1)
    elif coords.shape[1] == 2:
        points, extent = metrics.covering_grid(coords, MEASURE_RESOLUTION)
        kind, on_plane, shown = "input", points, test
    else:
        mean, components = metrics.pca_basis(train)  # the training inputs' plane, as a model sees
        points, extent = metrics.covering_grid((coords - mean) @ components.T, MEASURE_RESOLUTION)
        on_plane = metrics.grid_in_input_space(points, mean, components)
        kind, shown = "pca", (test.to(components.dtype) - mean) @ components.T
    inputs = apply_feature_map(data.feature_map, on_plane)  # (P, inputs)
    shown = shown.numpy().astype(np.float32)
    return Plane(kind, points, inputs, extent, shown, labels, targets.astype(np.float32))


def plane_outputs(
    net: StackedMLP, inputs: torch.Tensor, point_batch: int, patterns: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Some models' logits on their planes' points, and the points' activation patterns,
    `point_batch` points at a time.

    inputs: (models, in, P). Returns logits (models, P, out) and, when `patterns` (and the
    network has hidden layers), codes (models, P, words) int64 (metrics.activation_pattern_codes),
    else None. Each point's forward is its own, so the batches concatenate along P to what one
    forward over all P gives, and distinct patterns are counted over all points at once.
    """
    patterns = patterns and net.depth > 0
    logits, codes = [], []
    for start in range(0, inputs.shape[2], point_batch):
        out, pre_acts, _ = net.forward(inputs[:, :, start : start + point_batch], keep=patterns)
        logits.append(out.transpose(1, 2))  # (models, points, out)
        if patterns:  # metrics take (models, points, units): transpose views of our layout
            codes.append(metrics.activation_pattern_codes([z.transpose(1, 2) for z in pre_acts]))
    return torch.cat(logits, 1), torch.cat(codes, 1) if patterns else None


def _regions(codes: torch.Tensor | None, models: int, device: torch.device) -> torch.Tensor:
    """Distinct activation patterns per model (models,), one where there are no hidden layers."""
    if codes is None:
        return torch.ones(models, device=device)
    return metrics.count_distinct_patterns(codes).float()


@torch.no_grad()
def grid_regions(
    net: StackedMLP, specs: Sequence[RunSpec], planes: dict[tuple, Plane], batch: int
) -> torch.Tensor:
    """linear_regions alone (see grid_measures): (models,), NaN where not countable. Used at
    initialisation, before training moves the boundaries."""
    models = len(specs)
    device = net.weights[0].device
    regions = torch.full((models,), float("nan"), device=device)
    if any(s.features != "raw" for s in specs):
        return regions  # a feature map bends the plane: its pieces are not linear
    if net.activation.affine:
        return torch.ones(models, device=device)  # one affine map: one region
    if not net.activation.piecewise_linear:
        return regions
    keys = [data_key(s) for s in specs]
    inputs_on_device = {k: p.inputs.to(device) for k, p in planes.items()}
    point_batch = measure_point_batch(specs[0].depth, specs[0].width)
    for start in range(0, models, batch):
        part = slice(start, min(start + batch, models))
        inputs = torch.stack([inputs_on_device[keys[i]].T for i in range(part.start, part.stop)])
        _, codes = plane_outputs(net.subset(part), inputs, point_batch, patterns=True)
        regions[part] = _regions(codes, part.stop - part.start, device).to(regions.dtype)
    return regions


@dataclass
class GridMeasures:
    r2: torch.Tensor  # (models,)
    regions: torch.Tensor  # (models,) float, NaN where not countable
    # row -> (P,) surface probabilities (regression: the predicted value), for surface rows
    probs: dict[int, torch.Tensor]
    preds: dict[int, torch.Tensor]  # row -> (P,) predicted classes (regression: zeros)


@torch.no_grad()
def grid_measures(
    net: StackedMLP,
    specs: Sequence[RunSpec],
    planes: dict[tuple, Plane],
    surface_rows: Sequence[int],
    batch: int,
    regression: bool = False,
) -> GridMeasures:
    """linear_fit_r2 and linear_regions on each model's data plane, and decision surfaces.

    Models are measured `batch` at a time, each sub-batch on its planes' points
    measure_point_batch at a time (all of them but for networks of many wide layers)."""
    models = len(specs)
    device = net.weights[0].device
    keys = [data_key(s) for s in specs]
    inputs_on_device = {k: p.inputs.to(device) for k, p in planes.items()}
    countable = net.activation.piecewise_linear
    point_batch = measure_point_batch(specs[0].depth, specs[0].width)
    r2 = torch.empty(models, device=device)
    regions = torch.full((models,), float("nan"), device=device)
    wanted = set(surface_rows)
    probs, preds = {}, {}
    for start in range(0, models, batch):
        part = slice(start, min(start + batch, models))
        rows = range(part.start, part.stop)
        inputs = torch.stack([inputs_on_device[keys[i]].T for i in rows])  # (m, in, P)
        points = torch.stack([planes[keys[i]].points for i in rows]).to(device)  # (m, P, 2)
        raw = all(specs[i].features == "raw" for i in rows)
        # a feature map bends the plane: its pieces are not linear, so not counted
        counted = raw and countable and not net.activation.affine
        logits, codes = plane_outputs(net.subset(part), inputs, point_batch, patterns=counted)
        r2[part] = metrics.linear_fit_r2(points, logits).to(r2.dtype)
        if raw and net.activation.affine:
            regions[part] = 1.0  # one affine map: one region, whatever the grid shows
        elif counted:
            regions[part] = _regions(codes, len(rows), device).to(regions.dtype)
        for i in wanted.intersection(rows):
            one = logits[i - start : i - start + 1]
            if regression:
                probs[i], preds[i] = one[0, :, 0], torch.zeros(one.shape[1], dtype=torch.int64)
            else:
                probs[i] = metrics.surface_probabilities(one)[0]
                preds[i] = metrics.predicted_class(one)[0]
    return GridMeasures(r2=r2, regions=regions, probs=probs, preds=preds)
