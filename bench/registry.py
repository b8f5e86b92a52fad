"""Name -> activation lookup, aliases, "did you mean", and plugin loading.

Three routes add an activation, all ending in `register_activation`:

1. the decorator, in any imported code: ``@bench.register_activation("name")``;
2. a local Python file: ``nonlinbench run --plugin my_acts.py`` (see `load_plugin_file`);
3. an installed package declaring an entry point in the group ``nonlinbench.activations``
   whose value is the function or `nn.Module` subclass (see `load_entry_points`).

Discovery of entry points and loading them are separate steps, discovery is sorted, and a
plugin that fails is recorded with where it came from without taking the others down.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from bench.activations import BUILTINS

ENTRY_POINT_GROUP = "nonlinbench.activations"


class ActivationError(ValueError):
    """A user-facing problem with an activation name or a plugin."""


class Elementwise(nn.Module):
    """Wraps an elementwise function f(x) -> tensor as a parameter-free module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], name: str):
        super().__init__()
        self.fn = fn
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


@dataclass(frozen=True)
class Activation:
    name: str  # canonical lower-case name
    factory: Callable[[], nn.Module]  # a fresh module; one per hidden layer
    description: str
    reference: str
    source: str  # "builtin", a plugin file's path, "package==version", or "python:<module>"
    learnable: bool  # the module holds trainable parameters (trained per model by the engine)
    piecewise_linear: bool = False  # affine between kinks at 0: linear regions are countable
    glorot_factor: float = 6.0  # Glorot bound sqrt(factor / (fan_in + fan_out)); 2 for sigmoid
    aliases: tuple[str, ...] = field(default=())
    # Parameter-free elementwise function, when there is one: the engine applies it directly to
    # stacked (models, samples, width) tensors instead of going through torch.func.
    function: Callable[[torch.Tensor], torch.Tensor] | None = None

    def make(self) -> nn.Module:
        return self.factory()


_registry: dict[str, Activation] = {}
_aliases: dict[str, str] = {}
# Plugins that failed to load: (where it came from, message). Shown by list-activations and in
# "unknown activation" errors, so a broken plugin explains why its names are missing.
_plugin_failures: list[tuple[str, str]] = []
_entry_points_loaded = False
_loaded_files: set[str] = set()
_current_source: str | None = None  # set while a plugin file or entry point is being loaded


def _add(activation: Activation) -> None:
    names = (activation.name, *activation.aliases)
    for name in names:
        taken = _registry.get(name) or _registry.get(_aliases.get(name, ""))
        if taken is not None:
            raise ActivationError(
                f"activation '{name}' from {activation.source} is already registered "
                f"(by {taken.source}); choose another name"
            )
    _registry[activation.name] = activation
    for alias in activation.aliases:
        _aliases[alias] = activation.name


def _register_builtins() -> None:
    for b in BUILTINS:
        _add(
            Activation(
                name=b.name,
                factory=lambda fn=b.fn, name=b.name: Elementwise(fn, name),
                description=b.description,
                reference=b.reference,
                source="builtin",
                learnable=False,
                piecewise_linear=b.piecewise_linear,
                glorot_factor=b.glorot_factor,
                aliases=b.aliases,
                function=b.fn,
            )
        )


def _probe(module: nn.Module, where: str) -> None:
    """Checks that an activation maps a (samples, width) tensor to one of the same shape."""
    x = torch.linspace(-2, 2, 12).reshape(3, 4)
    try:
        y = module(x)
    except Exception as exc:  # a plugin's own bug: report it with its origin
        raise ActivationError(
            f"{where} fails on a test tensor: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ActivationError(
            f"{where} must be elementwise (a tensor of shape (3, 4) in, same shape out); got {got}"
        )


