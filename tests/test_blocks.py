"""Specification of grid blocks: a grid file as a list of studies ([[block]] tables).

Each block is a product of its own axes over the shared [grid] values, minus its own
[[block.exclude]] tables and the top-level [[exclude]] tables; the grid's runs are the union,
each run once; the manifest keeps which block(s) each run belongs to (bench.results.blocks).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

import bench
from bench.cli import main
from bench.grid.parse import GridError, load_grid, parse_grid, run_ids
from bench.results.blocks import grid_blocks, load_blocks
from bench.run import estimate
from bench.run.estimate import Calibration

pytestmark = pytest.mark.usefixtures("isolated")

ONE_THREAD = ("--jobs", "1", "--threads", "1")


def grid_of(body: str):
    return parse_grid(f'name = "g"\n{body}', source="g.toml")


TWO_BLOCKS = """
[grid]
dataset = ["circles", "xor"]
activation = ["none", "relu", "tanh"]
depth = [0, 2]
width = 4

[[exclude]]
depth = 0
activation = ["relu", "tanh"]

[[block]]
name = "main"
question = "Which activation separates the classes?"
noise = [0.05, 0.1]

[[block]]
name = "features"
question = "Can quadratic features replace hidden layers?"
features = ["raw", "quadratic"]
activation = ["none", "relu"]
noise = 0.1
"""


# --------------------------------------------------------------------------- the runs


def test_the_runs_are_the_union_of_the_blocks_each_run_once():
    grid = grid_of(TWO_BLOCKS)
    main_block, features = grid.all_blocks()
    # main: 2 datasets x 2 noises x (depth 0: none; depth 2: 3 activations) = 16
    # features: 2 datasets x 2 feature maps x (depth 0: none; depth 2: none, relu) = 12,
    # of which raw at noise 0.1 (2 x 3 = 6) are main's runs too.
    assert (main_block.size(), features.size()) == (16, 12)
    assert grid.size() == len(grid.specs()) == 16 + 12 - 6
    assert len(set(run_ids(grid.specs()))) == 22
    specs, held_by = grid.membership()
    shared = [s for s, held in zip(specs, held_by, strict=True) if held == (0, 1)]
    assert len(shared) == 6 and {(s.features, s.noise) for s in shared} == {("raw", 0.1)}


def test_a_blocks_key_overrides_the_grids_and_other_axes_are_shared():
    grid = grid_of(TWO_BLOCKS)
    main_block, features = grid.all_blocks()
    assert main_block.axes["activation"] == ["none", "relu", "tanh"]
    assert features.axes["activation"] == ["none", "relu"]
    assert features.axes["dataset"] == main_block.axes["dataset"] == ["circles", "xor"]
    assert (main_block.name, main_block.question) == (
        "main",
        "Which activation separates the classes?",
    )


def test_top_level_excludes_apply_to_every_block_and_a_blocks_own_only_to_it():
    # the [[block.exclude]] belongs to the last block above it, features
    grid = grid_of(TWO_BLOCKS + '[[block.exclude]]\nfeatures = "quadratic"\ndepth = 2\n')
    specs = grid.specs()
    assert not any(s.depth == 0 and s.activation != "none" for s in specs)  # top level, both
    assert not any(s.features == "quadratic" and s.depth == 2 for s in specs)
    assert grid.all_blocks()[0].size() == 16  # main is untouched by the features exclude


def test_a_file_without_blocks_is_one_block_named_main():
    grid = grid_of("[grid]\ndepth = [1, 2]")
    (block,) = grid.all_blocks()
    assert (block.name, block.question, block.size()) == ("main", "", 4)
    assert not grid.has_blocks


def test_a_blocks_layers_replace_the_grids_depth_width_and_activation():
    grid = grid_of(
        '[grid]\ndepth = [1, 2]\nwidth = 8\nactivation = "relu"\n'
        '[[block]]\ndepth = 3\n[[block]]\nlayers = ["16 relu, 8 tanh", "8 relu"]'
    )
    plain, stacks = grid.all_blocks()
    assert [(s.depth, s.width, s.activation) for s in plain.specs()] == [(3, 8, "relu")]
    assert [(s.depth, s.width, s.activation) for s in stacks.specs()] == [
        (2, 16, "[16 relu, 8 tanh]"),
        (1, 8, "relu"),
    ]


def test_a_uniform_stack_and_the_same_plain_network_in_two_blocks_are_one_run():
    grid = grid_of(
        '[grid]\nactivation = "relu"\n[[block]]\ndepth = 2\nwidth = 16\n'
        '[[block]]\nlayers = ["16 relu, 16 relu", "16 relu, 8 tanh"]'
    )
    assert grid.size() == len(grid.specs()) == 2
    assert grid.membership()[1] == [(0, 1), (1,)]


def test_excludes_in_a_layers_grid_match_the_stacks_depth_width_and_activation():
    grid = grid_of(
        '[grid]\nlayers = ["8 relu", "16 relu, 8 tanh", "4 tanh, 4 tanh, 4 tanh"]\n'
        '[[exclude]]\ndepth = 1\n\n[[exclude]]\nactivation = "tanh"\nwidth = 4\n'
    )
    assert [s.activation for s in grid.specs()] == ["[16 relu, 8 tanh]"]
    assert grid.size() == 1
    by_layers = grid_of(
        '[grid]\nlayers = ["8 relu", "8 relu, 8 relu"]\n[[exclude]]\nlayers = "8 relu"'
    )
    assert [s.depth for s in by_layers.specs()] == [2] and by_layers.size() == 1


@pytest.mark.parametrize("extra", ["", '[[exclude]]\nnoise = 0.05\nfeatures = "raw"\n'])
def test_size_counts_exactly_what_specs_makes(extra):
    grid = grid_of(
        TWO_BLOCKS
        + '[[block]]\nname = "stacks"\nlayers = ["4 relu, 4 relu", "8 tanh, 4 relu"]\n'
        + "noise = [0.05, 0.1]\n[[block.exclude]]\ndepth = 2\nnoise = 0.05\n"
        + extra
    )
    assert grid.size() == len(grid.specs())


def test_a_huge_blocked_grid_is_counted_without_making_its_runs():
    grid = grid_of(
        "[grid]\nseed = { range = [0, 1000000] }\n[[block]]\ndepth = [1, 2]\n"
        "[[block]]\ndepth = [2, 3]\nwidth = [10, 20]"
    )
    # 2 x 2 + 2 x 2 x 2 - 2 (depth 2 width 10 is in both): 10 per seed
    assert grid.size() == 10_000_000
    with pytest.raises(GridError, match="10,000,000 runs"):
        grid.check_size(2_000_000)


# --------------------------------------------------------------------------- the built-ins

# sha256 of the sorted run ids of the grids as they were before blocks (one product minus
# nine excludes; one product minus one exclude): rewritten as blocks, they make the same runs.
RUN_IDS_BEFORE_BLOCKS = {"default": "a762294a6352895c", "playground": "7cc1c90ab1c7029a"}


# The default grid's replicates became 5 data samples x 2 seeds (issue 28); with the earlier 2 x 5
# put back, its blocks still make exactly the runs of the grid before blocks.
EARLIER_REPLICATES = {
    "default": [
        ("data_seed = [42, 43, 44, 45, 46]", "data_seed = [42, 43]"),
        ("seed = { range = [0, 2] }", "seed = { range = [0, 5] }"),
    ]
}


def builtin_text(name: str) -> str:
    return (Path(bench.__file__).parent / "grids" / f"{name}.toml").read_text()


@pytest.mark.parametrize("name", sorted(RUN_IDS_BEFORE_BLOCKS))
def test_the_builtin_grids_written_as_blocks_make_the_same_runs(name, tmp_path):
    text = builtin_text(name)
    for now, before in EARLIER_REPLICATES.get(name, []):
        assert now in text
        text = text.replace(now, before)
    (tmp_path / f"{name}.toml").write_text(text)
    grid = load_grid(str(tmp_path / f"{name}.toml"))
    assert grid.has_blocks and len(grid.excludes) <= 2
    ids = run_ids(grid.specs())
    digest = hashlib.sha256("".join(sorted(ids)).encode()).hexdigest()[:16]
    assert digest == RUN_IDS_BEFORE_BLOCKS[name]
    assert all(block.question for block in grid.all_blocks())


def test_the_default_grid_has_five_data_samples_of_two_seeds_each():
    specs = load_grid("default").specs()
    assert sorted({s.data_seed for s in specs}) == [42, 43, 44, 45, 46]
    assert sorted({s.seed for s in specs}) == [0, 1]


def test_the_default_grids_blocks_are_main_features_and_regression():
    blocks = grid_blocks(load_grid("default"))
    assert blocks.names() == ["main", "features", "regression"]
    assert [b.runs for b in blocks.blocks] == [10950, 840, 160]
    assert len(blocks.membership) == 11530
    assert len(blocks.run_ids("features") & blocks.run_ids("main")) == 420


# --------------------------------------------------------------------------- the command


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


TINY = """
n_samples = 60
noise = 0.1
width = 4
optimizer = "adam"
lr = 0.05
epochs = 10
eval_every = 5
seed = [0, 1]
"""


def test_a_two_block_grid_plans_runs_resumes_and_keeps_membership(
    write_grid, tmp_path, capsys, monkeypatch
):
    prices = Calibration(1e-5, 0.0, 0.0, 0.0)  # plan's estimate without calibrating
    monkeypatch.setattr(estimate, "prices", lambda *a, **k: ((prices, prices), True))
    path = write_grid(
        TINY,
        excludes='[[block]]\nname = "main"\nquestion = "Which activation?"\n'
        'activation = ["none", "relu"]\ndepth = 1\n'
        '[[block]]\nname = "features"\nquestion = "Do features help?"\n'
        'features = ["raw", "quadratic"]\nactivation = "none"\ndepth = 1\n',
    )
    out = tmp_path / "out"
    code, stdout, _ = run_cli(capsys, "plan", str(path), "--out", str(out), *ONE_THREAD)
    assert code == 0
    assert "blocks    main      4 runs  Which activation?" in stdout
    assert "          features  4 runs  Do features help?" in stdout
    assert "runs      6 (the union of the 2 blocks; 2 in more than one" in stdout

    assert run_cli(capsys, "run", str(path), "--out", str(out), "--quiet", *ONE_THREAD)[0] == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == runs.run_id.nunique() == 6  # the shared runs are stored once
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(b["name"], b["runs"]) for b in manifest["blocks"]] == [("main", 4), ("features", 4)]

    blocks = load_blocks(out)
    assert blocks.names() == ["main", "features"]
    assert blocks.question("features") == "Do features help?"
    shared = blocks.run_ids("main") & blocks.run_ids("features")
    assert set(runs.query("activation == 'none' and features == 'raw'").run_id) == shared
    assert all(blocks.membership[rid] == ("main", "features") for rid in shared)
    assert load_blocks(out, grid=load_grid(path)) == blocks
    table = blocks.table()
    assert list(table.columns) == ["run_id", "block"] and len(table) == 4 + 4
    assert table.block.tolist() == ["main"] * 4 + ["features"] * 4

    code, _, err = run_cli(capsys, "run", str(path), "--out", str(out), "--quiet", *ONE_THREAD)
    assert code == 0 and "nothing to train" in err


def test_results_without_blocks_in_the_manifest_are_one_main_block(write_grid, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        run_cli(capsys, "run", str(write_grid()), "--out", str(out), "--quiet", *ONE_THREAD)[0] == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["blocks"] == [{"name": "main", "question": "", "runs": 4}]  # no id list
    del manifest["blocks"]  # as written before blocks existed
    (out / "manifest.json").write_text(json.dumps(manifest))
    for blocks in (load_blocks(out), load_blocks(out, grid=load_grid(write_grid()))):
        assert blocks.names() == ["main"] and blocks.blocks[0].runs == 4
        assert set(blocks.membership.values()) == {("main",)} and len(blocks.membership) == 4
