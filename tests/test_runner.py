"""Specification of bench/run/runner.py: planning, resuming, recovering and recording failures."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from bench.cli import main
from bench.grid.parse import load_grid, run_ids
from bench.results.store import Store
from bench.run import backends
from bench.run.plan import make_plan
from bench.run.runner import run_grid

pytestmark = pytest.mark.usefixtures("isolated")

CPU = torch.device("cpu")

# 2 datasets x 3 activations x 2 depths x 3 seeds = 36, minus none at depth 2 (6 runs): 30
# runs in 5 groups (activation x depth; circles and moons have the same shape) of 6 runs.
PLAN_AXES = """
dataset = ["circles", "moons"]
n_samples = 100
activation = ["none", "relu", "tanh"]
depth = [1, 2]
width = 4
epochs = 20
seed = [0, 1, 2]
"""
PLAN_EXCLUDE = """
[[exclude]]
activation = "none"
depth = 2
"""

BOOM_PLUGIN = """
import os

import torch

import bench


@bench.register_activation("boom")
def boom(x):
    # Fine on the load-time probes (at most 5 samples); fails on the engine's stacked input
    # while BOOM is set, so a test can make it fail and then recover.
    if x.dim() == 3 and x.shape[-1] > 5 and os.environ.get("BOOM"):
        raise RuntimeError("boom: stacked input rejected")
    return torch.relu(x)
