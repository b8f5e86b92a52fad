"""Specification of the Dask backend: a cluster gives the same tables as the local backend."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from bench import backends
from bench.grid import load_grid
from bench.runner import run_grid
from bench.store import Store

pytestmark = [
    pytest.mark.usefixtures("isolated"),
    pytest.mark.skipif(
        importlib.util.find_spec("distributed") is None,
        reason="dask.distributed is not installed (pip install 'nonlinbench[distributed]')",
    ),
]

AXES = """
n_samples = 100
activation = ["relu", "tanh"]
depth = 1
width = 4
epochs = 20
seed = [0, 1]
"""


@pytest.fixture(scope="module")
def scheduler():
    """A one-worker cluster on loopback, in a separate process like a real worker."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def tables(out) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.read_parquet(out / "runs.parquet").sort_values("run_id").reset_index(drop=True)
    curves = pd.read_parquet(out / "curves.parquet")
    return runs, curves.sort_values(["run_id", "epoch"]).reset_index(drop=True)


def assert_same_results(a, b) -> None:
    (runs_a, curves_a), (runs_b, curves_b) = a, b
    assert len(runs_a) == 4 and (runs_a.error == "").all() and (runs_b.error == "").all()
    assert runs_a.run_id.tolist() == runs_b.run_id.tolist()
    assert runs_a.test_acc.tolist() == runs_b.test_acc.tolist()
    assert runs_a.train_acc.tolist() == runs_b.train_acc.tolist()
    for loss in ("train_loss", "test_loss"):
        np.testing.assert_allclose(runs_a[loss], runs_b[loss], rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(curves_a, curves_b, rtol=0, atol=1e-6)


def count_shards(monkeypatch) -> list[str]:
    written: list[str] = []
    original = Store.write_shard

    def write_shard(self, *args, **kwargs):
        written.append(original(self, *args, **kwargs))
        return written[-1]

    monkeypatch.setattr(Store, "write_shard", write_shard)
    return written


def run_local_then_dask(grid, tmp_path, scheduler, monkeypatch):
    """The grid locally, then on the cluster (one run per chunk); the Dask run's shards."""
    run_grid(grid, tmp_path / "local", device="cpu", jobs=1, threads=1, quiet=True, max_chunk=1)
    shards = count_shards(monkeypatch)
    summary = run_grid(
        grid,
        tmp_path / "dask",
        device="cpu",
        backend="dask",
        scheduler=scheduler,
        threads=1,
        quiet=True,
        max_chunk=1,
    )
    return summary, shards


def test_the_dask_backend_gives_the_same_table_as_the_local_one(
    scheduler, write_grid, tmp_path, monkeypatch
):
    grid = load_grid(write_grid(AXES))
    summary, shards = run_local_then_dask(grid, tmp_path, scheduler, monkeypatch)
    assert (summary.trained, summary.failed) == (4, 0)
    assert len(shards) == 4  # one shard per chunk, written as each arrives
    assert_same_results(tables(tmp_path / "local"), tables(tmp_path / "dask"))
    assert Store(tmp_path / "dask").read_manifest()["backend"] == "dask"


@pytest.mark.slow  # starts a local Dask cluster (~5 s); the faster Dask test stays in make test
def test_without_joblib_generators_the_dask_backend_still_streams_chunk_by_chunk(
    scheduler, write_grid, tmp_path, monkeypatch
):
    from joblib._dask import DaskDistributedBackend

    # An older joblib whose Dask backend cannot return results as a generator.
    monkeypatch.setattr(DaskDistributedBackend, "supports_return_generator", False)
    streamed, original = [], backends._stream

    def stream(*args, **kwargs):
        streamed.append(original(*args, **kwargs))
        return streamed[-1]

    monkeypatch.setattr(backends, "_stream", stream)
    grid = load_grid(write_grid(AXES))
    summary, shards = run_local_then_dask(grid, tmp_path, scheduler, monkeypatch)
    assert (summary.trained, summary.failed) == (4, 0)
    assert streamed == [None]  # joblib refused: chunks went to the cluster directly
    assert len(shards) == 4
    assert_same_results(tables(tmp_path / "local"), tables(tmp_path / "dask"))


def test_a_dask_run_resumes_like_a_local_one(scheduler, write_grid, tmp_path):
    grid = load_grid(write_grid(AXES))
    run_grid(grid, tmp_path, device="cpu", jobs=1, threads=1, quiet=True)
    summary = run_grid(
        grid, tmp_path, backend="dask", scheduler=scheduler, device="cpu", threads=1, quiet=True
    )
    assert (summary.trained, summary.skipped) == (0, 4)


def test_an_unreachable_scheduler_is_a_one_line_error(write_grid, tmp_path, monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.setattr(backends, "SCHEDULER_TIMEOUT_S", 1)
    args = ["run", "--grid", str(write_grid(AXES)), "--out", str(tmp_path), "--quiet"]
    assert main([*args, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nonlinbench: error: --scheduler tcp://127.0.0.1:9: cannot reach it")
    assert err.count("\n") == 1
