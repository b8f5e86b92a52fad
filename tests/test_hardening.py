"""A careful user's worst day: concurrent writers, bad folders, damaged tables, hostile plugins,
signals, edited grids, enormous grids. Each ends in stored results and one line, never a
traceback."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.grid.parse import load_grid
from bench.run.runner import run_grid

pytestmark = pytest.mark.usefixtures("isolated")

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD = ("--jobs", "1", "--threads", "1")


def cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def one_line_error(err: str, *fragments: str) -> None:
    assert err.startswith("nonlinbench: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def start_run(grid: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(grid), "--out", str(out), "--quiet",
         *ONE_THREAD],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


# --------------------------------------------------------------------------- one writer


@pytest.mark.slow  # two concurrent processes (~7 s)
def test_two_runs_on_one_folder_store_every_run_once_with_its_curves(write_grid, tmp_path):
    grid = write_grid(
        'activation = ["none", "relu", "tanh"]\nn_samples = 200\nwidth = 8\nepochs = 150\n'
        "seed = { range = [0, 6] }"
    )
    out = tmp_path / "out"
    first, second = start_run(grid, out), start_run(grid, out)
    results = [(p.wait(timeout=300), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    # Either the second found the folder busy and said so, or it started after the first
    # had finished and found everything stored.
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert "being written by another `nonlinbench run`" in err and "Traceback" not in err
    runs = pd.read_parquet(out / "runs.parquet")
    curves = pd.read_parquet(out / "curves.parquet")
    assert len(runs) == 18 and runs["run_id"].is_unique
    assert set(curves["run_id"]) == set(runs["run_id"])
    assert (curves.groupby("run_id").size() == 16).all()  # epochs 0, 10, ..., 150


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(write_grid, tmp_path):
    from bench.results.store import Store, StoreError

    store = Store(tmp_path / "out")
    with store.writing():
        with pytest.raises(StoreError, match="being written by another"):
            with Store(tmp_path / "out").writing():
                pass
    with store.writing():  # released on exit
        pass


# --------------------------------------------------------------------------- bad folders


def test_out_naming_a_file_is_a_one_line_error(write_grid, tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("not a folder")
    code, err = cli(capsys, "run", str(write_grid()), "--out", str(target), *ONE_THREAD)
    assert code == 2
    one_line_error(err, str(target), "is a file")


def test_an_unwritable_out_is_a_one_line_error(write_grid, tmp_path, capsys, monkeypatch):
    # Root ignores file modes, so the refusal comes from the file system call itself.
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, err = cli(capsys, "run", str(write_grid()), "--out", str(tmp_path / "x"), *ONE_THREAD)
    assert code == 2
    one_line_error(err, "permission denied", "--out")


def test_a_full_disk_keeps_finished_chunks_and_says_how_to_resume(
    write_grid, tmp_path, capsys, monkeypatch
):
    from bench.results.store import Store

    written = []
    original = Store.write_shard

    def fill_up(self, *tables):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(original(self, *tables))

    monkeypatch.setattr(Store, "write_shard", fill_up)
    out = tmp_path / "out"
    argv = ("run", str(write_grid()), "--out", str(out), "--max-chunk", "1", *ONE_THREAD)
    code, err = cli(capsys, *argv, "--quiet")
    assert code == 2
    one_line_error(err, "disk full", "rerun")
    assert len(pd.read_parquet(out / "runs.parquet")) == 1  # the chunk that fit was kept


@pytest.mark.parametrize("table", ["runs", "curves"])
def test_a_corrupt_table_is_set_aside_and_its_runs_trained_again(
    table, write_grid, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = ("run", str(write_grid()), "--out", str(out), "--quiet", *ONE_THREAD)
    assert cli(capsys, *argv)[0] == 0
    (out / f"{table}.parquet").write_bytes(b"PAR1 damaged")
    # The report names the file and what to do.
    code, err = cli(capsys, "report", "--results", str(out), "--out", str(tmp_path / "rep"))
    assert code == 2
    one_line_error(err, f"{table}.parquet", "cannot be read")
    # A run sets the tables aside and trains their runs again.
    code, err = cli(capsys, *argv)
    assert code == 0 and "set aside" in err and "trained 4" in err
    assert len(pd.read_parquet(out / "curves.parquet")) == 4 * 3


def test_a_bad_manifest_or_missing_columns_are_one_line_errors(write_grid, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(capsys, "run", str(write_grid()), "--out", str(out), "--quiet", *ONE_THREAD)[0] == 0
    report = ("report", "--results", str(out), "--out", str(tmp_path / "rep"))
    (out / "manifest.json").write_text("{not json")
    code, err = cli(capsys, *report)
    assert code == 2
    one_line_error(err, "manifest.json")
    (out / "manifest.json").unlink()
    runs = pd.read_parquet(out / "runs.parquet")
    runs.drop(columns=["depth", "activation"]).to_parquet(out / "runs.parquet")
    code, err = cli(capsys, *report)
    assert code == 2
    one_line_error(err, "runs.parquet", "activation", "depth")


@pytest.mark.parametrize("name", ["x" * 256, "bad\\u0000name"])
def test_a_grid_name_that_cannot_be_a_folder_is_refused(name, tmp_path, capsys):
    path = tmp_path / "g.toml"
    path.write_text(f'name = "{name}"\n[grid]\ndepth = 1\n')
    code, err = cli(capsys, "plan", str(path))
    assert code == 2
    one_line_error(err, "key 'name'", "folder name")


# --------------------------------------------------------------------------- inputs


def test_a_plugin_that_mixes_models_returns_a_constant_or_exits_is_rejected(tmp_path, capsys):
    cases = {
        "mixer.py": ("return x / x.abs().max()", "mixes models"),
        "constant.py": ("return torch.zeros_like(x).detach()", "does not depend on its input"),
        "exits.py": ("import sys; sys.exit(3)", "sys.exit(3)"),
    }
    for filename, (body, message) in cases.items():
        plugin = tmp_path / filename
        plugin.write_text(
            textwrap.dedent(
                f"""
                import torch, bench
                @bench.register_activation("{filename[:-3]}")
                def act(x):
                    {body}
                """
            )
        )
        code, err = cli(capsys, "list-activations", "--plugin", str(plugin))
        assert code == 2
        one_line_error(err, filename, message)


def test_a_one_feature_csv_trains_and_is_measured_on_a_line(write_grid, tmp_path):
    rows = [f"{x / 10:.2f},{int(abs(x) < 10)}" for x in range(-30, 30)]
    (tmp_path / "line.csv").write_text("x1,label\n" + "\n".join(rows) + "\n")
    grid = write_grid('dataset = "line.csv"\nactivation = ["none", "relu"]\nepochs = 40')
    summary = run_grid(load_grid(grid), tmp_path / "out", device="cpu", jobs=1, quiet=True)
    assert summary.failed == 0
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert runs["linear_fit_r2"].notna().all()
    surfaces = pd.read_parquet(tmp_path / "out" / "surfaces.parquet")
    assert set(surfaces["plane"]) == {"line"}
    assert all((y == 0).all() for y in surfaces["test_y"])


def test_a_split_that_cannot_be_made_is_named_before_training(write_grid, capsys, tmp_path):
    grid = write_grid("n_samples = 4\ntest_size = 0.0001")
    code, err = cli(capsys, "run", str(grid), "--out", str(tmp_path / "o"), *ONE_THREAD)
    assert code == 2
    one_line_error(err, f"grid {grid}", "cannot split")
    assert not (tmp_path / "o" / "runs.parquet").exists()


def test_rerunning_an_edited_grid_into_the_same_folder_asks_for_fresh(write_grid, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ("--out", str(out), "--quiet", *ONE_THREAD)
    assert cli(capsys, "run", str(write_grid()), *argv)[0] == 0
    edited = write_grid('n_samples = 100\nactivation = "relu"\nepochs = 30')
    code, err = cli(capsys, "run", str(edited), *argv)
    assert code == 2
    one_line_error(err, "another version of grid 'tiny'", "--fresh")
    assert cli(capsys, "run", str(edited), *argv, "--fresh")[0] == 0
    assert set(pd.read_parquet(out / "runs.parquet")["epochs"]) == {30}


def test_an_edited_grid_that_still_holds_every_stored_run_goes_on_in_its_folder(
    write_grid, tmp_path, capsys
):
    out = tmp_path / "out"
    argv = ("--out", str(out), "--quiet", *ONE_THREAD)
    first = write_grid('n_samples = 100\nactivation = "relu"\nepochs = 30')
    assert cli(capsys, "run", str(first), *argv)[0] == 0
    stored = set(pd.read_parquet(out / "runs.parquet")["run_id"])
    # A comment and a second activation: a new text, but the relu runs are still its runs.
    grown = write_grid('# and tanh\nn_samples = 100\nactivation = ["relu", "tanh"]\nepochs = 30')
    assert cli(capsys, "run", str(grown), *argv)[0] == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert stored < set(runs["run_id"])
    assert set(runs["activation"]) == {"relu", "tanh"}


def test_an_enormous_grid_is_refused_at_once_with_its_size(tmp_path, capsys):
    path = tmp_path / "huge.toml"
    path.write_text(
        'name = "huge"\n[grid]\nseed = { range = [0, 10000] }\nwidth = { range = [1, 101] }\n'
        "depth = { range = [0, 10] }\nlr = [0.1, 0.01]\nnoise = [0.0, 0.1, 0.2, 0.3, 0.4]\n"
    )
    start = time.perf_counter()
    code, err = cli(capsys, "plan", str(path))
    assert time.perf_counter() - start < 10
    assert code == 2
    one_line_error(err, "200,000,000 runs", "--max-runs")


# --------------------------------------------------------------------------- signals


@pytest.mark.slow  # ~12 s of real worker processes: `make test-slow`
def test_sigterm_stores_finished_chunks_exits_143_and_leaves_no_worker(write_grid, tmp_path):
    grid = write_grid(
        'activation = ["relu", "tanh", "gelu", "elu"]\nn_samples = 300\nwidth = 16\n'
        "epochs = 400\nseed = { range = [0, 4] }"
    )
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(grid), "--out", str(out), "--quiet",
         "--jobs", "2", "--threads", "1", "--max-chunk", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "shards").glob("*.runs.parquet")):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=120)
    err = process.stderr.read()
    assert code == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert len(pd.read_parquet(out / "runs.parquet")) >= 1
    # Workers are killed before the command exits; resource trackers leave when it does.
    for _ in range(50):
        survivors = subprocess.run(
            ["pgrep", "-a", "-s", str(process.pid)], capture_output=True, text=True
        ).stdout.splitlines()
        if not survivors:
            break
        time.sleep(0.1)
    assert survivors == [], f"processes outlived the command: {survivors}"


@pytest.mark.slow  # a subprocess that imports torch (~6 s)
def test_a_closed_pipe_is_not_an_error():
    pipeline = subprocess.run(
        f"{sys.executable} -m bench list-activations | head -1",
        shell=True, cwd=ROOT, capture_output=True, text=True, env={**os.environ},
    )  # fmt: skip
    assert pipeline.returncode == 0
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr


def test_a_csv_edited_after_planning_does_not_change_what_the_runs_train_on(write_grid, tmp_path):
    import torch

    from bench.results.store import Store
    from bench.run.execute import execute_task
    from bench.run.plan import make_plan

    rows = [f"{x / 10:.1f},{y / 10:.1f},{int(x * x + y * y < 200)}" for x in range(-20, 20, 3)
            for y in range(-20, 20, 3)]  # fmt: skip
    csv = tmp_path / "disc.csv"
    csv.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    grid = load_grid(write_grid('dataset = "disc.csv"\nactivation = "relu"\nseed = 0'))
    plan = make_plan(grid, Store(tmp_path / "out"), torch.device("cpu"))
    before = execute_task(plan.tasks[0], "cpu", 1).runs
    csv.write_text("x1,x2,label\n" + "\n".join(r[:-1] + "1" for r in rows[:-1]) + "\n0,0,0\n")
    after = execute_task(plan.tasks[0], "cpu", 1).runs
    assert (after["error"] == "").all()
    pd.testing.assert_frame_equal(
        before.drop(columns=["wall_s"]), after.drop(columns=["wall_s"]), check_exact=True
    )
