"""The notebook API: bench.run_grid, bench.load_results and the statistics helpers."""

import pytest

import bench
from bench import schema

pytestmark = pytest.mark.usefixtures("isolated")


def test_a_notebook_runs_a_grid_and_reads_its_three_tables(write_grid, tmp_path):
    summary = bench.run_grid(write_grid(), out=tmp_path / "out", jobs=1, threads=1, quiet=True)
    assert summary.trained == 4
    runs, curves, surfaces = bench.load_results(tmp_path / "out")
    assert list(runs.columns) == schema.names(schema.RUN_COLUMNS)
    assert set(curves["run_id"]) == set(runs["run_id"])
    assert len(surfaces) == 2  # one per activation (one dataset, noise, depth, width)
    mean, low, high = bench.stats.bootstrap_ci(runs["test_acc"].to_numpy(), rng=0)
    assert low <= mean <= high


def test_loading_a_folder_without_results_says_so(tmp_path):
    from bench.results.store import StoreError

    with pytest.raises(StoreError, match="no runs.parquet"):
        bench.load_results(tmp_path)
