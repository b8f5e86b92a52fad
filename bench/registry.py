"""Activations by name: immutable records, a registry that is a value, and plugin loading.

Three routes add an activation:

1. the decorator, in any imported code: ``@bench.register_activation("name")``;
2. a local Python file: ``nonlinbench run --plugin my_acts.py`` (see `load_plugin_file`);
3. an installed package declaring an entry point in the group ``nonlinbench.activations``
   whose value is the function or `nn.Module` subclass (see `load_entry_point`).

As in flake8's plugin finder, finding plugins and loading them are separate steps: discovery is
sorted, loading returns records, and `load_registry` builds a new `Registry` from them. A plugin
that fails is recorded with where it came from without taking the others down. Nothing here
mutates a registry; the one piece of process state is the list of activations that decorators
in imported code have declared (`declared_activations`).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import functools
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

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
    affine: bool = False  # affine everywhere: a network using it is one affine map
    glorot_factor: float = 6.0  # Glorot bound sqrt(factor / (fan_in + fan_out)); 2 for sigmoid
    aliases: tuple[str, ...] = field(default=())
    # Parameter-free elementwise function, when there is one: the engine applies it directly to
    # stacked (models, width, samples) tensors instead of going through torch.func.
    function: Callable[[torch.Tensor], torch.Tensor] | None = None

    def make(self) -> nn.Module:
        return self.factory()


@dataclass(frozen=True)
class PluginFailure:
    source: str  # "package==version" or a file path
    message: str


def _builtin(b) -> Activation:
    return Activation(
        name=b.name,
        factory=lambda fn=b.fn, name=b.name: Elementwise(fn, name),
        description=b.description,
        reference=b.reference,
        source="builtin",
        learnable=False,
        piecewise_linear=b.piecewise_linear,
        affine=b.affine,
        glorot_factor=b.glorot_factor,
        aliases=b.aliases,
        function=b.fn,
    )


@dataclass(frozen=True)
class Registry:
    """Canonical name -> Activation, with aliases and the plugins that failed to load."""

    records: Mapping[str, Activation] = field(default_factory=lambda: MappingProxyType({}))
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    failures: tuple[PluginFailure, ...] = ()
    plugin_files: tuple[str, ...] = ()  # resolved paths of the plugin files loaded into it

    def add(self, *activations: Activation) -> Registry:
        """A new registry with `activations` added; a taken name or alias is an error."""
        records, aliases = dict(self.records), dict(self.aliases)
        for activation in activations:
            for name in (activation.name, *activation.aliases):
                taken = records.get(name) or records.get(aliases.get(name, ""))
                if taken is not None:
                    raise ActivationError(
                        f"activation '{name}' from {activation.source} is already registered "
                        f"(by {taken.source}); choose another name"
                    )
            records[activation.name] = activation
            aliases.update(dict.fromkeys(activation.aliases, activation.name))
        return replace(self, records=MappingProxyType(records), aliases=MappingProxyType(aliases))

    def with_failure(self, failure: PluginFailure) -> Registry:
        return replace(self, failures=(*self.failures, failure))

    def with_plugin_file(self, path: str | Path) -> Registry:
        """A new registry with what a plugin file declares (a file loaded before is skipped)."""
        resolved = str(Path(path).resolve())
        if resolved in self.plugin_files:
            return self
        added = self.add(*load_plugin_file(path))
        return replace(added, plugin_files=(*self.plugin_files, resolved))

    def __contains__(self, name: str) -> bool:
        key = name.strip().lower()
        return self.aliases.get(key, key) in self.records

    def __iter__(self) -> Iterator[Activation]:
        return iter(self.records[name] for name in sorted(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def get(self, name: str | Activation | Callable) -> Activation:
        """Resolves a name (case-insensitive, aliases allowed), or passes an activation through.

        A function or nn.Module subclass is wrapped on the fly (as timm's create_act does).
        """
        if isinstance(name, Activation):
            return name
        if not isinstance(name, str):
            label = getattr(name, "__name__", type(name).__name__).lower()
            return make_activation(label, name, source="object")
        key = name.strip().lower()
        key = self.aliases.get(key, key)
        if key in self.records:
            return self.records[key]
        candidates = sorted({*self.records, *self.aliases})
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        broken = "".join(
            f"\n  note: plugin {f.source} failed to load: {f.message}" for f in self.failures
        )
        raise ActivationError(
            f"unknown activation '{name}'{hint}; known: {', '.join(sorted(self.records))}{broken}"
        )


BUILTIN_REGISTRY = Registry().add(*(_builtin(b) for b in BUILTINS))


# --------------------------------------------------------------------------- making records


def _probe(module: nn.Module, where: str, *, applied_to_stacks: bool = True) -> None:
    """Checks, before any training, what the engine relies on:

    1. a (samples, width) tensor maps to one of the same shape;
    2. the output depends on the input (a constant cannot be trained through);
    3. each model's output depends on its own input only: applied to a stacked (models, width,
       samples) tensor, as the engine does, it gives what each model's slice gives alone.
       (Modules with parameters or buffers are applied one model at a time, through vmap, so
       they cannot mix models: `applied_to_stacks=False` skips this check for them.)
    """
    x = torch.linspace(-2, 2, 12).reshape(3, 4).requires_grad_()
    y = _call(module, x, where)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ActivationError(
            f"{where} must be elementwise (a tensor of shape (3, 4) in, same shape out); got {got}"
        )
    if not y.requires_grad:
        raise ActivationError(
            f"{where} returns a value that does not depend on its input (no gradient flows "
            "through it); an activation must be a function of x"
        )
    if not applied_to_stacks:
        return
    stacked = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        together = _call(module, stacked, where)
        alone = torch.stack([_call(module, part, where) for part in stacked])
    if together.shape != stacked.shape or not torch.allclose(together, alone, atol=1e-6):
        raise ActivationError(
            f"{where} mixes models: applied to a stack of 3 models' activations it gives other "
            "values than applied to each model's alone (it must not normalise or reduce over "
            "the whole tensor)"
        )


def _call(module: nn.Module, x: torch.Tensor, where: str):
    try:
        return module(x)
    except Exception as exc:  # a plugin's own bug: report it with its origin
        raise ActivationError(
            f"{where} fails on a test tensor of shape {tuple(x.shape)}: {type(exc).__name__}: {exc}"
        ) from exc
    except SystemExit as exc:
        raise ActivationError(f"{where} called sys.exit({exc.code}) when applied") from None


def make_activation(
    name: str,
    obj: object,
    *,
    source: str,
    aliases: tuple[str, ...] = (),
    description: str | None = None,
    reference: str = "",
    piecewise_linear: bool = False,
    affine: bool = False,
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
        stateless = not any(True for _ in sample.parameters()) and not any(
            True for _ in sample.buffers()
        )
        _probe(sample, where, applied_to_stacks=stateless)
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
        piecewise_linear=piecewise_linear or affine,
        affine=affine,
        glorot_factor=glorot_factor,
        aliases=tuple(a.lower() for a in aliases),
        function=function,
    )


# --------------------------------------------------------------------------- the decorator

# Where decorators record their activations: a plugin file being loaded collects its own in a
# fresh list; code imported any other way declares them for the whole process.
_DECLARED: list[Activation] = []
_collector: contextvars.ContextVar[list[Activation] | None] = contextvars.ContextVar(
    "nonlinbench_collector", default=None
)
_source: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nonlinbench_source", default=None
)


def register_activation(name: str, **options) -> Callable:
    """Decorator: declares an elementwise function or an nn.Module subclass as `name`.

    >>> @register_activation("squareplus", reference="Barron 2021")
    ... def squareplus(x):
    ...     return (x + torch.sqrt(x * x + 4)) / 2

    options are `make_activation`'s: aliases, description, reference, piecewise_linear,
    affine, glorot_factor. A name already taken (by a built-in or an earlier declaration) is
    an error at once.
    """

    def decorate(obj):
        source = _source.get() or f"python:{getattr(obj, '__module__', '?')}"
        activation = make_activation(name, obj, source=source, **options)
        collected = _collector.get()
        target = _DECLARED if collected is None else collected
        # Checked against every name known so far, so a clash names both sources at once.
        BUILTIN_REGISTRY.add(*_DECLARED, *(collected or ()), activation)
        target.append(activation)
        return obj

    return decorate


def declared_activations() -> tuple[Activation, ...]:
    """Activations declared by decorators in code imported so far (not by plugin files)."""
    return tuple(_DECLARED)


@contextlib.contextmanager
def _collecting(source: str) -> Iterator[list[Activation]]:
    """Decorators run inside collect into the yielded list, attributed to `source`."""
    collected: list[Activation] = []
    token_c, token_s = _collector.set(collected), _source.set(source)
    try:
        yield collected
    finally:
        _collector.reset(token_c)
        _source.reset(token_s)


# --------------------------------------------------------------------------- loading plugins


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
        registry = registry.with_plugin_file(path)
    return registry


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
