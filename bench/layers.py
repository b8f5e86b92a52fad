"""Per-layer architectures: hidden layers of different widths and activations in one network.

A grid's `layers` axis writes a network's hidden layers in order, each as its width and
activation, separated by commas:

    layers = ["16 relu, 8 tanh", "16 tanh, 8 relu"]

`RunSpec` keeps the canonical text (single spaces, ", " between layers, registered activation
names) and derives `depth` (the number of layers) and `width` (the widest). A stack whose
layers all share one width and one activation is the ordinary network of that depth, width and
activation, and becomes exactly that spec (same run id), so it ranks with it. Any other stack
takes its text in brackets as its `activation` label ("[16 relu, 8 tanh]"): figures, tables
and rankings show it as the stack it is, never as one of its activations, and a list of labels
still reads unambiguously.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.registry import Activation

_LAYER = re.compile(r"(\d+)\s+([A-Za-z_][\w.\-]*)")
LAYERS_SYNTAX = "hidden layers as 'WIDTH ACTIVATION, WIDTH ACTIVATION, ...', e.g. '16 relu, 8 tanh'"


@dataclass(frozen=True)
class Layer:
    width: int
    activation: str


def parse_layers(text: str) -> list[Layer]:
    """'16 relu, 8 tanh' -> [Layer(16, 'relu'), Layer(8, 'tanh')]; ValueError when malformed."""
    layers = []
    for part in text.split(","):
        match = _LAYER.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"layer {part.strip()!r} is not 'WIDTH ACTIVATION'")
        layers.append(Layer(int(match.group(1)), match.group(2)))
    return layers


def format_layers(layers: list[Layer]) -> str:
    return ", ".join(f"{layer.width} {layer.activation}" for layer in layers)


def is_uniform(layers: list[Layer]) -> bool:
    return len({(layer.width, layer.activation) for layer in layers}) == 1


def derived_fields(text: str) -> dict:
    """The RunSpec fields a `layers` value sets: depth, width and activation, and the canonical
    text itself ("" for a uniform stack, which is then the ordinary network)."""
    layers = parse_layers(text)
    uniform = is_uniform(layers)
    canonical = format_layers(layers)
    return {
        "layers": "" if uniform else canonical,
        "depth": len(layers),
        "width": max(layer.width for layer in layers),
        "activation": layers[0].activation if uniform else stack_label(canonical),
    }


def stack_label(canonical: str) -> str:
    """A mixed stack's `activation` label: its canonical text in brackets."""
    return f"[{canonical}]"


def hidden_widths(spec) -> list[int]:
    """The widths of a run's hidden layers, in order."""
    if spec.layers:
        return [layer.width for layer in parse_layers(spec.layers)]
    return [spec.width] * spec.depth


def stack_activation(layers: list[Layer], records: list[Activation]) -> Activation:
    """The record of a mixed stack: per-layer records, and properties true of every layer
    (a stack is affine only when every layer is, piecewise linear only when every layer is).
    Glorot initialisation uses the first hidden layer's factor."""
    first = records[0]
    return Activation(
        name=stack_label(format_layers(layers)),
        factory=first.factory,
        description="per-layer stack: " + format_layers(layers),
        reference="",
        source="stack",
        learnable=any(r.learnable for r in records),
        piecewise_linear=all(r.piecewise_linear for r in records),
        affine=all(r.affine for r in records),
        glorot_factor=first.glorot_factor,
        per_layer=tuple(records),
    )


def activation_record(spec, registry) -> Activation:
    """The activation record of a run (a bench.spec.RunSpec): the registered activation, or a
    mixed stack's record built from its layers' (registry: a bench.registry.Registry)."""
    if not spec.layers:
        return registry.get(spec.activation)
    layers = parse_layers(spec.layers)
    return stack_activation(layers, [registry.get(layer.activation) for layer in layers])
