"""A user's CSV in a grid: one name everywhere (the path as written in the grid), no noise
unless the grid asks, `n_samples` is the file's row count, and files no run can be scored on
are refused before training."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from bench.cli import main
from bench.grid.parse import GridError, load_grid, run_ids

pytestmark = [
    pytest.mark.usefixtures("isolated"),
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
]

ONE_THREAD = ("--jobs", "1", "--threads", "1")


def write_csv(path, rows=30, last="target"):
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"{i / rows:.4f},{(i / rows) ** 2 if last == 'target' else i % 2}\n" for i in range(rows)
    )
    path.write_text(f"x1,{last}\n{body}")
    return path


def write_grid(folder, axes: str):
    path = folder / "grid.toml"
    path.write_text(f'name = "csvs"\n[grid]\n{axes}\n')
    return path


def test_a_csv_is_named_as_written_and_gets_its_rows_and_no_noise(tmp_path):
    write_csv(tmp_path / "data" / "fit.csv", rows=30)
    grid = load_grid(write_grid(tmp_path, 'dataset = ["sine", "data/./fit.csv"]\ndepth = 1'))
    by_dataset = {s.dataset: s for s in grid.specs()}
    assert set(by_dataset) == {"sine", "data/fit.csv"}
    csv = by_dataset["data/fit.csv"]
    assert csv.dataset.path == str((tmp_path / "data" / "fit.csv").resolve())
    assert (csv.n_samples, csv.noise) == (30, 0.0)  # the file's rows; noise only if asked
    assert (by_dataset["sine"].n_samples, by_dataset["sine"].noise) == (1000, 0.03)
    assert csv.to_dict()["dataset"] == "data/fit.csv" and type(csv.to_dict()["dataset"]) is str


def test_noise_the_grid_gives_applies_to_a_csv_and_n_samples_never_multiplies_it(tmp_path):
    write_csv(tmp_path / "fit.csv")
    grid = load_grid(
        write_grid(
            tmp_path,
            'dataset = ["circles", "fit.csv"]\nnoise = [0.0, 0.1]\nn_samples = [100, 200]\n'
            "depth = 1\n[[exclude]]\nn_samples = 30\nnoise = 0.1",
        )
    )
    csv = [s for s in grid.specs() if s.dataset == "fit.csv"]
    # 2 noises x 2 activations, n_samples is the file's 30 rows; the exclude matches that
    assert sorted({(s.n_samples, s.noise) for s in csv}) == [(30, 0.0)]
    assert grid.size() == len(grid.specs()) == 2 * 2 * 2 + 2


def test_moving_the_grid_and_its_data_together_keeps_the_run_ids(tmp_path):
    write_csv(tmp_path / "a" / "data" / "fit.csv")
    write_grid(tmp_path / "a", 'dataset = "data/fit.csv"\ndepth = 1')
    before = run_ids(load_grid(tmp_path / "a" / "grid.toml").specs())
    shutil.move(tmp_path / "a", tmp_path / "b")
    assert run_ids(load_grid(tmp_path / "b" / "grid.toml").specs()) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x1,target\n" + "".join(f"{i},2\n" for i in range(20)), "R^2 is undefined"),
        ("x1,target\n0,1\n", "has 1 data row(s)"),
        ("x1,label\n" + "".join(f"{i},{i % 2}\n" for i in range(5)), "has 5 data row(s)"),
        ("x1,target\n" + "".join(f"{i},{i * 1e8}\n" for i in range(20)), "divide the target"),
    ],
    ids=["constant", "one row", "five rows", "huge targets"],
)
def test_a_csv_no_run_can_be_scored_on_is_a_one_line_error_naming_the_key(
    tmp_path, capsys, content, message
):
    (tmp_path / "bad.csv").write_text(content)
    grid = write_grid(tmp_path, 'dataset = "bad.csv"')
    with pytest.raises(GridError, match="key 'grid.dataset' value 'bad.csv'"):
        load_grid(grid)
    assert main(["plan", str(grid), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_regression_csv_runs_is_stored_by_its_name_and_exports_from_anywhere(
    tmp_path, monkeypatch, capsys
):
    write_csv(tmp_path / "data" / "fit.csv", rows=40)
    grid = write_grid(
        tmp_path,
        'dataset = "data/fit.csv"\nactivation = "tanh"\ndepth = 1\nwidth = 4\nepochs = 20\n'
        'optimizer = "adam"\nlr = 0.05\nseed = [0, 1]',
    )
    out = tmp_path / "out"
    assert main(["run", str(grid), "--out", str(out), "--quiet", *ONE_THREAD]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs.dataset) == {"data/fit.csv"}
    assert set(runs.n_samples) == {40} and set(runs.noise) == {0.0}
    monkeypatch.chdir(tmp_path / "data")  # the name is relative to the grid, not to here
    argv = ["export", "--results", str(out), "--where", "dataset=data/fit.csv", "--where", "seed=1"]
    assert main([*argv, "--out", str(tmp_path / "m.pt")]) == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["axes"]["dataset"] == "data/fit.csv"
    assert "as stored" in capsys.readouterr().err
    # the name the report shows, the file's stem, names it too
    argv[4] = "dataset=fit"
    assert main([*argv, "--out", str(tmp_path / "m2.pt")]) == 0, capsys.readouterr().err
