"""Built-in activations: one entry each, with a one-line description and its origin.

Every built-in is an elementwise function of a tensor, so it applies unchanged to a single
model's activations (samples, width) and to the engine's stacked ones (models, samples, width).
The registry (`bench.activations.registry`) wraps these in modules and resolves names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[[torch.Tensor], torch.Tensor] | None  # None for a learnable one (`module`)
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
    # A learnable activation: an nn.Module class constructible without arguments, whose
    # parameters the engine trains per model (fn is None then).
    module: type[nn.Module] | None = None


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


# --------------------------------------------------------------------------- the zoo
# The literature's activations beyond the core twelve above. The fused kernel knows the
# parameter-free ones by code (bench.engine.fused_zoo); snake (libm's sin per element, slower
# there) and the learnable ones train on the engine's generic path (fused.why_not_fused).
# Each description starts with its formula; `nonlinbench card` gives each a verdict.


def squared_relu(x: torch.Tensor) -> torch.Tensor:
    return torch.square(F.relu(x))


def snake(x: torch.Tensor) -> torch.Tensor:
    return x + torch.square(torch.sin(x))


def gaussian(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-torch.square(x))


class LearnableSwish(nn.Module):
    """x * sigmoid(beta * x) with one learnable beta per layer, starting at 1 (SiLU)."""

    def __init__(self):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


# Boulle, Nakatsukasa & Townsend's type (3, 2) rational, initialised at their best rational
# approximation of ReLU on [-1, 1]; the denominator is 1 + |b1 x + b2 x^2| (Molina et al.'s
# "safe" Pade unit), so it never vanishes however training moves b.
RATIONAL_NUMERATOR = (0.0218, 0.5, 1.5957, 1.1915)  # a0 + a1 x + a2 x^2 + a3 x^3
RATIONAL_DENOMINATOR = (0.0, 2.383)  # b1 x + b2 x^2


class Rational(nn.Module):
    """(a0 + a1 x + a2 x^2 + a3 x^3) / (1 + |b1 x + b2 x^2|), learnable a and b per layer."""

    def __init__(self):
        super().__init__()
        self.numerator = nn.Parameter(torch.tensor(RATIONAL_NUMERATOR))
        self.denominator = nn.Parameter(torch.tensor(RATIONAL_DENOMINATOR))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.numerator.to(x.dtype), self.denominator.to(x.dtype)
        p = a[0] + x * (a[1] + x * (a[2] + x * a[3]))  # Horner
        q = 1 + torch.abs(x * (b[0] + x * b[1]))
        return p / q


ZOO: tuple[Builtin, ...] = (
    Builtin(
        "hardswish",
        F.hardswish,
        "x * relu6(x + 3) / 6: a piecewise-quadratic swish",
        "Howard et al. 2019, Searching for MobileNetV3",
        aliases=("hard_swish",),
    ),
    Builtin(
        "hardsigmoid",
        F.hardsigmoid,
        "relu6(x + 3) / 6: a piecewise-linear sigmoid",
        "Courbariaux, Bengio & David 2015, BinaryConnect; Howard et al. 2019 (this form)",
        aliases=("hard_sigmoid",),
    ),
    Builtin(
        "hardtanh",
        F.hardtanh,
        "clamp(x, -1, 1): a piecewise-linear tanh",
        "Collobert 2004, Large Scale Machine Learning (PhD thesis)",
        aliases=("hard_tanh",),
    ),
    Builtin(
        "relu6",
        F.relu6,
        "min(max(0, x), 6): ReLU capped at 6",
        "Krizhevsky 2010, Convolutional Deep Belief Networks on CIFAR-10",
    ),
    Builtin(
        "celu",
        F.celu,
        "max(0, x) + min(0, exp(x) - 1): continuously differentiable ELU (alpha 1)",
        "Barron 2017, Continuously Differentiable Exponential Linear Units",
    ),
    Builtin(
        "softsign",
        F.softsign,
        "x / (1 + |x|): a tanh with polynomial tails",
        "Turian, Bergstra & Bengio 2009, Quadratic Features and Deep Architectures for Chunking",
    ),
    Builtin(
        "squared_relu",
        squared_relu,
        "max(0, x)^2: squared ReLU",
        "So et al. 2021, Primer: Searching for Efficient Transformers for Language Modeling",
        aliases=("relu2", "relu_squared"),
    ),
    Builtin(
        "abs",
        torch.abs,
        "|x|: absolute-value rectification",
        "Jarrett et al. 2009, What is the Best Multi-Stage Architecture for Object Recognition?",
        aliases=("absolute",),
        piecewise_linear=True,
    ),
    Builtin(
        "snake",
        snake,
        "x + sin(x)^2: snake (a = 1), periodic on a linear trend",
        "Liu Ziyin, Hartwig & Ueda 2020, Neural Networks Fail to Learn Periodic Functions and "
        "How to Fix It",
    ),
    Builtin(
        "gaussian",
        gaussian,
        "exp(-x^2): a Gaussian bump, not monotonic",
        "Broomhead & Lowe 1988, Multivariable Functional Interpolation and Adaptive Networks",
    ),
    Builtin(
        "erf",
        torch.erf,
        "erf(x) = 2 / sqrt(pi) * integral_0^x exp(-t^2) dt: sigmoid-shaped, zero-centred",
        "Williams 1997, Computing with Infinite Networks",
    ),
    Builtin(
        "logsigmoid",
        F.logsigmoid,
        "log(1 / (1 + exp(-x))) = -softplus(-x): a smooth, negative ReLU-like curve",
        "Glorot, Bordes & Bengio 2011, Deep Sparse Rectifier Neural Networks (softplus, mirrored)",
        aliases=("log_sigmoid",),
    ),
    Builtin(
        "learnable_swish",
        None,
        "x * sigmoid(beta x), beta learnable per layer (from 1): swish",
        "Ramachandran, Zoph & Le 2017, Searching for Activation Functions",
        aliases=("swish_beta",),
        module=LearnableSwish,
    ),
    Builtin(
        "rational",
        None,
        "(a0 + a1 x + a2 x^2 + a3 x^3) / (1 + |b1 x + b2 x^2|), a and b learnable per layer, "
        "from a ReLU fit",
        "Molina, Schramowski & Kersting 2020, Pade Activation Units; Boulle, Nakatsukasa & "
        "Townsend 2020, Rational Neural Networks",
        aliases=("pade", "pau"),
        module=Rational,
    ),
)
