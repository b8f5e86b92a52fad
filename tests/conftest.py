"""Shared fixtures: tiny grid files, forgotten activation declarations, torch's thread count."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from bench.activations import registry

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


@pytest.fixture(scope="session", autouse=True)
def calibration_cache(tmp_path_factory):
    """`plan` caches this machine's prices, the report its ceilings: in the session's own
    folder, so tests neither read nor write the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("cache")
        patch.setenv("XDG_CACHE_HOME", str(cache))
        patch.setenv("NONLINBENCH_CACHE_DIR", str(cache / "nonlinbench"))
        # The suite trains through the generic (autograd) engine, which the reference loop
        # specifies; tests/test_fused.py holds the fused path to the same reference. (On a
        # fresh clone the fused kernel's first compile costs about a minute per dtype.)
        patch.setenv("NONLINBENCH_ENGINE", "generic")
        yield


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
def declarations_restored():
    """Forgets, on exit, the activations that decorators declared inside (the one process-wide
    piece of registry state)."""
    saved = list(registry._DECLARED)
    try:
        yield
    finally:
        registry._DECLARED[:] = saved


@pytest.fixture
def isolated():
    """Activations a test declares are forgotten afterwards, and torch's thread count restored.

    For tests that load plugins or train (the runner sets torch's thread count); use it with
    `pytestmark = pytest.mark.usefixtures("isolated")`.
    """
    threads = torch.get_num_threads()
    with declarations_restored():
        yield
    torch.set_num_threads(threads)
