"""Measures of what a batch of trained MLPs computes.

Every function here is a pure tensor function, batched over the M models that the engine trains at
once, and runs on whatever device its inputs live on. Gradients are the caller's business: call
these inside `torch.no_grad()`.

Shapes used throughout:
    M  models trained together (stacked parameters)
    P  points of an evaluation grid
    N  training points
    d  input features
    C  output logits (1 for two classes, C for C > 2 classes)

The measures:
    covering_grid          a regular 2-D grid over a dataset's bounding box, for decision surfaces
    pca_basis, project_2d, the plane of the first two principal components, so that grid measures
    grid_in_input_space    also apply to data with d > 2 features
    linear_fit_r2          how well the best affine function explains each model's logits
    count_linear_regions   number of linear pieces of a piecewise-linear network seen on a grid
    dead_unit_fraction     fraction of hidden units whose output is 0 on every training point
    surface_probabilities, the probability / class maps drawn as decision surfaces
    predicted_class
"""

from __future__ import annotations

import math

import torch

# A default budget, in tensor elements, for the float64 intermediates of linear_fit_r2: models are
# processed a chunk at a time so that memory stays modest for M=4096 models on P=10000 points.
DEFAULT_CHUNK_ELEMENTS = 2**24


# -----------------------------------------------------------------------------
# grids and projections


