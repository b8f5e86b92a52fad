"""Built-in activations: one entry each, with a one-line description and its origin.

Every built-in is an elementwise function of a tensor, so it applies unchanged to a single
model's activations (samples, width) and to the engine's stacked ones (models, samples, width).
The registry (`bench.registry`) wraps these in modules and resolves names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    description: str
    reference: str
    aliases: tuple[str, ...] = ()
    # True when the function is affine on each side of kinks at 0, so the linear pieces of the
    # network are the distinct on/off patterns of its units (used to count linear regions).
    piecewise_linear: bool = False
    # True when the function is affine everywhere: a network using it is one affine map.
    affine: bool = False
    # Scale for Glorot-uniform init: sqrt(gain_factor / (fan_in + fan_out)); scikit-learn uses 2
    # for the logistic function and 6 otherwise.
    glorot_factor: float = 6.0


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


BUILTINS: tuple[Builtin, ...] = (
    Builtin(
        "none",
        identity,
        "identity: no nonlinearity, so the network collapses to one affine map",
        "the seed notebook's model_1; any linear-algebra text",
        aliases=("identity", "linear"),
        piecewise_linear=True,
        affine=True,
    ),
    Builtin(
        "relu",
        F.relu,
        "max(0, x): rectified linear unit",
        "Nair & Hinton 2010, Rectified Linear Units Improve Restricted Boltzmann Machines",
        piecewise_linear=True,
    ),
    Builtin(
        "leaky_relu",
        lambda x: F.leaky_relu(x, 0.01),
        "max(0.01x, x): ReLU with a small negative slope, so units cannot die",
        "Maas, Hannun & Ng 2013, Rectifier Nonlinearities Improve Neural Network Acoustic Models",
        aliases=("lrelu",),
        piecewise_linear=True,
    ),
    Builtin(
        "elu",
        F.elu,
        "x if x > 0 else exp(x) - 1: exponential linear unit",
        "Clevert, Unterthiner & Hochreiter 2016, Fast and Accurate Deep Network Learning by ELUs",
    ),
    Builtin(
        "selu",
        F.selu,
        "scaled ELU with self-normalising constants",
        "Klambauer et al. 2017, Self-Normalizing Neural Networks",
    ),
    Builtin(
        "gelu",
        F.gelu,
        "x * Phi(x): Gaussian error linear unit (exact erf form)",
        "Hendrycks & Gimpel 2016, Gaussian Error Linear Units (GELUs)",
    ),
    Builtin(
        "silu",
        F.silu,
        "x * sigmoid(x): sigmoid-weighted linear unit",
        "Elfwing et al. 2018 (SiLU); Ramachandran et al. 2017, Searching for Activation Functions",
        aliases=("swish",),
    ),
    Builtin(
        "mish",
        F.mish,
        "x * tanh(softplus(x))",
        "Misra 2019, Mish: A Self Regularized Non-Monotonic Activation Function",
    ),
    Builtin(
        "tanh",
        torch.tanh,
        "hyperbolic tangent: zero-centred, saturating",
        "LeCun et al. 1998, Efficient BackProp",
    ),
    Builtin(
        "sigmoid",
        torch.sigmoid,
        "logistic function 1 / (1 + exp(-x)): saturating, not zero-centred",
        "Rumelhart, Hinton & Williams 1986, Learning representations by back-propagating errors",
        aliases=("logistic",),
        glorot_factor=2.0,
    ),
    Builtin(
        "softplus",
        F.softplus,
        "log(1 + exp(x)): a smooth ReLU",
        "Dugas et al. 2001, Incorporating Second-Order Functional Knowledge for Better Option Pricing",
    ),
    Builtin(
        "sin",
        torch.sin,
        "sin(x): periodic activation",
        "Sitzmann et al. 2020, Implicit Neural Representations with Periodic Activation Functions",
        aliases=("sine",),
    ),
)
