"""nonlinbench: an activation-function ablation benchmark."""

__version__ = "0.1.0"

from bench.registry import (  # noqa: E402
    Activation,
    ActivationError,
    get_activation,
    list_activations,
    register_activation,
)

__all__ = [
    "Activation",
    "ActivationError",
    "__version__",
    "get_activation",
    "list_activations",
    "register_activation",
]
