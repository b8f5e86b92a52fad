"""Finding and loading activation plugins, and the registry they make.

Three routes add an activation:

1. the decorator, in any imported code: ``@bench.register_activation("name")``;
2. a local Python file: ``nonlinbench run --plugin my_acts.py`` (see `load_plugin_file`);
3. an installed package declaring an entry point in the group ``nonlinbench.activations``
   whose value is the function or `nn.Module` subclass (see `load_entry_point`).

As in flake8's plugin finder, finding plugins and loading them are separate steps: discovery is
sorted, loading returns records, and `load_registry` builds a new `Registry` from them. A plugin
that fails is recorded with where it came from without taking the others down.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from bench.activations.registry import (
    _DECLARED,
    BUILTIN_REGISTRY,
    Activation,
    ActivationError,
    PluginFailure,
    Registry,
    _collecting,
    make_activation,
)

ENTRY_POINT_GROUP = "nonlinbench.activations"


def load_plugin_file(path: str | Path) -> list[Activation]:
    """Imports a local Python file and returns the activations its decorators declared.

    Raises ActivationError naming the file when it is missing, fails to import or declares
    something invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise ActivationError(f"plugin file {path} does not exist (expected a .py file)")
    module_name = f"nonlinbench_plugin_{abs(hash(str(path.resolve())))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ActivationError(f"plugin file {path} cannot be imported (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    try:
        with _collecting(str(path)) as collected:
            sys.modules[module_name] = module  # dataclasses and the like look themselves up
            spec.loader.exec_module(module)
    except ActivationError:
        raise
    except Exception as exc:
        raise ActivationError(
            f"plugin file {path} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    except SystemExit as exc:
        raise ActivationError(
            f"plugin file {path} called sys.exit({exc.code}) while being imported"
        ) from None
    finally:
        # Not importable by name elsewhere, so pickling (joblib, Dask) must carry the plugin's
        # functions and classes by value: cloudpickle does so for modules not in sys.modules.
        sys.modules.pop(module_name, None)
    return collected


def discover_entry_points() -> list[importlib.metadata.EntryPoint]:
    """Entry points of the nonlinbench.activations group, sorted for determinism."""
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return sorted(eps, key=lambda ep: (ep.dist.name if ep.dist else "", ep.name))


def entry_point_source(ep: importlib.metadata.EntryPoint) -> str:
    return f"{ep.dist.name}=={ep.dist.version}" if ep.dist else f"entry point {ep.value}"


def load_entry_point(ep: importlib.metadata.EntryPoint) -> list[Activation]:
    """The activations one entry point brings: its value, plus what its import declares."""
    source = entry_point_source(ep)
    try:
        with _collecting(source) as collected:
            obj = ep.load()
        # A package may declare with the decorator on import and point its entry point at the
        # same object: that is one activation, not a duplicate.
        if not any(a.name == ep.name.lower() for a in collected):
            collected.append(make_activation(ep.name, obj, source=source))
    except ActivationError:
        raise
    except (Exception, SystemExit) as exc:
        raise ActivationError(
            f"plugin {source} (entry point '{ep.name} = {ep.value}') failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return collected


def load_installed(
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> tuple[tuple[Activation, ...], tuple[PluginFailure, ...]]:
    """Loads installed plugins (the discovered entry points by default): what loaded, what failed."""
    loaded: list[Activation] = []
    failures: list[PluginFailure] = []
    for ep in discover_entry_points() if entry_points is None else entry_points:
        try:
            loaded.extend(load_entry_point(ep))
        except ActivationError as exc:
            failures.append(PluginFailure(entry_point_source(ep), str(exc)))
    return tuple(loaded), tuple(failures)


def load_registry(
    plugin_files: Iterable[str | Path] = (),
    *,
    installed: tuple[tuple[Activation, ...], tuple[PluginFailure, ...]] | None = None,
) -> Registry:
    """Built-ins, declared activations, installed plugins, then plugin files, as one Registry.

    An installed plugin that fails (or clashes) is recorded in `Registry.failures`; a plugin
    file that fails raises ActivationError (the user named it). `installed` defaults to the
    plugins installed in this environment, loaded once per process.
    """
    registry = BUILTIN_REGISTRY.add(*_DECLARED)
    loaded, failures = installed_plugins() if installed is None else installed
    for activation in loaded:
        try:
            registry = registry.add(activation)
        except ActivationError as exc:
            failures = (*failures, PluginFailure(activation.source, str(exc)))
    for failure in failures:
        registry = registry.with_failure(failure)
    for path in plugin_files:
        registry = add_plugin_file(registry, path)
    return registry


def add_plugin_file(registry: Registry, path: str | Path) -> Registry:
    """A new registry with what a plugin file declares (a file loaded before is skipped)."""
    resolved = str(Path(path).resolve())
    if resolved in registry.plugin_files:
        return registry
    added = registry.add(*load_plugin_file(path))
    return replace(added, plugin_files=(*registry.plugin_files, resolved))


# --------------------------------------------------------------------------- conveniences


@functools.cache
def installed_plugins() -> tuple[tuple[Activation, ...], tuple[PluginFailure, ...]]:
    """`load_installed()`, once per process (importing packages is not free)."""
    return load_installed()


def default_registry() -> Registry:
    """Built-ins, declared activations and installed plugins: for interactive use and the
    public helpers below (the command line builds its registry with `load_registry`)."""
    return load_registry()


def get_activation(name: str | Activation | Callable) -> Activation:
    """`default_registry().get(name)`."""
    return default_registry().get(name)


def list_activations() -> list[Activation]:
    return list(default_registry())
