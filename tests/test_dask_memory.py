"""Specification of memory on a Dask cluster: each worker reports its own memory limit, the
client cuts each piece to fit the limit of the worker that takes it, and a grid of which not
even one model fits any worker is refused in one line before anything trains."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace

import pytest
import torch

from bench.cli import main
from bench.errors import UserError
from bench.grid.parse import load_grid
from bench.results.store import Store
from bench.run import backends, memory
from bench.run.plan import make_plan
from bench.run.runner import run_grid

pytestmark = [
    pytest.mark.usefixtures("isolated"),
    pytest.mark.skipif(
        importlib.util.find_spec("distributed") is None,
        reason="dask.distributed is not installed (pip install 'nonlinbench[distributed]')",
    ),
]

GiB = 1 << 30
LIMITS = {"small": int(1.5 * GiB), "large": 3 * GiB}
# Adam on 3 x 1024: 2.1 M parameters, 50 MB per model (parameters, gradients, host copy,
# two moments, step temporary) and 75 MB for the grid measures of one model at a time.
WIDE = """
dataset = "circles"
n_samples = 200
activation = "relu"
depth = 3
width = 1024
optimizer = "adam"
epochs = 1
seed = {seeds}
"""


@pytest.fixture(scope="module")
def cluster():
    """Two workers in this process (quick to start), with memory limits of 1.5 and 3 GiB;
    Dask's own reactions to the limits (pausing, spilling) are off: this process holds torch
    and the test data, which are no chunk's."""
    import dask
    from distributed import Scheduler, SpecCluster, Worker

    off = {f"distributed.worker.memory.{k}": False for k in ("target", "spill", "pause")}
    workers = {
        name: {"cls": Worker, "options": {"nthreads": 1, "memory_limit": limit}}
        for name, limit in LIMITS.items()
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": None}}
    with dask.config.set(off), SpecCluster(workers=workers, scheduler=scheduler) as cluster:
        yield cluster


def capacities(cluster) -> list[backends.WorkerCapacity]:
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        return backends.worker_capacities(client, "cpu")


def test_each_worker_reports_its_own_dask_memory_limit(cluster):
    workers = capacities(cluster)
    assert sorted(w.memory_limit for w in workers) == sorted(LIMITS.values())
    assert {w.limit_source for w in workers} == {"Dask memory_limit"}
    line = backends.describe_limits(workers)
    assert "\n" not in line and "1.5 GiB (Dask memory_limit)" in line and "3.0 GiB" in line


def test_a_worker_without_a_limit_counts_the_memory_available_to_it(monkeypatch):
    from distributed import Client, LocalCluster

    monkeypatch.setattr(memory, "available_bytes", lambda device: (5 * GiB, "RAM available"))
    with (
        LocalCluster(n_workers=1, processes=False, memory_limit=0, dashboard_address=":0") as lc,
        Client(lc) as client,
    ):
        (worker,) = backends.worker_capacities(client, "cpu")
    assert (worker.memory_limit, worker.limit_source) == (5 * GiB, "RAM available")


def test_each_piece_is_cut_to_fit_the_limit_of_the_worker_that_takes_it(
    cluster, write_grid, tmp_path
):
    plan = make_plan(
        load_grid(write_grid(WIDE.format(seeds=list(range(40))))),
        Store(tmp_path / "out"),
        torch.device("cpu"),
    )
    workers = capacities(cluster)
    data = next(iter(plan.datasets.values()))
    planned = backends.plan_for_workers(plan.tasks, workers)
    sizes = {w.address: [len(t) for t, wk in planned if wk == w] for w in workers}
    small, large = sorted(workers, key=lambda w: w.memory_limit)
    # 900 MiB of worker process, 75 MB of measures and 50 MB per model within 80% of the
    # limit: 5 models on 1.5 GiB; on 3 GiB 30, more than the CPU cache cap of 16 per chunk.
    assert max(sizes[small.address]) == 5 and max(sizes[large.address]) == 16
    for task, worker in planned:
        need = memory.worker_need(memory.chunk_memory(task.specs, data))
        assert need <= memory.USABLE_SHARE * worker.memory_limit
    runs = sorted(rid for task, _ in planned for rid in task.run_ids)
    assert runs == sorted(rid for task in plan.tasks for rid in task.run_ids)  # each run once
    unlimited = [replace(w, memory_limit=0) for w in workers]  # unknown: not cut
    uncut = backends.plan_for_workers(plan.tasks, unlimited)
    assert {max(len(t) for t, wk in uncut if wk == w) for w in unlimited} == {16}


def test_a_grid_no_worker_fits_is_refused_in_one_line_before_training(
    cluster, write_grid, tmp_path, capsys
):
    # Adam on 8 x 4096: 117 M parameters, 2.8 GB with their copies: beyond 80% of 3 GiB
    huge = WIDE.format(seeds=[0, 1]).replace("depth = 3", "depth = 8").replace("1024", "4096")
    grid = write_grid(huge)
    out = tmp_path / "out"
    address = cluster.scheduler_address
    with pytest.raises(UserError, match="not enough memory to train this grid on the Dask"):
        run_grid(load_grid(grid), out, device="cpu", backend="dask", scheduler=address)
    assert Store(out).stored_ids() == set()  # nothing trained
    capsys.readouterr()
    args = ["run", str(grid), "--out", str(out), "--device", "cpu", "--quiet"]
    assert main([*args, "--backend", "dask", "--scheduler", address]) == 2
    limits, error = capsys.readouterr().err.strip().splitlines()
    assert limits.startswith("memory: Dask workers' limits:")
    assert error.startswith("nonlinbench: error: not enough memory")
    for words in ("8 x 4096", "adam", "3.0 GiB (Dask memory_limit of tcp://", "width, depth"):
        assert words in error


def test_plan_checks_the_grid_against_the_clusters_workers(cluster, write_grid, tmp_path, capsys):
    from bench.cli.commands import _print_cluster_plan  # what `plan --scheduler` prints

    grid = write_grid(WIDE.format(seeds=list(range(40))))
    plan = make_plan(load_grid(grid), Store(tmp_path / "out"), torch.device("cpu"))
    _print_cluster_plan(plan, cluster.scheduler_address, "cpu")
    out = capsys.readouterr().out
    assert "memory: Dask workers' limits:" in out and "1.5 GiB (Dask memory_limit)" in out
    # each worker's pieces, cut to its limit (as in the test above): 5 and 16 models at most
    assert "at most 5 models each" in out and "at most 16 models each" in out
    huge = WIDE.format(seeds=[0, 1]).replace("depth = 3", "depth = 8").replace("1024", "4096")
    args = ["plan", str(write_grid(huge)), "--out", str(tmp_path / "out"), "--device", "cpu"]
    assert main([*args, "--scheduler", cluster.scheduler_address]) == 2  # before any estimate
    error = capsys.readouterr().err.strip()
    assert error.startswith("nonlinbench: error: not enough memory to train this grid on the Dask")


def test_without_the_distributed_extra_plan_and_run_say_what_to_install(
    monkeypatch, write_grid, tmp_path, capsys
):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # the import fails
    grid = str(write_grid(WIDE.format(seeds=[0])))
    out = ["--out", str(tmp_path / "out"), "--device", "cpu", "--scheduler", "tcp://h:1"]
    for command in (["plan", grid], ["run", grid, "--backend", "dask", "--quiet"]):
        assert main([*command, *out]) == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.endswith("pip install 'nonlinbench[distributed]'")
