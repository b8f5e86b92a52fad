"""The Python API for notebooks: run a grid, load its tables, summarise them.

import bench

bench.run_grid("quick", out="results/quick")            # a built-in name or a grid file
runs, curves, surfaces = bench.load_results("results/quick")
bench.stats.bootstrap_ci(runs.query("activation == 'relu'").test_acc)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.grid import Grid, load_grid
from bench.runner import RunSummary
from bench.runner import run_grid as _run_grid
from bench.store import Store, StoreError


def run_grid(grid: str | Path | Grid, out: str | Path | None = None, **options) -> RunSummary:
    """Trains every run of a grid not yet stored in `out` (default results/<grid name>).

    options are `bench.runner.run_grid`'s: device, jobs, threads, fresh, quiet, max_chunk, ...
    """
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    return _run_grid(grid, out or Path("results") / grid.name, **options)


def load_results(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs, curves, surfaces) as one merge left them; see bench.schema for the columns."""
    store = Store(results_dir)
    if not store.path("runs").exists():
        raise StoreError(f"no runs.parquet in {results_dir} (run the grid first)")
    tables = store.read_tables()
    return tables["runs"], tables["curves"], tables["surfaces"]
