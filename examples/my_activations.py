"""A local plugin file: `nonlinbench run --grid my_grid.toml --plugin examples/my_activations.py`.

Both kinds of activation a plugin can register: an elementwise function, and an nn.Module with
learnable parameters (trained per model by the engine, like the network's weights).
"""

import torch
from torch import nn

import bench


@bench.register_activation("bent_identity", reference="a classic smooth activation")
def bent_identity(x: torch.Tensor) -> torch.Tensor:
    """(sqrt(x^2 + 1) - 1) / 2 + x: smooth, unbounded, never flat."""
    return (torch.sqrt(x * x + 1) - 1) / 2 + x


@bench.register_activation(
    "learnable_prelu", reference="He et al. 2015, Delving Deep into Rectifiers (PReLU)"
)
class LearnablePReLU(nn.Module):
    """max(0, x) + a * min(0, x) with one learnable slope a per layer, starting at 0.25."""

    def __init__(self):
        super().__init__()
        self.slope = nn.Parameter(torch.tensor(0.25))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=0) + self.slope * torch.clamp(x, max=0)
