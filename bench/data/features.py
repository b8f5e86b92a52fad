"""Feature maps: nonlinearity in the inputs instead of in the network.

A map is applied to a dataset's coordinates after the split (so every map sees the same points)
and before the network; the grid measures and decision surfaces stay on the original plane.
For d coordinates (x1, ..., xd):

    raw          x1..xd                                   (the default)
    quadratic    x1..xd, their squares, their pairwise products
    sine         x1..xd, sin x1..sin xd
    playground   quadratic's and sine's together: for two coordinates, TensorFlow Playground's
                 seven inputs x1, x2, x1^2, x2^2, x1*x2, sin x1, sin x2

A linear model on `quadratic` features separates two circles: the nonlinearity can live in the
features or be learned by the hidden layers.
"""

from __future__ import annotations

import itertools

import torch

FEATURE_MAPS: tuple[str, ...] = ("raw", "quadratic", "sine", "playground")


def _squares_and_products(x: torch.Tensor) -> list[torch.Tensor]:
    d = x.shape[-1]
    squares = [x[..., i : i + 1] ** 2 for i in range(d)]
    products = [
        x[..., i : i + 1] * x[..., j : j + 1] for i, j in itertools.combinations(range(d), 2)
    ]
    return squares + products


def apply_feature_map(name: str, x: torch.Tensor) -> torch.Tensor:
    """x (..., d) -> (..., k): the network's inputs under feature map `name`."""
    if name == "raw":
        return x
    parts = [x]
    if name in ("quadratic", "playground"):
        parts += _squares_and_products(x)
    if name in ("sine", "playground"):
        parts.append(torch.sin(x))
    if len(parts) == 1:
        raise ValueError(f"unknown feature map '{name}'; allowed: {', '.join(FEATURE_MAPS)}")
    return torch.cat(parts, dim=-1)


def mapped_size(name: str, d: int) -> int:
    """How many inputs a map makes of d coordinates."""
    return apply_feature_map(name, torch.zeros(1, d)).shape[1]
