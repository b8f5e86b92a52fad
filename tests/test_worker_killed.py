"""Specification of bench/run/runner.py's survival of a killed worker: one line, finished chunks
kept, the killed chunk trained again once as two halves, then marked failed (issue 23)."""

from __future__ import annotations

import os
import textwrap

import pandas as pd
import pytest

from bench.cli import main
from bench.results.store import Store

pytestmark = pytest.mark.usefixtures("isolated")

# An activation whose worker kills itself with SIGKILL when it trains (never in the main
# process, which checks plugins before training): once (KILL=once, noted in a file) or
# every time (KILL=always), as the operating system kills a worker out of memory.
KILLER = """
import os
import signal

import bench


@bench.register_activation("killer")
def killer(x):
    if os.getpid() != int(os.environ["MAIN_PID"]) and x.dim() == 3 and x.shape[-1] > 5:
        note = os.environ["KILL_NOTE"]
        if os.environ["KILL"] == "always" or not os.path.exists(note):
            open(note, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return x.clamp(min=0)
"""


def _run(write_grid, tmp_path, monkeypatch, kill: str):
    (tmp_path / "killer.py").write_text(textwrap.dedent(KILLER))
    path = write_grid(
        'n_samples = 100\nactivation = ["relu", "killer"]\ndepth = 1\nwidth = 4\n'
        "epochs = 5\nseed = [0, 1, 2, 3]",
        header='plugins = ["killer.py"]',
    )
    monkeypatch.setenv("MAIN_PID", str(os.getpid()))
    monkeypatch.setenv("KILL", kill)
    monkeypatch.setenv("KILL_NOTE", str(tmp_path / "killed"))
    out = tmp_path / "out"
    args = ["run", "--grid", str(path), "--out", str(out), "--quiet", "--jobs", "2"]
    code = main([*args, "--threads", "1"])
    runs = pd.read_parquet(out / "runs.parquet").set_index("activation")
    return code, runs, out


@pytest.mark.slow  # 30 s on a loaded 2-core CPU; the next test covers the kill in `make test`
def test_a_chunk_killed_once_is_trained_again_as_halves(write_grid, tmp_path, monkeypatch, capsys):
    code, runs, out = _run(write_grid, tmp_path, monkeypatch, "once")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    killed = [line for line in err.splitlines() if "worker was killed" in line]
    assert len(killed) == 1 and "SIGKILL" in killed[0] and "killer depth x width 1 x 4" in killed[0]
    assert "trained 8, skipped 0 (already stored), diverged 0, failed 0 of 8 runs" in err
    assert (runs.error == "").all() and runs.test_acc.between(0, 1).all()
    assert sorted(runs.loc["killer", "chunk_size"]) == [2, 2, 2, 2]  # two halves of 4
    assert len(Store(out).stored_ids()) == 8


def test_a_chunk_killed_twice_is_failed_with_the_reason_and_the_rest_is_kept(
    write_grid, tmp_path, monkeypatch, capsys
):
    code, runs, out = _run(write_grid, tmp_path, monkeypatch, "always")
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    assert sum("killed again (SIGKILL" in line for line in err.splitlines()) == 2  # each half
    assert "trained 4, skipped 0 (already stored), diverged 0, failed 4 of 8 runs" in err
    assert (runs.loc["relu", "error"] == "").all()
    errors = runs.loc["killer", "error"]
    assert errors.str.contains(r"worker killed \(SIGKILL\(-9\)\) training a chunk of 4").all()
    assert errors.str.contains("again").all()
    assert Store(out).stored_ids() == set(runs.loc["relu", "run_id"])


def test_a_chunk_out_of_gpu_memory_is_tried_as_halves_then_failed(
    write_grid, tmp_path, monkeypatch
):
    """The in-process counterpart (a CUDA out-of-memory error), faked on the CPU: chunks of more
    than `fits` models raise it."""
    import torch

    from bench import engine
    from bench.grid.parse import load_grid
    from bench.run.execute import execute_task
    from bench.run.plan import make_plan

    path = write_grid(
        'n_samples = 60\nactivation = "relu"\ndepth = 1\nwidth = 4\nepochs = 2\nseed = [0, 1, 2, 3]'
    )
    plan = make_plan(load_grid(path), Store(tmp_path / "out"), torch.device("cpu"))
    (task,) = plan.tasks
    train_chunk = engine.train_chunk

    def limited(fits):
        def train(specs, *args, **kwargs):
            if len(specs) > fits:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            return train_chunk(specs, *args, **kwargs)

        return train

    monkeypatch.setattr(engine, "train_chunk", limited(2))
    runs = execute_task(task, "cpu", 1).runs
    assert (runs.error == "").all() and list(runs.chunk_size) == [2, 2, 2, 2]
    assert list(runs.run_id) == task.run_ids

    monkeypatch.setattr(engine, "train_chunk", limited(1))
    runs = execute_task(task, "cpu", 1).runs
    assert (
        len(runs) == 4
        and runs.error.str.startswith(
            "out of GPU memory training a chunk of 4 models, and again as 2: CUDA out of memory"
        ).all()
    )