def covering_grid(
    X: torch.Tensor, resolution: int = 100, margin: float = 0.1
) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """A resolution x resolution grid covering the 2-D points X, for drawing decision surfaces.

    X: (n, 2) all data points of one dataset (train and test together).
    The grid spans the bounding box of X enlarged by `margin` times its size on each side; an axis
    on which all points coincide is given a unit size centred on them, so the grid never collapses.

    Returns:
        points: (resolution * resolution, 2) float32 on X's device, row-major over (y, x):
            points.reshape(resolution, resolution, 2)[iy, ix] == (xs[ix], ys[iy]), x increasing with
            ix and y increasing with iy (the layout of `plt.imshow(..., origin="lower")`).
        extent: (x_min, x_max, y_min, y_max) of the grid, as Python floats.
    """
    if X.dim() != 2 or X.shape[1] != 2:
        raise ValueError(f"covering_grid needs points of shape (n, 2), got {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError("covering_grid needs at least one point")
    lo = X.detach().double().amin(0).tolist()
    hi = X.detach().double().amax(0).tolist()
    bounds = []
    for a, b in zip(lo, hi, strict=True):
        if b - a <= 0:  # all points share this coordinate: give the axis a unit size
            a, b = a - 0.5, b + 0.5
        size = b - a
        bounds += [a - margin * size, b + margin * size]
    x_min, x_max, y_min, y_max = bounds

    xs = torch.linspace(x_min, x_max, resolution, dtype=torch.float32, device=X.device)  # (res,)
    ys = torch.linspace(y_min, y_max, resolution, dtype=torch.float32, device=X.device)  # (res,)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # (res, res) each, indexed [iy, ix]
    points = torch.stack([gx, gy], dim=-1).reshape(-1, 2)  # (res * res, 2)
    return points, (x_min, x_max, y_min, y_max)


def pca_basis(reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and first two principal directions of `reference` (n, d), d >= 2.

    Returns mean (d,) and components (2, d) with orthonormal rows, in reference's dtype. The SVD is
    done in float64 on the centred data. The sign of each direction is fixed (its largest-magnitude
    entry is made positive) so that plots do not flip between runs or devices.
    """
    if reference.dim() != 2 or reference.shape[1] < 2:
        raise ValueError(f"pca_basis needs data of shape (n, d >= 2), got {tuple(reference.shape)}")
    ref = reference.detach().double()
    mean = ref.mean(0)  # (d,)
    _, _, vh = torch.linalg.svd(ref - mean, full_matrices=False)  # vh: (min(n, d), d)
    components = vh[:2]  # (2, d) rows sorted by explained variance
    if components.shape[0] < 2:  # a single reference point: any orthonormal pair will do
        components = torch.eye(2, ref.shape[1], dtype=ref.dtype, device=ref.device)
    biggest = components.abs().argmax(dim=1, keepdim=True)  # (2, 1)
    signs = torch.sign(components.gather(1, biggest))  # (2, 1), never 0 for a unit vector
    components = components * signs
    return mean.to(reference.dtype), components.to(reference.dtype)


def project_2d(
    X: torch.Tensor, reference: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Coordinates of X (n, d) on the plane of the first two principal components of `reference`.

    Returns (coords (n, 2), mean (d,), components (2, d)); mean and components are those of
    `pca_basis(reference)`. Typical use for CSV data with d > 2 features:

        coords, mean, components = project_2d(X_all, reference=X_train)
        points_2d, extent = covering_grid(coords)
        points = grid_in_input_space(points_2d, mean, components)  # (P, d), feed to the models

    and the grid measures (linear_fit_r2 on points_2d, count_linear_regions) then describe the
    network restricted to that plane.
    """
    mean, components = pca_basis(reference)
    coords = (X.to(components.dtype) - mean) @ components.T  # (n, d) @ (d, 2) -> (n, 2)
    return coords, mean, components


def grid_in_input_space(
    points_2d: torch.Tensor, mean: torch.Tensor, components: torch.Tensor
) -> torch.Tensor:
    """Map plane coordinates (P, 2) back to input space: mean + points_2d @ components -> (P, d).

    The inverse of project_2d for points that lie on the plane.
    """
    return mean + points_2d.to(components.dtype) @ components  # (P, 2) @ (2, d) -> (P, d)


# -----------------------------------------------------------------------------
# how linear is the learned function?


def _fit_basis(x: torch.Tensor, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    """An orthonormal basis of the centred column space of x (m, P, d), in float64.

    Returns (xs, rotation): xs (m, P, d) the centred points with columns scaled to unit norm, and
    rotation (m, d, d) such that xs @ rotation has orthonormal columns spanning the same space (plus
    zero columns for directions dropped as degenerate). Centring accounts for the intercept.
    """
    x = x.double()
    xc = x - x.mean(dim=1, keepdim=True)  # (m, P, d)
    # scale columns to unit norm so that features of very different sizes are equally well
    # conditioned; a constant column is all zeros and stays so
    norms = xc.square().sum(dim=1, keepdim=True).sqrt()  # (m, 1, d)
    xs = xc / norms.clamp_min(torch.finfo(torch.float64).tiny)
    gram = xs.mT @ xs  # (m, d, d)
    evals, evecs = torch.linalg.eigh(gram)  # (m, d), (m, d, d)
    # drop (near-)degenerate directions, e.g. a 2-D grid embedded in d > 2 dimensions: a singular
    # value below ~100 ulp of the points' dtype relative to the largest is rounding noise
    keep = evals > evals.amax(dim=-1, keepdim=True) * cutoff  # (m, d)
    inv_sqrt = torch.where(keep, evals.clamp_min(torch.finfo(torch.float64).tiny).rsqrt(), 0.0)
    rotation = evecs * inv_sqrt.unsqueeze(-2)  # (m, d, d): column k is v_k / sqrt(lambda_k)
    return xs, rotation


def linear_fit_r2(
    points: torch.Tensor, logits: torch.Tensor, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
) -> torch.Tensor:
    """R^2 of the best affine fit of each model's logits on the points.

    points: (P, d) shared by all models, or (M, P, d) one set per model.
    logits: (M, P, C) the models' outputs at those points.
    Returns (M,) float64: 1 - sum_c SS_res[c] / sum_c SS_tot[c], where SS_res is the residual of
    the least-squares fit with an intercept and SS_tot the variance around the mean (both summed
    over the C outputs). A network without activations, of any depth, gives 1 to float precision;
    a network with a curved decision function gives clearly less.

    A (near-)constant output is affine, so it scores 1.0: that is when the outputs vary by less
    than about 16 ulp of their largest magnitude (exactly: SS_tot <= P*C*(16*eps*max|logit|)^2),
    which for float32 logits is variation that is pure rounding noise.

    Implementation: the fit is solved in float64 by projecting the centred logits onto an
    orthonormal basis of the centred points, obtained from the eigendecomposition of the (d, d)
    Gram matrix. Degenerate point directions (a grid embedded in d > 2 dimensions by
    grid_in_input_space is rank 2) are dropped instead of breaking the solve, which the
    `torch.linalg.lstsq` CUDA driver would not do. Models are processed in chunks of about
    `chunk_elements` float64 values.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must be (M, P, C), got {tuple(logits.shape)}")
    M, P, C = logits.shape
    shared = points.dim() == 2
    pts = points.unsqueeze(0) if shared else points  # (1 or M, P, d)
    if pts.dim() != 3 or pts.shape[1] != P or (not shared and pts.shape[0] != M):
        raise ValueError(f"points {tuple(points.shape)} do not match logits {tuple(logits.shape)}")
    d = pts.shape[2]

    pts_eps = torch.finfo(pts.dtype).eps if pts.is_floating_point() else 0.0
    cutoff = max((100 * pts_eps) ** 2, 1e-12)  # on eigenvalues = squared singular values
    out_eps = torch.finfo(logits.dtype).eps if logits.is_floating_point() else 0.0

    if shared:  # one basis serves every model
        xs, rotation = _fit_basis(pts, cutoff)  # (1, P, d), (1, d, d)

    r2 = torch.empty(M, dtype=torch.float64, device=logits.device)
    step = max(1, chunk_elements // max(1, P * max(C, d)))
    for m0 in range(0, M, step):
        m1 = min(M, m0 + step)
        if not shared:
            xs, rotation = _fit_basis(pts[m0:m1], cutoff)  # (m, P, d), (m, d, d)
        y = logits[m0:m1].double()  # (m, P, C)
        yc = y - y.mean(dim=1, keepdim=True)
        # coordinates of yc in the orthonormal basis U = xs @ rotation: U^T yc
        coef = rotation.mT @ (xs.mT @ yc)  # (m, d, C)
        ss_fit = coef.square().sum(dim=(1, 2))  # (m,) explained sum of squares
        ss_tot = yc.square().sum(dim=(1, 2))  # (m,)
        ss_res = (ss_tot - ss_fit).clamp_min(0.0)  # Pythagoras: residual is orthogonal to fit
        constant_tol = P * C * (16 * out_eps * y.abs().amax(dim=(1, 2))) ** 2  # (m,)
        is_constant = ss_tot <= constant_tol
        ratio = ss_res / torch.where(is_constant, 1.0, ss_tot)
        r2[m0:m1] = torch.where(is_constant, 1.0, 1.0 - ratio)
    return r2


# -----------------------------------------------------------------------------
# linear regions of piecewise-linear networks


def _count_unique_rows(codes: torch.Tensor) -> torch.Tensor:
    """Number of distinct rows per model. codes: (m, P, W) int64 -> (m,) int64.

    Sorts the P rows of every model lexicographically with a least-significant-word-first radix
    sort (stable sorts, batched over models), then counts the places where a row differs from the
    one before it.
    """
    m, P, W = codes.shape
    if P == 0:
        return torch.zeros(m, dtype=torch.int64, device=codes.device)
    order = torch.sort(codes[..., W - 1], dim=1, stable=True).indices  # (m, P)
    for j in range(W - 2, -1, -1):
        key = codes[..., j].gather(1, order)  # (m, P) word j in the current order
        order = order.gather(1, torch.sort(key, dim=1, stable=True).indices)
    rows = codes.gather(1, order.unsqueeze(-1).expand(m, P, W))  # (m, P, W) sorted rows
    changes = (rows[:, 1:] != rows[:, :-1]).any(dim=-1)  # (m, P - 1)
    return 1 + changes.sum(dim=1)


def count_linear_regions(
    pre_activations: list[torch.Tensor],
    num_models: int = 1,
    device: torch.device | str | None = None,
    chunk_bytes: int = 2**26,
) -> torch.Tensor:
    """Number of linear pieces of each model seen on a grid, for activations with a kink at 0.

    pre_activations: one (M, P, width_l) tensor per hidden layer, the pre-activation values at the
        P grid points. Layers may differ in width.
    Returns (M,) int64: the number of distinct activation patterns (signs `pre > 0` of all hidden
    units, of all layers) among the P points of each model. For relu and leaky_relu the network is
    affine on each pattern's region, so this counts the linear pieces.

    It is a lower bound on the true count: a piece that contains no grid point is missed (small
    pieces, and pieces outside the grid's box), and a pattern whose region is not connected counts
    once. An empty list (depth 0, logistic regression) gives ones of shape (num_models,) on
    `device`: the model is a single affine piece.

    Patterns are packed 8 bits to a byte and 8 bytes to an int64 word, and models are processed in
    chunks of about `chunk_bytes` bytes of boolean pattern.
    """
    if not pre_activations:
        return torch.ones(num_models, dtype=torch.int64, device=device)
    M, P = pre_activations[0].shape[:2]
    for h in pre_activations:
        if h.dim() != 3 or h.shape[:2] != (M, P):
            raise ValueError("pre_activations must all be (M, P, width) with the same M and P")
    n_words = pattern_words(sum(h.shape[2] for h in pre_activations))
    counts = torch.empty(M, dtype=torch.int64, device=pre_activations[0].device)
    step = max(1, chunk_bytes // max(1, P * 64 * n_words))
    for m0 in range(0, M, step):
        codes = activation_pattern_codes([h[m0 : m0 + step] for h in pre_activations])
        counts[m0 : m0 + step] = count_distinct_patterns(codes)
    return counts


def pattern_words(n_units: int) -> int:
    """int64 words per point of a packed activation pattern of `n_units` hidden units."""
    return max(1, math.ceil(n_units / 64))  # padding units are always 0


def activation_pattern_codes(pre_activations: list[torch.Tensor]) -> torch.Tensor:
    """Each point's activation pattern (signs `pre > 0` of all hidden units, of all layers),
    packed 8 bits to a byte and 8 bytes to an int64 word.

    pre_activations: one (M, P, width_l) tensor per hidden layer (at least one).
    Returns (M, P, pattern_words(units)) int64: two points share a pattern exactly when their
    rows are equal, so patterns of points seen in separate batches can be concatenated along P
    and counted together (count_distinct_patterns), at 1/32 of the pre-activations' bytes.
    """
    M, P = pre_activations[0].shape[:2]
    n_words = pattern_words(sum(h.shape[2] for h in pre_activations))
    # the sign pattern of every point, all layers side by side
    bits = torch.zeros(M, P, 64 * n_words, dtype=torch.bool, device=pre_activations[0].device)
    start = 0
    for h in pre_activations:
        bits[..., start : start + h.shape[2]] = h > 0
        start += h.shape[2]
    # pack: bit k of byte j is unit 8j + k; the bytes of a point, read 8 at a time, are its
    # int64 words (only equality of words matters, so byte order and sign are irrelevant)
    bits = bits.view(M, P, 8 * n_words, 8).view(torch.uint8)  # (M, P, bytes, 8) of 0 / 1
    packed = torch.zeros(M, P, 8 * n_words, dtype=torch.uint8, device=bits.device)
    for k in range(8):
        packed |= bits[..., k] << k
    return packed.view(torch.int64)  # (M, P, n_words)


def count_distinct_patterns(codes: torch.Tensor) -> torch.Tensor:
    """Distinct activation patterns per model among its points: (M, P, W) int64 codes of
    activation_pattern_codes -> (M,) int64."""
    return _count_unique_rows(codes)


# -----------------------------------------------------------------------------
# dead units


def dead_unit_fraction(
    post_activations: list[torch.Tensor],
    num_models: int = 1,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Fraction of hidden units that are dead: output exactly 0 on every training point.

    post_activations: one (M, N, width_l) tensor per hidden layer, the activation outputs on all N
        training points. Layers may differ in width.
    Returns (M,) float32: dead units of all layers / hidden units of all layers. An empty list
    (depth 0: no hidden units) gives NaN of shape (num_models,) on `device`, since the fraction is
    undefined there, not 0.
    """
    if not post_activations:
        return torch.full((num_models,), float("nan"), dtype=torch.float32, device=device)
    n_dead = sum((h == 0).all(dim=1).sum(dim=-1) for h in post_activations)  # (M,)
    n_units = sum(h.shape[2] for h in post_activations)
    return n_dead.float() / n_units


# -----------------------------------------------------------------------------
# decision surfaces


def surface_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Probabilities to colour a decision surface. logits (M, P, C) -> (M, P) float.

    C == 1 (two classes, one logit): sigmoid, the probability of class 1.
    C >= 2: the largest softmax probability, i.e. the confidence in the predicted class.
    """
    if logits.shape[-1] == 1:
        return torch.sigmoid(logits[..., 0])
    return torch.softmax(logits, dim=-1).amax(dim=-1)


def predicted_class(logits: torch.Tensor) -> torch.Tensor:
    """Predicted class per point. logits (M, P, C) -> (M, P) int64.

    C == 1: class 1 where the logit is > 0, else 0. C >= 2: argmax over the logits.
    """
    if logits.shape[-1] == 1:
        return (logits[..., 0] > 0).long()
    return logits.argmax(dim=-1)
