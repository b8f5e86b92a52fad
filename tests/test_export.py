"""Specification of `nonlinbench export`: a stored run as a standalone PyTorch model that
reproduces its stored test score when reloaded without nonlinbench."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from bench.cli import main
from bench.grid.parse import load_grid
from bench.run.runner import run_grid

pytestmark = [
    pytest.mark.usefixtures("isolated"),
    # torch 2.13 deprecates TorchScript (torch.jit.load still works, and needs only torch).
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# 3 datasets (two classes, three classes, regression) x 2 feature maps x 2 activations (a
# built-in and the example plugin's learnable one) x 2 seeds: 24 tiny runs, a few seconds.
GRID = f"""
name = "export_tiny"
plugins = ["{EXAMPLES / "my_activations.py"}"]

[grid]
dataset = ["circles", "spirals", "sine"]
features = ["raw", "quadratic"]
n_samples = 100
noise = 0.1
activation = ["relu", "learnable_prelu"]
depth = 1
width = 4
optimizer = "adam"
lr = 0.05
epochs = 20
eval_every = 10
seed = [0, 1]
"""

# Loads every export named on the command line with torch and numpy alone, and recomputes its
# score from its test set; prints {file: score}. nonlinbench must never be imported.
RELOAD = """
import json, sys
import numpy as np
import torch

