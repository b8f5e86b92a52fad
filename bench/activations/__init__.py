"""Activations, the stage that feeds every network: what a hidden unit computes.

    builtins   the built-in activations, each with its formula's description and its paper
    registry   an activation's record, the Registry value, the `register_activation` decorator
    plugins    plugin files and installed packages (entry-point group nonlinbench.activations)
               -> a Registry
    theory     mean-field theory of a deep network at initialisation, per activation

`bench.activations.NAME` still finds what the former module `bench/activations.py` (now
`builtins`) and `bench.registry` defined, so older notebooks and plugins keep working.
"""

from bench import forward_names

__getattr__ = forward_names(
    "bench.activations", "bench.activations.builtins", "bench.activations.registry"
)
