"""Squareplus: (x + sqrt(x^2 + b)) / 2, a ReLU-like activation computed with algebra only.

Barron 2021, Squareplus: A Softplus-Like Algebraic Rectifier.
"""

import torch

B = 4.0  # the curvature at 0; b -> 0 gives ReLU


def squareplus(x: torch.Tensor) -> torch.Tensor:
    """(x + sqrt(x^2 + 4)) / 2: a smooth, algebraic ReLU (Barron 2021)."""
    return (x + torch.sqrt(x * x + B)) / 2
