"""nonlinbench: an activation-function ablation benchmark.

import bench
bench.run_grid("quick")                                   # train (see bench.api)
runs, curves, surfaces = bench.load_results("results/quick")
bench.stats.bootstrap_ci(runs.test_acc)                   # statistics helpers
"""

import importlib
import importlib.abc
import sys

__version__ = "0.1.0"


def forward_names(package: str, *modules: str):
    """A package's module `__getattr__` that finds a name in `modules`: the packages that
    replaced a module of the same name (bench.data was one module, now bench.data.datasets)
    keep serving the names that module had."""

    def __getattr__(name: str):
        for module in modules:
            found = importlib.import_module(module)
            if hasattr(found, name):
                return getattr(found, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


from bench.activations import plugins as _plugins  # noqa: E402
from bench.activations import registry as _registry  # noqa: E402
from bench.activations.plugins import get_activation, list_activations  # noqa: E402
from bench.activations.registry import Activation, ActivationError, register_activation  # noqa: E402

# bench/ was one folder of modules before it was split into packages by stage. Plugins import
# the registry and the plugin loader by their old names, so those two stay importable there;
# every other old name fails with a one-line message naming the module's new place.
sys.modules.setdefault("bench.registry", _registry)
sys.modules.setdefault("bench.plugins", _plugins)
MOVED = {
    "axes": "bench.grid.axes",
    "backends": "bench.run.backends",
    "blocks": "bench.results.blocks",
    "ceiling": "bench.data.ceiling",
    "commands": "bench.cli.commands",
    "counting": "bench.grid.counting",
    "crosscheck": "bench.perf.crosscheck",
    "csv_data": "bench.data.csv_files",
    "estimate": "bench.run.estimate",
    "execute": "bench.run.execute",
    "export": "bench.results.export",
    "features": "bench.data.features",
    "generators": "bench.data.generators",
    "grid_blocks": "bench.grid.blocks",
    "layers": "bench.grid.layers",
    "memory": "bench.run.memory",
    "metrics": "bench.engine.metrics",
    "model": "bench.engine.reference",
    "notebook": "bench.grid.notebook",
    "perf_report": "bench.perf.write",
    "pick": "bench.results.pick",
    "plan": "bench.run.plan",
    "runner": "bench.run.runner",
    "store": "bench.results.store",
    "theory": "bench.activations.theory",
}


class _MovedModules(importlib.abc.MetaPathFinder):
    """`import bench.runner` and the like: ModuleNotFoundError naming the new module."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package == "bench" and name in MOVED:
            new = MOVED[name]
            raise ModuleNotFoundError(f"{fullname} is now {new}: import {new}")
        return None


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())

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
    if name in ("registry", "plugins"):
        return sys.modules[f"bench.{name}"]
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
