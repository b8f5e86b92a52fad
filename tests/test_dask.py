"""Specification of the Dask backend: a cluster gives the same tables as the local backend."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from bench.grid.parse import load_grid
from bench.results.store import Store
from bench.run import backends
from bench.run.runner import run_grid

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
    """A cluster on loopback of two worker processes with different thread counts (1 and 2),
    separate processes like real workers."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {name: {"cls": Nanny, "options": {"nthreads": threads, "host": "127.0.0.1"}}
               for name, threads in (("one", 1), ("two", 2))}  # fmt: skip
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": None}}
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster:
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


def test_each_worker_reports_its_own_threads_and_trains_chunks_cut_for_it(
    scheduler, write_grid, tmp_path, monkeypatch
):
    from dask.distributed import Client

    with Client(scheduler) as client:
        workers = backends.worker_capacities(client, "cpu")
    assert sorted(w.threads for w in workers) == [1, 2]
    assert {w.device for w in workers} == {"cpu"} and all(w.budget_bytes > 0 for w in workers)
    sent = []  # (worker address, threads, runs) of each chunk the client sends
    original = Client.submit

    def submit(self, fn, task, device, threads, **kwargs):
        sent.append((kwargs["workers"][0], threads, len(task)))
        return original(self, fn, task, device, threads, **kwargs)

    monkeypatch.setattr(Client, "submit", submit)
    grid = load_grid(write_grid(AXES))
    run_grid(grid, tmp_path / "local", device="cpu", jobs=1, threads=1, quiet=True)
    summary = run_grid(grid, tmp_path / "dask", device="cpu", backend="dask",
                       scheduler=scheduler, quiet=True)  # fmt: skip
    assert (summary.trained, summary.failed) == (4, 0)
    threads_of = {w.address: w.threads for w in workers}
    assert sent and all(threads == threads_of[address] for address, threads, _ in sent)
    assert sum(runs for *_, runs in sent) == 4
    assert_same_results(tables(tmp_path / "local"), tables(tmp_path / "dask"))


def test_chunks_are_cut_for_each_workers_device_memory_and_threads(monkeypatch):
    from bench.activations.registry import BUILTIN_REGISTRY
    from bench.data.datasets import load_data
    from bench.engine import placement
    from bench.run.plan import Task
    from bench.spec import RunSpec

    specs = [RunSpec(n_samples=100, width=4, seed=s) for s in range(100)]
    relu = BUILTIN_REGISTRY.get("relu")
    # The client planned chunks of 50 (its own memory); surface rows 0 and 30 of each.
    tasks = [Task(specs[i : i + 50], [f"r{j}" for j in range(i, i + 50)], relu, (0, 30), {}, 50.0)
             for i in (0, 50)]  # fmt: skip
    per_model = 4 * 4 * 80  # placement.chunk_size's cache arithmetic: 4 bytes x width x samples
    monkeypatch.setattr(placement, "CPU_CACHE_BYTES", 20 * per_model)  # 20 models per thread
    monkeypatch.setattr(placement, "MIN_CPU_CHUNK", 1)
    cap = backends.WorkerCapacity
    workers = [cap("tcp://a", 1, "cpu", 1 << 30), cap("tcp://b", 2, "cpu", 1 << 30),
               cap("tcp://gpu", 1, "cuda", 12 * placement.bytes_per_model(specs[0], load_data(
                   specs[0])))]  # fmt: skip
    planned = backends.plan_for_workers(tasks, workers)
    largest = {w.address: max(len(t) for t, wk in planned if wk == w) for w in workers}
    assert largest == {"tcp://a": 20, "tcp://b": 40, "tcp://gpu": 12}  # (the last piece: less)
    runs = [rid for task, _ in planned for rid in task.run_ids]
    assert sorted(runs) == sorted(f"r{j}" for j in range(100))  # each run once
    surfaces = {task.run_ids[row] for task, _ in planned for row in task.surface_rows}
    assert surfaces == {"r0", "r30", "r50", "r80"}


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
