"""nonlinbench: an activation-function ablation benchmark."""

__version__ = "0.1.0"

from bench.plugins import get_activation, list_activations  # noqa: E402
from bench.registry import Activation, ActivationError, register_activation  # noqa: E402

__all__ = [
    "Activation",
    "ActivationError",
    "__version__",
    "get_activation",
    "list_activations",
    "register_activation",
]
