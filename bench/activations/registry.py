"""Activations by name: immutable records, a registry that is a value, and plugin loading.

An `Activation` is an immutable record; a `Registry` maps names to records and is a value:
adding to it returns a new one. `make_activation` builds and checks a record (shape, a real
dependence on the input, no mixing of stacked models); `register_activation` is the decorator
route. Finding and loading plugins (files, installed packages) is `bench.activations.plugins`. The one
piece of process state is the list of activations that decorators in imported code have
declared (`declared_activations`).
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import torch
from torch import nn

from bench.activations.builtins import BUILTINS, ZOO


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
    # A per-layer stack (bench.grid.layers): hidden layer i uses per_layer[i]; empty for one
    # activation used in every hidden layer.
    per_layer: tuple[Activation, ...] = ()

    def make(self) -> nn.Module:
        return self.factory()

    def at(self, layer: int) -> Activation:
        """The activation of hidden layer `layer` (0-based)."""
        return self.per_layer[layer] if self.per_layer else self


@dataclass(frozen=True)
class PluginFailure:
    source: str  # "package==version" or a file path
    message: str


def _builtin(b) -> Activation:
    factory = b.module or (lambda fn=b.fn, name=b.name: Elementwise(fn, name))
    return Activation(
        name=b.name,
        factory=factory,
        description=b.description,
        reference=b.reference,
        source="builtin",
        learnable=b.module is not None,
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


BUILTIN_REGISTRY = Registry().add(*(_builtin(b) for b in (*BUILTINS, *ZOO)))


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