"""


def stored_runs(out) -> pd.DataFrame:
    return pd.read_parquet(out / "runs.parquet")


def ids_of(grid_path) -> set[str]:
    return set(run_ids(load_grid(grid_path).specs()))


def move_runs_into_a_shard(out, ids: list[str]) -> str:
    """Makes `ids` look like a chunk whose shard was written but not yet merged."""
    store = Store(out)
    runs, curves = store.load("runs"), store.load("curves")
    name = store.write_shard(runs[runs.run_id.isin(ids)], curves[curves.run_id.isin(ids)])
    runs[~runs.run_id.isin(ids)].to_parquet(store.path("runs"))
    curves[~curves.run_id.isin(ids)].to_parquet(store.path("curves"))
    assert store.stored_ids() >= set(ids)
    return name


# --------------------------------------------------------------------------- planning


def test_the_plan_counts_runs_groups_and_chunks(write_grid, tmp_path):
    grid = load_grid(write_grid(PLAN_AXES, excludes=PLAN_EXCLUDE))
    plan = make_plan(grid, Store(tmp_path / "out"), CPU)
    assert (plan.total, plan.stored, plan.groups, plan.pending) == (30, 0, 5, 30)
    assert len(plan.tasks) == 5
    assert sorted(len(t) for t in plan.tasks) == [6] * 5


def test_max_chunk_splits_each_group_into_chunks_of_at_most_that_many_runs(write_grid, tmp_path):
    grid = load_grid(write_grid(PLAN_AXES, excludes=PLAN_EXCLUDE))
    plan = make_plan(grid, Store(tmp_path / "out"), CPU, max_chunk=4)
    assert plan.groups == 5
    assert sorted(len(t) for t in plan.tasks) == [2] * 5 + [4] * 5
    ids = [rid for task in plan.tasks for rid in task.run_ids]
    assert sorted(ids) == sorted(ids_of(write_grid(PLAN_AXES, excludes=PLAN_EXCLUDE)))
    for task in plan.tasks:  # a chunk never mixes groups
        assert len({(s.activation, s.depth) for s in task.specs}) == 1


def test_a_different_data_shape_makes_a_different_group(write_grid, tmp_path):
    grid = load_grid(write_grid(PLAN_AXES.replace("n_samples = 100", "n_samples = [100, 120]")))
    plan = make_plan(grid, Store(tmp_path / "out"), CPU)
    assert (plan.total, plan.groups) == (72, 12)


def test_runs_stored_by_a_smaller_grid_count_as_stored_for_a_larger_one(write_grid, tmp_path):
    out = tmp_path / "out"
    small = write_grid(PLAN_AXES.replace("seed = [0, 1, 2]", "seed = 0"), excludes=PLAN_EXCLUDE)
    summary = run_grid(load_grid(small), out, device="cpu", jobs=1, threads=1, quiet=True)
    assert (summary.total, summary.trained) == (10, 10)
    big = load_grid(write_grid(PLAN_AXES, excludes=PLAN_EXCLUDE, filename="big.toml"))
    plan = make_plan(big, Store(out), CPU)
    assert (plan.total, plan.stored, plan.pending, plan.groups) == (30, 10, 20, 5)


# --------------------------------------------------------------------------- resuming


def test_rerunning_a_finished_grid_trains_nothing_and_says_so(write_grid, tmp_path, capsys):
    grid, out = load_grid(write_grid()), tmp_path / "out"
    first = run_grid(grid, out, device="cpu", jobs=1, threads=1, quiet=True)
    assert (first.trained, first.skipped, first.failed) == (4, 0, 0)
    table = stored_runs(out)
    capsys.readouterr()
    again = run_grid(grid, out, device="cpu", jobs=1, threads=1, quiet=True)
    assert (again.trained, again.skipped, again.total) == (0, 4, 4)
    assert "nothing to train" in capsys.readouterr().err
    pd.testing.assert_frame_equal(stored_runs(out), table)
    assert make_plan(grid, Store(out), CPU).stored == 4


def test_fresh_discards_stored_results_and_trains_everything_again(write_grid, tmp_path):
    grid, out = load_grid(write_grid()), tmp_path / "out"
    run_grid(grid, out, device="cpu", jobs=1, threads=1, quiet=True)
    Store(out).write_shard(*[pd.DataFrame({"run_id": ["stale"], "error": [""]})] * 2)
    summary = run_grid(grid, out, device="cpu", jobs=1, threads=1, quiet=True, fresh=True)
    assert (summary.trained, summary.skipped) == (4, 0)
    assert sorted(stored_runs(out).run_id) == sorted(ids_of(grid.source))


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_shard_is_reported_set_aside_and_its_runs_trained_again(
    write_grid, tmp_path, capsys, damage
):
    path, out = write_grid(), tmp_path / "out"
    run_grid(load_grid(path), out, device="cpu", jobs=1, threads=1, quiet=True)
    lost = sorted(stored_runs(out).run_id)[:2]
    name = move_runs_into_a_shard(out, lost)
    runs_file = out / "shards" / f"{name}.runs.parquet"
    if damage == "truncated":
        runs_file.write_bytes(runs_file.read_bytes()[:-100])
    else:
        runs_file.write_bytes(b"\0garbage" * 50)
    capsys.readouterr()
    summary = run_grid(load_grid(path), out, device="cpu", jobs=1, threads=1, quiet=True)
    assert "warning: 1 corrupt shard(s) set aside" in capsys.readouterr().err
    assert summary.corrupt_shards == [name]
    assert (summary.trained, summary.skipped) == (2, 2)
    assert (out / "shards" / "corrupt" / runs_file.name).exists()
    runs = stored_runs(out)
    assert runs.run_id.is_unique and set(runs.run_id) == ids_of(path)
    curves = pd.read_parquet(out / "curves.parquet")
    assert not curves.duplicated(["run_id", "epoch"]).any()
    assert set(curves.run_id) == ids_of(path)


def test_a_shard_without_its_runs_file_is_discarded_and_its_runs_trained_again(
    write_grid, tmp_path
):
    path, out = write_grid(), tmp_path / "out"
    run_grid(load_grid(path), out, device="cpu", jobs=1, threads=1, quiet=True)
    lost = sorted(stored_runs(out).run_id)[:2]
    name = move_runs_into_a_shard(out, lost)
    (out / "shards" / f"{name}.runs.parquet").unlink()  # the commit marker never landed
    summary = run_grid(load_grid(path), out, device="cpu", jobs=1, threads=1, quiet=True)
    assert (summary.trained, summary.skipped, summary.corrupt_shards) == (2, 2, [])
    assert list((out / "shards").glob("*.parquet")) == []
    curves = pd.read_parquet(out / "curves.parquet")
    assert not curves.duplicated(["run_id", "epoch"]).any()
    assert stored_runs(out).run_id.is_unique


# --------------------------------------------------------------------------- faults


def test_a_failing_group_is_recorded_the_rest_goes_on_and_it_is_retried_next_time(
    write_grid, tmp_path, monkeypatch, capsys
):
    (tmp_path / "boom.py").write_text(textwrap.dedent(BOOM_PLUGIN))
    path = write_grid(
        'n_samples = 100\nactivation = ["relu", "boom"]\ndepth = 1\nwidth = 4\n'
        "epochs = 20\nseed = [0, 1]",
        header='plugins = ["boom.py"]',
    )
    out = tmp_path / "out"
    monkeypatch.setenv("BOOM", "1")
    args = ["run", "--grid", str(path), "--out", str(out), "--quiet", "--jobs", "1"]
    args += ["--threads", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "trained 2, skipped 0 (already stored), diverged 0, failed 2 of 4 runs" in err
    assert "2 run(s) failed" in err
    runs = stored_runs(out).set_index("activation")
    assert (runs.loc["boom", "error"] == "RuntimeError: boom: stacked input rejected").all()
    assert runs.loc["boom", "test_acc"].isna().all()
    assert (runs.loc["relu", "error"] == "").all()
    assert runs.loc["relu", "test_acc"].between(0, 1).all()
    assert Store(out).stored_ids() == set(runs.loc["relu", "run_id"])

    monkeypatch.delenv("BOOM")  # the cause is fixed: the failed runs are trained again
    assert main(args) == 0
    assert "trained 2, skipped 2 (already stored), diverged 0, failed 0" in capsys.readouterr().err
    runs = stored_runs(out)
    assert len(runs) == 4 and runs.run_id.is_unique and (runs.error == "").all()
    assert set(runs.run_id) == ids_of(path)


def test_a_diverging_run_is_counted_and_stored_not_failed(write_grid, tmp_path):
    path = write_grid(
        "n_samples = 100\nactivation = 'relu'\ndepth = 1\nwidth = 4\nepochs = 20\nlr = [0.05, 1e30]"
    )
    summary = run_grid(
        load_grid(path), tmp_path / "out", device="cpu", jobs=1, threads=1, quiet=True
    )
    assert (summary.trained, summary.diverged, summary.failed, summary.ok) == (2, 1, 0, True)
    runs = stored_runs(tmp_path / "out").set_index("lr")
    assert bool(runs.loc[1e30, "diverged"]) and not bool(runs.loc[0.05, "diverged"])
    assert Store(tmp_path / "out").stored_ids() == set(runs.run_id)  # not retried


def test_an_interrupted_run_keeps_the_chunks_it_finished_and_exits_130(
    write_grid, tmp_path, monkeypatch, capsys
):
    path, out = write_grid(), tmp_path / "out"
    calls, train = [], backends.execute_task

    def interrupt_the_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return train(*args, **kwargs)

    monkeypatch.setattr(backends, "execute_task", interrupt_the_second_chunk)
    args = ["run", "--grid", str(path), "--out", str(out), "--quiet", "--jobs", "1"]
    args += ["--threads", "1", "--max-chunk", "2"]
    assert main(args) == 130
    assert "interrupted: trained 2, skipped 0" in capsys.readouterr().err
    assert len(stored_runs(out)) == 2  # merged: nothing finished is lost
    assert Store(out).read_manifest()["summary"]["interrupted"] == "SIGINT"
    monkeypatch.setattr(backends, "execute_task", train)
    assert main(args) == 0
    assert "trained 2, skipped 2" in capsys.readouterr().err


def test_an_unknown_backend_or_a_dask_run_without_scheduler_is_refused_before_anything(
    write_grid, tmp_path
):
    grid = load_grid(write_grid())
    with pytest.raises(ValueError, match="unknown backend 'ray'"):
        run_grid(grid, tmp_path / "out", backend="ray")
    with pytest.raises(ValueError, match="needs --scheduler"):
        run_grid(grid, tmp_path / "out", backend="dask")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- parallel


def test_two_worker_processes_give_the_same_results_as_one_including_a_plugin(write_grid, tmp_path):
    plugin, pids = tmp_path / "acts.py", tmp_path / "pids.txt"
    plugin.write_text(
        textwrap.dedent(f"""
        import os

        import torch

        import bench


        @bench.register_activation("worker_squareplus")
        def squareplus(x):
            if x.dim() == 3 and x.shape[-1] > 5:  # training (not the load-time probe)
                with open({str(pids)!r}, "a") as fh:
                    fh.write(f"{{os.getpid()}}\\n")
            return (x + torch.sqrt(x * x + 4)) / 2
        """)
    )
    path = write_grid(
        'n_samples = 100\nactivation = ["relu", "worker_squareplus"]\ndepth = 1\nwidth = 4\n'
        "epochs = 20\nseed = [0, 1]"
    )
    tables, workers = {}, {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        args = ["run", "--grid", str(path), "--out", str(out), "--quiet", "--jobs", jobs]
        assert main([*args, "--threads", "1", "--max-chunk", "1", "--plugin", str(plugin)]) == 0
        workers[jobs] = set(pids.read_text().split())
        pids.unlink()
        runs = stored_runs(out).sort_values("run_id").reset_index(drop=True)
        curves = pd.read_parquet(out / "curves.parquet")
        tables[jobs] = runs, curves.sort_values(["run_id", "epoch"]).reset_index(drop=True)
    assert workers["1"] == {str(os.getpid())}  # jobs=1 trains in this process
    assert str(os.getpid()) not in workers["2"]  # the plugin reached the worker processes
    (runs1, curves1), (runs2, curves2) = tables["1"], tables["2"]
    assert len(runs1) == 4 and (runs1.error == "").all() and (runs2.error == "").all()
    assert runs1.run_id.tolist() == runs2.run_id.tolist()
    assert runs1.test_acc.tolist() == runs2.test_acc.tolist()
    assert runs1.train_acc.tolist() == runs2.train_acc.tolist()
    np.testing.assert_allclose(runs1.train_loss, runs2.train_loss, rtol=0, atol=1e-6)
    np.testing.assert_allclose(runs1.test_loss, runs2.test_loss, rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(curves1, curves2, rtol=0, atol=1e-6)


def test_chunking_changes_results_by_float32_rounding_at_most(write_grid, tmp_path):
    """The README's guarantee: a run's results do not depend on the runs it shares a chunk
    with, up to float32 rounding of the batched products: losses to 1e-5, accuracies by at
    most one point on the decision boundary, region counts by at most 2."""
    grid = load_grid(
        write_grid(
            'activation = ["relu", "tanh"]\nn_samples = 200\ndepth = 2\nwidth = 16\n'
            'optimizer = "adam"\nlr = 0.01\nepochs = 60\nseed = { range = [0, 6] }'
        )
    )
    tables = []
    for name, chunk in (("together", None), ("alone", 1)):
        run_grid(grid, tmp_path / name, device="cpu", jobs=1, threads=1, quiet=True,
                 max_chunk=chunk)  # fmt: skip
        tables.append(stored_runs(tmp_path / name).set_index("run_id").sort_index())
    together, alone = tables
    assert list(together.index) == list(alone.index)
    n_test, n_train = 40, 160
    assert (together.test_acc - alone.test_acc).abs().max() <= 1 / n_test
    assert (together.train_acc - alone.train_acc).abs().max() <= 1 / n_train
    np.testing.assert_allclose(together.train_loss, alone.train_loss, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(together.test_loss, alone.test_loss, rtol=1e-5, atol=1e-6)
    assert (together.linear_regions - alone.linear_regions).abs().max() <= 2
