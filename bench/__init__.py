"""nonlinbench: an activation-function ablation benchmark.

import bench
bench.run_grid("quick")                                   # train (see bench.api)
runs, curves, surfaces = bench.load_results("results/quick")
bench.stats.bootstrap_ci(runs.test_acc)                   # statistics helpers
"""

import importlib

__version__ = "0.1.0"

from bench.plugins import get_activation, list_activations  # noqa: E402
from bench.registry import Activation, ActivationError, register_activation  # noqa: E402

__all__ = [
    "Activation",
    "ActivationError",
    "__version__",
    "get_activation",
    "list_activations",
    "load_results",
    "register_activation",
    "run_grid",
    "schema",
    "stats",
]

_LAZY = {"run_grid": "bench.api", "load_results": "bench.api"}


def __getattr__(name: str):
    """The training API and the submodules load on first use: `import bench` stays light."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("stats", "schema"):
        return importlib.import_module(f"bench.{name}")
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
