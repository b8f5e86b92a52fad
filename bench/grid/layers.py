"""A run's activation record: its registered activation, or a per-layer stack's record.

The `layers` text itself ("16 relu, 8 tanh": parsing, the canonical form, the label of a mixed
stack) is part of what a run is, in bench.spec; this module joins it with the registry.
"""

from __future__ import annotations

from bench.activations.registry import Activation
from bench.spec import Layer, format_layers, parse_layers, stack_label


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
    mixed stack's record built from its layers' (registry: a bench.activations.registry.Registry)."""
    if not spec.layers:
        return registry.get(spec.activation)
    layers = parse_layers(spec.layers)
    return stack_activation(layers, [registry.get(layer.activation) for layer in layers])