scores = {}
for path in sys.argv[1:]:
    stem = path[: -len(".pt")]
    meta = json.load(open(stem + ".json"))
    test = np.load(stem + ".test.npz")
    model = torch.jit.load(path)
    with torch.no_grad():
        out = model(torch.from_numpy(test["X_test"]))
    y = torch.from_numpy(test["y_test"])
    if meta["n_classes"] == 0:
        score = 1 - ((y - out) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    elif meta["n_classes"] == 2:
        score = ((out[:, 0] > 0).long() == y).float().mean()
    else:
        score = (out.argmax(-1) == y).float().mean()
    scores[path] = score.item()
assert "bench" not in sys.modules, "the export needs nonlinbench"
print(json.dumps(scores))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export")
    grid_file = root / "grid.toml"
    grid_file.write_text(GRID)
    threads = torch.get_num_threads()
    try:
        run_grid(
            load_grid(grid_file), root / "results", device="cpu", jobs=1, threads=1, quiet=True
        )
    finally:
        torch.set_num_threads(threads)
    return root / "results"


@pytest.fixture(scope="module")
def runs(results) -> pd.DataFrame:
    return pd.read_parquet(results / "runs.parquet")


def export(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `nonlinbench export ARGS`."""
    try:
        code = main(["export", *args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_run(runs: pd.DataFrame, **axes) -> pd.Series:
    chosen = runs
    for axis, value in axes.items():
        chosen = chosen[chosen[axis] == value]
    assert len(chosen) == 1
    return chosen.iloc[0]


CASES = {
    "circles_quadratic_relu": "dataset=circles,features=quadratic,activation=relu,seed=1",
    "spirals_learnable": "dataset=spirals,features=raw,activation=learnable_prelu,seed=0",
    "sine_relu": "dataset=sine,features=raw,activation=relu,seed=0",
    "sine_quadratic_learnable": "dataset=sine,features=quadratic,activation=learnable_prelu,seed=1",
}


@pytest.fixture(scope="module")
def exported(results, tmp_path_factory) -> dict[str, Path]:
    """Each case exported by --where: name -> the TorchScript file."""
    out = tmp_path_factory.mktemp("exports")
    files = {}
    for name, where in CASES.items():
        path = out / f"{name}.pt"
        code = main(["export", "--results", str(results), "--where", where, "--out", str(path)])
        assert code == 0
        files[name] = path
    return files


def axes_of(where: str) -> dict:
    pairs = (item.split("=") for item in where.split(","))
    return {k: int(v) if k == "seed" else v for k, v in pairs}


def test_exports_reloaded_in_a_fresh_python_without_nonlinbench_score_as_stored(exported, runs):
    paths = [str(p) for p in exported.values()]
    done = subprocess.run(
        [sys.executable, "-c", RELOAD, *paths], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    for name, path in exported.items():
        row = one_run(runs, **axes_of(CASES[name]))
        if row.dataset == "sine":
            assert scores[str(path)] == pytest.approx(row.test_r2, abs=1e-5), name
        else:  # a fraction of integers, computed in float32 as the engine does: exactly equal
            assert scores[str(path)] == row.test_acc, name


def test_export_prints_one_line_per_file_and_checks_the_reloaded_score(
    results, runs, tmp_path, capsys
):
    where = CASES["circles_quadratic_relu"]
    code, out, err = export(
        capsys, "--results", str(results), "--where", where, "--out", str(tmp_path / "m.pt")
    )
    assert code == 0, err
    names = ["m.pt", "m.state_dict.pt", "m.json", "m.test.npz"]
    assert [line.split()[1] for line in out.splitlines()] == [str(tmp_path / n) for n in names]
    assert all((tmp_path / n).is_file() for n in names)
    stored = float(one_run(runs, **axes_of(where)).test_acc)
    assert err == f"check: reloaded, it scores test_acc {stored!r}, as stored\n"


def test_export_by_run_id_or_a_prefix_writes_exports_run_id_by_default(
    results, runs, exported, tmp_path, monkeypatch, capsys
):
    row = one_run(runs, **axes_of(CASES["spirals_learnable"]))
    monkeypatch.chdir(tmp_path)
    for run in (row.run_id, row.run_id[:8]):
        code, out, err = export(capsys, "--results", str(results), "--run", run)
        assert code == 0, err
        assert out.splitlines()[0].startswith(f"wrote exports/{row.run_id}.pt ")
    by_id = torch.jit.load(str(tmp_path / "exports" / f"{row.run_id}.pt"))
    by_where = torch.jit.load(str(exported["spirals_learnable"]))
    x = torch.from_numpy(np.load(tmp_path / "exports" / f"{row.run_id}.test.npz")["X_test"])
    assert torch.equal(by_id(x), by_where(x))


class Slope(nn.Module):
    """A stand-in for the plugin's learnable PReLU, written without nonlinbench."""

    def __init__(self):
        super().__init__()
        self.slope = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        return torch.clamp(x, min=0) + self.slope * torch.clamp(x, max=0)


@pytest.mark.parametrize(
    ("name", "inputs", "activation", "outputs"),
    [
        ("circles_quadratic_relu", 5, nn.ReLU, 1),  # x1, x2, x1^2, x2^2, x1*x2
        ("spirals_learnable", 2, Slope, 3),
        ("sine_quadratic_learnable", 2, Slope, 1),  # x, x^2
    ],
)
def test_the_state_dict_loads_strictly_into_a_plain_sequential(
    exported, name, inputs, activation, outputs
):
    stem = str(exported[name])[: -len(".pt")]
    net = nn.Sequential(nn.Linear(inputs, 4), activation(), nn.Linear(4, outputs))
    net.load_state_dict(torch.load(stem + ".state_dict.pt", weights_only=True), strict=True)
    test = np.load(stem + ".test.npz")
    scripted = torch.jit.load(str(exported[name]))
    with torch.no_grad():
        plain = net(torch.from_numpy(test["inputs_test"]))
        whole = scripted(torch.from_numpy(test["X_test"]))
    assert torch.allclose(plain.reshape(whole.shape), whole, atol=1e-5)


def test_metadata_holds_axes_metrics_layout_feature_map_and_how_to_read(exported, runs):
    meta = json.loads(exported["circles_quadratic_relu"].with_suffix(".json").read_text())
    row = one_run(runs, **axes_of(CASES["circles_quadratic_relu"]))
    assert meta["run_id"] == row.run_id
    assert meta["axes"]["features"] == "quadratic" and meta["axes"]["seed"] == 1
    assert meta["metrics"]["test_acc"] == row.test_acc
    assert meta["layout"] == [
        ["0.weight", [4, 5]],
        ["0.bias", [4]],
        ["2.weight", [1, 4]],
        ["2.bias", [1]],
    ]
    assert meta["feature_map"]["name"] == "quadratic"
    assert meta["outputs"].startswith("one logit: class 1 where > 0")
    assert meta["nonlinbench_version"]
    sine = json.loads(exported["sine_quadratic_learnable"].with_suffix(".json").read_text())
    assert sine["outputs"].startswith("regression: the value")
    assert set(sine["metrics"]) >= {"test_r2", "test_mse"}
    assert ["1.slope", []] in sine["layout"]
    spirals = json.loads(exported["spirals_learnable"].with_suffix(".json").read_text())
    assert spirals["outputs"].startswith("argmax over classes")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "feedface00"], "run 'feedface00' is not among the 24 runs in"),
        (["--where", "seeds=1"], "unknown axis 'seeds' (did you mean 'seed'?); allowed: dataset,"),
        (["--where", "seed=one"], "--where seed=one: seed is an integer"),
        (
            ["--where", "seed=7"],
            "--where 'seed=7' matches 0 runs: no run has seed = 7; seed takes:\n"
            "  --where 'seed=0'\n  --where 'seed=1'",
        ),
        (
            ["--where", "dataset=sine,features=raw,activation=relu"],
            "matches 2 runs; add the axes that still vary among them: seed (0, 1)",
        ),
        (["--where", "activation"], "expected AXIS=VALUE, e.g. --where activation=relu"),
        (["--run", "x", "--where", "seed=0"], "export needs one of --run RUN_ID and --where"),
        ([], "export needs one of --run RUN_ID and --where"),
    ],
    ids=[
        "unknown-id",
        "unknown-axis",
        "mistyped",
        "no-match",
        "several-match",
        "no-equals",
        "run-and-where",
        "neither",
    ],
)
def test_a_bad_choice_of_run_exits_2_with_one_line_naming_it(results, args, message, capsys):
    code, out, err = export(capsys, "--results", str(results), *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1 + message.count("\n") and err.startswith("nonlinbench: error: ")


def test_results_stored_before_weights_say_to_rerun_the_grid(results, runs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(results, old, ignore=shutil.ignore_patterns("weights.parquet", "shards"))
    code, _, err = export(capsys, "--results", str(old), "--run", runs.run_id.iloc[0])
    assert code == 2
    assert "weights.parquet is missing" in err and "--fresh" in err
    assert err.count("\n") == 1
