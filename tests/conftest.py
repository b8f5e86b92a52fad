"""Shared fixtures: tiny grid files, and a clean activation registry and torch thread count."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from bench import registry

# Four runs (two activations x two seeds) of a 2 -> 4 -> 2 network, 20 epochs on 100 points:
# trains in well under a second.
TINY_AXES = """
dataset = "circles"
n_samples = 100
noise = 0.1
activation = ["none", "relu"]
depth = 1
width = 4
optimizer = "adam"
lr = 0.05
epochs = 20
eval_every = 10
seed = [0, 1]
"""


@pytest.fixture
def write_grid(tmp_path: Path) -> Callable[..., Path]:
    """write_grid(axes=TINY_AXES, name="tiny", header="", excludes="", filename=...) -> path."""

    def write(
        axes: str = TINY_AXES,
        *,
        name: str = "tiny",
        header: str = "",
        excludes: str = "",
        filename: str = "grid.toml",
    ) -> Path:
        text = f'name = "{name}"\n{textwrap.dedent(header)}\n[grid]\n{textwrap.dedent(axes)}\n'
        path = tmp_path / filename
        path.write_text(text + textwrap.dedent(excludes))
        return path

    return write


@contextlib.contextmanager
def registry_snapshot():
    """Restores the activation registry (names, aliases, plugin files, failures) on exit."""
    saved = (
        dict(registry._registry),
        dict(registry._aliases),
        list(registry._plugin_failures),
        set(registry._loaded_files),
    )
    try:
        yield
    finally:
        registry._registry.clear(), registry._registry.update(saved[0])
        registry._aliases.clear(), registry._aliases.update(saved[1])
        registry._plugin_failures[:] = saved[2]
        registry._loaded_files.clear(), registry._loaded_files.update(saved[3])


@pytest.fixture
def isolated():
    """Plugins a test registers are removed afterwards, and torch's thread count restored.

    For tests that load plugins or train (the runner sets torch's thread count); use it with
    `pytestmark = pytest.mark.usefixtures("isolated")`.
    """
    threads = torch.get_num_threads()
    with registry_snapshot():
        yield
    torch.set_num_threads(threads)
