"""What theory predicts for the quantities nonlinbench measures, computed from the activation
itself: mean-field signal and gradient propagation at initialisation.

Mean-field theory (Poole et al., "Exponential expressivity in deep neural networks through
transient chaos", NeurIPS 2016; Schoenholz et al., "Deep Information Propagation", ICLR 2017)
treats a wide layer's pre-activations as Gaussian. With weights of variance sigma_w^2 / fan_in
and biases of variance sigma_b^2, the pre-activation variance of layer l + 1 is

    q_{l+1} = sigma_w^2 E_z[phi(sqrt(q_l) z)^2] + sigma_b^2,     z ~ N(0, 1),

which settles at a fixed point q*, and a backpropagated gradient's squared norm is multiplied
per layer by

    chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2].

So each further hidden layer scales the gradient reaching the first layer by sqrt(chi_1): on a
log scale the first-layer gradient norm falls linearly with depth, with slope
log10(sqrt(chi_1)) per layer (chi_1 < 1: vanishing; > 1: exploding; = 1: the edge of chaos).
The expectations are quadratures (GRID_POINTS points) of the activation's own module
(built-in or plugin: phi' by autograd), so any activation gets a prediction.

The theory is for wide layers: at width 4 or 8 a layer's pre-activations are far from
Gaussian, and the report says where the measurement departs.

Initialisations (bench.engine.reference.init_parameters), for a square layer of width N:

    pytorch   U(-1/sqrt(N), 1/sqrt(N)) weights and biases: sigma_w^2 = 1/3, sigma_b^2 = 1/(3N)
    glorot    U(-b, b), b = sqrt(factor / 2N): sigma_w^2 = factor / 6, sigma_b^2 = factor / 6N
    kaiming   N(0, 2/N) weights, zero biases: sigma_w^2 = 2, sigma_b^2 = 0
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from bench.activations.registry import Activation

# Expectations under N(0, 1) on a fine even grid over +-Z_MAX: Gauss-Hermite nodes would put
# one node on relu's kink (phi'(0) = 0 carries a weight of 0.14 at 81 nodes, so chi_1 of relu
# under He init would read 0.86, not 1); the grid's error is below 1e-6 for these functions.
GRID_POINTS = 4_000  # even: no point at 0
Z_MAX = 10.0
FIXED_POINT_ITERATIONS = 500
FIXED_POINT_TOLERANCE = 1e-10


@dataclass(frozen=True)
class MeanField:
    """The mean-field quantities of one activation under one initialisation and width."""

    sigma_w2: float  # weight variance x fan_in
    sigma_b2: float  # bias variance
    q_star: float  # fixed-point pre-activation variance
    chi_1: float  # per-layer gain of a backpropagated gradient's squared norm

    @property
    def gain_per_layer(self) -> float:
        """Predicted ratio of the first-layer gradient norm at depth L + 1 to depth L."""
        return math.sqrt(self.chi_1)

    @property
    def log10_slope(self) -> float:
        """Predicted slope of log10(first-layer gradient norm) against depth, per layer."""
        return 0.5 * math.log10(self.chi_1) if self.chi_1 > 0 else -math.inf


def variances(init: str, width: int, glorot_factor: float = 6.0) -> tuple[float, float]:
    """(sigma_w^2, sigma_b^2) of a square hidden layer of ``width`` units (module docstring)."""
    if init == "pytorch":
        return 1 / 3, 1 / (3 * width)
    if init == "glorot":
        return glorot_factor / 6, glorot_factor / (6 * width)
    if init == "kaiming":
        return 2.0, 0.0
    raise ValueError(f"no mean-field variances for init {init!r}")


def _nodes() -> tuple[np.ndarray, np.ndarray]:
    nodes = np.linspace(-Z_MAX, Z_MAX, GRID_POINTS)
    weights = np.exp(-0.5 * nodes**2)
    return nodes, weights / weights.sum()  # expectations under N(0, 1)


def _phi_and_slope(activation: Activation, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """phi(x) and phi'(x) from the activation's own module, in float64 (autograd)."""
    module = activation.make().double()
    points = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    values = module(points.reshape(1, -1)).reshape(-1)
    (slopes,) = torch.autograd.grad(values.sum(), points)
    return values.detach().numpy(), slopes.numpy()


@functools.lru_cache(maxsize=256)
def mean_field(activation: Activation, init: str = "pytorch", width: int = 32) -> MeanField:
    """q* by iterating the variance map from q = 1, then chi_1 at q*."""
    sigma_w2, sigma_b2 = variances(init, width, activation.glorot_factor)
    z, w = _nodes()
    q = 1.0
    module = activation.make().double()
    for _ in range(FIXED_POINT_ITERATIONS):
        with torch.no_grad():
            points = torch.from_numpy(math.sqrt(q) * z).reshape(1, -1)
            phi = module(points).reshape(-1).numpy()
        new = sigma_w2 * float(w @ phi**2) + sigma_b2
        if not math.isfinite(new):
            break
        done = abs(new - q) <= FIXED_POINT_TOLERANCE * max(1.0, q)
        q = new
        if done:
            break
    _, slope = _phi_and_slope(activation, math.sqrt(max(q, 0.0)) * z)
    chi_1 = sigma_w2 * float(w @ slope**2)
    return MeanField(sigma_w2, sigma_b2, q, chi_1)
