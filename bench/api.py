"""The Python API for notebooks: run a grid, load its tables, summarise them.

import bench

bench.run_grid("quick", out="results/quick", quiet=True)  # a built-in name or a grid file
runs, curves, surfaces = bench.load_results("results/quick")
bench.stats.bootstrap_ci(runs.query("activation == 'relu'").test_acc)  # Interval(point, low, high)
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd

from bench.grid.parse import MAX_RUNS, Grid, load_grid
from bench.results.store import Store, StoreError
from bench.run.runner import RunSummary
from bench.run.runner import run_grid as _run_grid


def run_grid(
    grid: str | Path | Grid,
    out: str | Path | None = None,
    *,
    device: str = "auto",
    jobs: int | None = None,
    threads: int | None = None,
    fresh: bool = False,
    quiet: bool = False,
    max_chunk: int | None = None,
    max_runs: int = MAX_RUNS,
    backend: str = "local",
    scheduler: str | None = None,
) -> RunSummary:
    """Trains every run of a grid not yet stored in `out`, and returns the counts.

    grid: a built-in grid's name (seed, quick, playground, default, full), a grid file's path,
        or a `bench.grid.parse.Grid`.
    out: the results folder [results/<grid name>]; rerunning resumes (stored runs are skipped).
    device: auto (cuda, then mps, then cpu), cuda, mps or cpu.
    jobs, threads: worker processes on a CPU [cores], torch threads per worker [cores / jobs].
    fresh: discard the stored results first.
    quiet: print nothing at all (no progress bar, no notes or warnings); everything they would
        say is in the returned summary (trained, skipped, diverged, failed, corrupt_shards).
    max_chunk: at most this many models per chunk; max_runs: refuse a larger grid.
    backend, scheduler: "local" (this machine), or "dask" with a scheduler's tcp://HOST:PORT.

    Mistakes in the grid raise `bench.grid.parse.GridError`, in the results folder `StoreError`, each
    with a one-line message.
    """
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    options = dict(
        device=device,
        jobs=jobs,
        threads=threads,
        fresh=fresh,
        quiet=quiet,
        max_chunk=max_chunk,
        max_runs=max_runs,
        backend=backend,
        scheduler=scheduler,
        command="bench.run_grid",
    )
    out = out or Path("results") / grid.name
    if not quiet:
        return _run_grid(grid, out, **options)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return _run_grid(grid, out, **options)


def load_results(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs, curves, surfaces) as one merge left them; see bench.schema for the columns."""
    store = Store(results_dir)
    if not store.path("runs").exists():
        raise StoreError(f"no runs.parquet in {results_dir} (run the grid first)")
    tables = store.read_tables()
    return tables["runs"], tables["curves"], tables["surfaces"]