def make_activation(
    name: str,
    obj: object,
    *,
    source: str,
    aliases: tuple[str, ...] = (),
    description: str | None = None,
    reference: str = "",
    piecewise_linear: bool = False,
    glorot_factor: float = 6.0,
) -> Activation:
    """Builds (and checks) an Activation from a function or an nn.Module subclass."""
    name = name.lower()
    where = f"activation '{name}' from {source}"
    doc = (inspect.getdoc(obj) or "").strip().splitlines()
    description = description or (doc[0] if doc else "(no description)")
    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        try:
            sample = obj()
        except Exception as exc:
            raise ActivationError(
                f"{where}: {obj.__name__}() must be constructible without arguments "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        _probe(sample, where)
        learnable = any(p.requires_grad for p in sample.parameters())
        factory: Callable[[], nn.Module] = obj
        function = None
    elif callable(obj) and not inspect.isclass(obj):
        _probe(Elementwise(obj, name), where)
        learnable = False
        factory = lambda fn=obj: Elementwise(fn, name)  # noqa: E731
        function = obj
    else:
        raise ActivationError(
            f"{where} is a {type(obj).__name__}, not a function or an nn.Module subclass"
        )
    return Activation(
        name=name,
        factory=factory,
        description=description,
        reference=reference,
        source=source,
        learnable=learnable,
        piecewise_linear=piecewise_linear,
        glorot_factor=glorot_factor,
        aliases=tuple(a.lower() for a in aliases),
        function=function,
    )


def register_activation(
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    description: str | None = None,
    reference: str = "",
    piecewise_linear: bool = False,
    glorot_factor: float = 6.0,
) -> Callable:
    """Decorator: registers an elementwise function or an nn.Module subclass under `name`.

    >>> @register_activation("squareplus", reference="Barron 2021")
    ... def squareplus(x):
    ...     return (x + torch.sqrt(x * x + 4)) / 2
    """

    def decorate(obj):
        source = _current_source or f"python:{getattr(obj, '__module__', '?')}"
        _add(
            make_activation(
                name,
                obj,
                source=source,
                aliases=aliases,
                description=description,
                reference=reference,
                piecewise_linear=piecewise_linear,
                glorot_factor=glorot_factor,
            )
        )
        return obj

    return decorate


@contextlib.contextmanager
def _loading(source: str) -> Iterator[None]:
    """Attributes registrations to `source`; undoes them all if the plugin fails midway."""
    global _current_source
    saved = dict(_registry), dict(_aliases)
    previous, _current_source = _current_source, source
    try:
        yield
    except BaseException:
        _registry.clear(), _registry.update(saved[0])
        _aliases.clear(), _aliases.update(saved[1])
        raise
    finally:
        _current_source = previous


def load_plugin_file(path: str | Path) -> list[str]:
    """Imports a local Python file whose decorators register activations; returns the new names.

    Raises ActivationError naming the file when it is missing, fails to import or registers
    something invalid; in every failure, the registry is left as it was.
    """
    path = Path(path)
    if not path.is_file():
        raise ActivationError(f"plugin file {path} does not exist (expected a .py file)")
    source = str(path)
    before = set(_registry)
    resolved = str(path.resolve())
    if resolved in _loaded_files:  # already loaded in this process (e.g. a repeated --plugin)
        return []
    module_name = f"nonlinbench_plugin_{len(_loaded_files)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ActivationError(f"plugin file {path} cannot be imported (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    try:
        with _loading(source):
            sys.modules[module_name] = module  # dataclasses and the like look themselves up
            spec.loader.exec_module(module)
    except ActivationError:
        raise
    except Exception as exc:
        raise ActivationError(
            f"plugin file {path} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        # Not importable by name elsewhere, so pickling (joblib, Dask) must carry the plugin's
        # functions and classes by value: cloudpickle does so for modules not in sys.modules.
        sys.modules.pop(module_name, None)
    _loaded_files.add(resolved)
    return sorted(set(_registry) - before)


def discover_entry_points() -> list[importlib.metadata.EntryPoint]:
    """Entry points of the nonlinbench.activations group, sorted for determinism."""
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return sorted(eps, key=lambda ep: (ep.dist.name if ep.dist else "", ep.name))


def _entry_point_source(ep: importlib.metadata.EntryPoint) -> str:
    return f"{ep.dist.name}=={ep.dist.version}" if ep.dist else f"entry point {ep.value}"


def load_entry_point(ep: importlib.metadata.EntryPoint) -> None:
    """Loads one entry point; its value is the function or nn.Module subclass for `ep.name`."""
    source = _entry_point_source(ep)
    try:
        with _loading(source):
            obj = ep.load()
            existing = _registry.get(ep.name.lower())
            # A package may register with the decorator on import and point its entry point
            # at the same object: that is one registration, not a duplicate.
            if existing is None or existing.source != source:
                _add(make_activation(ep.name, obj, source=source))
    except ActivationError:
        raise
    except Exception as exc:
        raise ActivationError(
            f"plugin {source} (entry point '{ep.name} = {ep.value}') failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def load_entry_points(force: bool = False) -> None:
    """Loads every installed plugin once; failures are recorded, not raised."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return
    _entry_points_loaded = True
    for ep in discover_entry_points():
        try:
            load_entry_point(ep)
        except ActivationError as exc:
            _plugin_failures.append((_entry_point_source(ep), str(exc)))


def plugin_failures() -> list[tuple[str, str]]:
    return list(_plugin_failures)


def known_names() -> list[str]:
    load_entry_points()
    return sorted(_registry)


def get_activation(name: str | Activation | Callable) -> Activation:
    """Resolves a name (case-insensitive, aliases allowed), or passes an activation through.

    A function or nn.Module subclass is wrapped on the fly (as timm's create_act does).
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        label = getattr(name, "__name__", type(name).__name__).lower()
        return make_activation(label, name, source="object")
    load_entry_points()
    key = name.strip().lower()
    key = _aliases.get(key, key)
    if key in _registry:
        return _registry[key]
    candidates = sorted({*_registry, *_aliases})
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    broken = "".join(
        f"\n  note: plugin {src} failed to load: {msg}" for src, msg in _plugin_failures
    )
    raise ActivationError(
        f"unknown activation '{name}'{hint}; known: {', '.join(sorted(_registry))}{broken}"
    )


def list_activations() -> list[Activation]:
    load_entry_points()
    return [_registry[k] for k in sorted(_registry)]


def ensure_registered(activation: Activation) -> None:
    """Makes an activation resolvable in this process (a worker receiving a plugin's task)."""
    load_entry_points()
    current = _registry.get(activation.name)
    if current is None:
        _add(activation)
    elif current.source != "builtin" and current is not activation:
        # A long-lived worker (loky, Dask) may hold an older definition of the same plugin:
        # the task's definition is the one the user ran with.
        _registry[activation.name] = activation


def unregister(name: str) -> None:
    """Removes an activation and its aliases (for tests and interactive sessions)."""
    activation = _registry.pop(name.lower())
    for alias in activation.aliases:
        _aliases.pop(alias, None)


_register_builtins()
