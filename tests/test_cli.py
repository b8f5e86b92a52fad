"""Specification of the `nonlinbench` command: run, plan, errors, progress and resume."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import bench
from bench.cli import main
from bench.grid.parse import load_grid, run_ids
from bench.schema import AXES

pytestmark = pytest.mark.usefixtures("isolated")

# One torch thread per run: deterministic, and on a busy 2-core machine an order of magnitude
# faster than two threads (which spin-wait for each other on these tiny matrices).
ONE_THREAD = ("--threads", "1")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `nonlinbench ARGS`, also when argparse exits."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the quick grid


def test_the_quick_grid_runs_end_to_end_into_tidy_tables_and_a_manifest(tmp_path, capsys):
    out = tmp_path / "quick"
    argv = ["run", "--grid", "quick", "--out", str(out), "--quiet", "--jobs", "1", *ONE_THREAD]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    grid = load_grid("quick")
    ids = run_ids(grid.specs())
    assert re.search(r"trained 96, skipped 0 \(already stored\), diverged \d+, failed 0", err)

    runs = pd.read_parquet(out / "runs.parquet")
    expected = [
        "run_id", *AXES, "train_acc", "test_acc", "train_loss", "test_loss", "diverged",
        "error", "wall_s", "device", "engine_version",
    ]  # fmt: skip
    assert set(expected) <= set(runs.columns)
    assert len(runs) == 96 and runs.run_id.is_unique and set(runs.run_id) == set(ids)
    assert (runs.error == "").all()
    assert runs.test_acc.between(0, 1).all() and runs.train_acc.between(0, 1).all()
    assert (runs.wall_s > 0).all() and (runs.device == "cpu").all()
    assert sorted(runs.activation.unique()) == sorted(grid.axes["activation"])
    # Every axis is stored as the grid resolved it.
    by_id = runs.set_index("run_id")
    for spec, rid in zip(grid.specs()[:5], ids[:5], strict=True):
        for axis, value in spec.to_dict().items():
            assert by_id.loc[rid, axis] == value

    curves = pd.read_parquet(out / "curves.parquet")
    assert {"run_id", "epoch", "train_loss", "test_loss", "train_acc", "test_acc"} <= set(
        curves.columns
    )
    assert set(curves.run_id) == set(ids)
    assert not curves.duplicated(["run_id", "epoch"]).any()
    assert sorted(curves.epoch.unique()) == list(range(0, 101, 10))

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["grid"]["text"] == grid.text
    assert manifest["grid"]["hash"] == grid.hash == manifest["grid_hash"]
    assert manifest["versions"]["nonlinbench"] == bench.__version__
    assert {"torch", "python"} <= set(manifest["versions"])
    assert manifest["device"] == "cpu"
    assert "git_commit" in manifest
    assert manifest["started"] <= manifest["finished"]
    assert manifest["command"] == "nonlinbench " + " ".join(argv)
    assert manifest["summary"]["trained"] == 96


# --------------------------------------------------------------------------- plan


def plan_numbers(stdout: str) -> tuple[int, int, int, int, int]:
    """(runs, stored, to train, groups, chunks) from `nonlinbench plan` output."""
    runs = re.search(r"^runs\s+(\d+)$", stdout, re.M)
    stored = re.search(r"^stored\s+(\d+) ", stdout, re.M)
    train = re.search(r"^to train\s+(\d+) in (\d+) groups, (\d+) chunks$", stdout, re.M)
    assert runs and stored and train, stdout
    return int(runs[1]), int(stored[1]), int(train[1]), int(train[2]), int(train[3])


@pytest.mark.slow  # calibrates the per-machine prices from scratch (~13 s)
def test_plan_prints_runs_stored_groups_and_chunks(write_grid, tmp_path, capsys):
    # 3 activations x 2 depths x 3 seeds, minus none at depth 2: 15 runs in 5 groups of 3.
    path = write_grid(
        'activation = ["none", "relu", "tanh"]\ndepth = [1, 2]\nn_samples = 100\nwidth = 4\n'
        "epochs = 20\nseed = [0, 1, 2]",
        excludes='[[exclude]]\nactivation = "none"\ndepth = 2\n',
    )
    out = tmp_path / "out"
    code, stdout, _ = run_cli(
        capsys, "plan", str(path), "--out", str(out), "--max-chunk", "2", *ONE_THREAD
    )
    assert code == 0
    assert plan_numbers(stdout) == (15, 0, 15, 5, 10)  # each group: a chunk of 2 and one of 1
    assert f"stored    0 (in {out})" in stdout
    assert "estimate" in stdout

    args = ["run", "--grid", str(path), "--out", str(out), "--quiet", "--jobs", "1", *ONE_THREAD]
    assert run_cli(capsys, *args)[0] == 0
    code, stdout, _ = run_cli(capsys, "plan", str(path), "--out", str(out))
    assert plan_numbers(stdout) == (15, 15, 0, 0, 0)
    assert "estimate" not in stdout


# --------------------------------------------------------------------------- errors

# Every grid check is specified in test_grid.py; here, one of each kind (a key, a value, the
# file's syntax) shows that the command turns them into one line and exit status 2.
BAD_GRIDS = {
    "unknown key": ("depht = 2", ["grid.depht", "did you mean 'depth'"]),
    "unknown activation": ('activation = "rleu"', ["grid.activation", "'rleu'", "'relu'"]),
    "invalid TOML": ("depth = [1, 2", ["not valid TOML"]),
}


@pytest.mark.parametrize("case", list(BAD_GRIDS), ids=str)
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_bad_grid_exits_2_with_one_line_naming_file_key_and_value(
    case, command, tmp_path, capsys
):
    body, fragments = BAD_GRIDS[case]
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "bad"\n[grid]\n{body}\n')
    code, stdout, err = run_cli(capsys, command, "--grid", str(path), "--out", str(tmp_path))
    assert code == 2
    assert err.startswith(f"nonlinbench: error: grid {path}")
    assert err.count("\n") == 1 and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err
    assert not (tmp_path / "runs.parquet").exists()


def test_an_unknown_top_level_key_is_an_error(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\ndescriptoin = "typo"\n[grid]\ndepth = 1\n')
    code, _, err = run_cli(capsys, "run", "--grid", str(path))
    assert code == 2
    assert "unknown top-level key 'descriptoin' (did you mean 'description'?)" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--jobs", "0"], "argument --jobs: expected a positive int, got '0'"),
        (["--jobs", "two"], "argument --jobs: expected a positive int, got 'two'"),
        (["--max-chunk", "0"], "argument --max-chunk: expected a positive int"),
        (["--threads", "-2"], "argument --threads"),
        (["--device", "tpu"], "--device tpu: unknown device 'tpu'; allowed: auto, cuda, mps, cpu"),
        (["--backend", "ray"], "argument --backend: invalid choice: 'ray'"),
        (["--backend", "dask"], "--backend dask needs --scheduler"),
        (["--plugin", "missing.py"], "--plugin missing.py: plugin file missing.py does not exist"),
    ],
    ids=str,
)
def test_bad_flags_exit_2_with_a_clear_message(flags, message, tmp_path, capsys, write_grid):
    path = write_grid()
    code, _, err = run_cli(capsys, "run", "--grid", str(path), "--out", str(tmp_path), *flags)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "runs.parquet").exists()


def test_a_missing_grid_is_named(capsys):
    code, _, err = run_cli(capsys, "run", "--out", "x")
    assert code == 2
    assert err == (
        "nonlinbench run: error: a grid is needed: nonlinbench run GRID "
        "(see `nonlinbench run --help`)\n"
    )


@pytest.mark.parametrize("command", ["run", "plan", "report"])
def test_every_subcommand_takes_a_grid_positionally_or_with_the_grid_flag(command, capsys):
    from bench.cli import build_parser

    parser = build_parser()
    for argv in ([command, "quick"], [command, "--grid", "quick"]):
        args = parser.parse_args(argv)
        assert (args.grid_pos or args.grid_opt) == "quick"
    assert run_cli(capsys, command, "quick", "--grid", "seed")[0] == 2  # two different grids


def test_every_option_of_every_subcommand_has_help():
    from bench.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_an_unknown_grid_name_suggests_the_closest(capsys):
    code, _, err = run_cli(capsys, "run", "--grid", "quik")
    assert code == 2
    assert "no grid named 'quik' (did you mean 'quick'?)" in err


# --------------------------------------------------------------------------- progress


def test_quiet_prints_no_progress_bar_only_the_summary_line(write_grid, tmp_path, capsys):
    path = write_grid()
    code, stdout, err = run_cli(
        capsys,
        "run",
        "--grid",
        str(path),
        "--out",
        str(tmp_path / "a"),
        "--quiet",
        "--jobs",
        "1",
        *ONE_THREAD,
    )
    assert code == 0 and stdout == ""
    summary = re.fullmatch(
        r"trained (\d+), skipped (\d+) \(already stored\), diverged (\d+), failed (\d+) "
        r"of (\d+) runs in (\d+\.\d) s\n",
        err,
    )
    assert summary and summary.groups()[:5] == ("4", "0", "0", "0", "4")


def test_without_quiet_a_progress_bar_counts_the_runs(write_grid, tmp_path, capsys):
    path = write_grid()
    code, _, err = run_cli(
        capsys, "run", "--grid", str(path), "--out", str(tmp_path / "b"), "--jobs", "1", *ONE_THREAD
    )
    assert code == 0
    assert "tiny: 100%" in err and "4/4" in err
    assert err.rstrip().splitlines()[-1].startswith("trained 4, skipped 0")


def test_rerunning_through_the_cli_says_there_is_nothing_to_train(write_grid, tmp_path, capsys):
    args = ["run", "--grid", str(write_grid()), "--out", str(tmp_path), "--quiet", "--jobs", "1"]
    args += ONE_THREAD
    assert run_cli(capsys, *args)[0] == 0
    code, _, err = run_cli(capsys, *args)
    assert code == 0
    assert "all 4 runs of grid 'tiny' are already stored" in err
    assert "trained 0, skipped 4" in err
    code, _, err = run_cli(capsys, *args, "--fresh")
    assert code == 0 and "trained 4, skipped 0" in err


# --------------------------------------------------------------------------- kill and resume

KILL_AXES = """
n_samples = 100
activation = ["relu", "tanh", "elu"]
depth = [1, 2]
width = 4
epochs = 40
seed = [0, 1, 2, 3]
"""


def test_a_run_killed_mid_grid_resumes_without_losing_or_repeating_a_run(
    write_grid, tmp_path, capsys
):
    path, out = write_grid(KILL_AXES, name="killme"), tmp_path / "out"
    args = ["run", "--grid", str(path), "--out", str(out), "--quiet", "--jobs", "1"]
    args += ["--max-chunk", "2", *ONE_THREAD]  # 24 runs in 12 chunks
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("shards/*.runs.parquet")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no shard within 120 s"
            time.sleep(0.02)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert still_running, "the grid finished before it could be killed; make it bigger"

    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    summary = re.search(r"trained (\d+), skipped (\d+)", err)
    trained, skipped = int(summary[1]), int(summary[2])
    assert skipped >= 2 and trained + skipped == 24  # the killed run's shards were kept
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs.run_id.is_unique
    assert set(runs.run_id) == set(run_ids(load_grid(path).specs()))
    assert (runs.error == "").all()
    curves = pd.read_parquet(out / "curves.parquet")
    assert not curves.duplicated(["run_id", "epoch"]).any()
    assert set(curves.run_id) == set(runs.run_id)
    assert len(curves) == 24 * 5  # epochs 0, 10, 20, 30, 40
    assert list(out.glob("shards/*.parquet")) == []
