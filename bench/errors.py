"""Errors in what a person gave the command (flags, folders, choices), apart from the command
itself so that any module may raise them: each is printed as one line, exit status 2.

Mistakes in a grid file, a dataset, a plugin or a results folder have their own types
(bench.grid.axes.GridError, bench.data.csv_files.DatasetError, bench.activations.registry.ActivationError,
bench.results.store.StoreError); bench.cli prints those the same way.
"""


class UserError(Exception):
    """A mistake in the command's input: printed as one line, exit status 2."""
