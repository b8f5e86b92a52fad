"""Specification of bench/grid/parse.py: grid files become validated run specs with stable ids."""

from __future__ import annotations

import dataclasses

import pytest

from bench.grid import notebook
from bench.grid.parse import GridError, builtin_grids, load_grid, parse_grid, run_ids
from bench.schema import AXES
from bench.spec import DEFAULTS, RunSpec

pytestmark = pytest.mark.usefixtures("isolated")


def grid_of(axes: str, excludes: str = "", name: str = "g"):
    return parse_grid(f'name = "{name}"\n[grid]\n{axes}\n{excludes}', source="g.toml")


# --------------------------------------------------------------------------- counting runs


def test_runs_are_the_product_of_the_axes():
    grid = grid_of('dataset = ["circles", "moons"]\ndepth = [1, 2, 3]\nseed = [0, 1]')
    assert grid.size() == 2 * 2 * 3 * 2  # the activation axis defaults to none and relu


def test_an_exclude_drops_every_combination_matching_all_its_keys():
    grid = grid_of(
        'activation = ["none", "relu", "tanh"]\ndepth = [0, 1, 2]\nwidth = [4, 8]',
        '[[exclude]]\ndepth = 0\nwidth = 8\n\n[[exclude]]\ndepth = 0\nactivation = ["relu", "tanh"]',
    )
    specs = grid.specs()
    assert len(specs) == 3 * 3 * 2 - 5  # depth 0 keeps 1 of its 3 x 2 combinations
    depth0 = [s for s in specs if s.depth == 0]
    assert [(s.activation, s.width) for s in depth0] == [("none", 4)]


def test_omitted_axes_take_the_notebook_defaults_and_activation_takes_none_and_relu():
    grid = grid_of("depth = 3")
    assert [s.activation for s in grid.specs()] == ["none", "relu"]
    for spec in grid.specs():
        for axis in AXES:
            if axis not in ("activation", "depth"):
                assert getattr(spec, axis) == DEFAULTS[axis]


def test_a_range_table_counts_like_python_range():
    assert grid_of("seed = { range = [0, 5] }").axes["seed"] == [0, 1, 2, 3, 4]
    assert grid_of("seed = { range = [1, 10, 4] }").axes["seed"] == [1, 5, 9]


def test_repeated_values_aliases_and_upper_case_names_count_once():
    grid = grid_of(
        'activation = ["ReLU", "relu", "Tanh"]\ndataset = ["Circles", "circles"]\n'
        'optimizer = "Adam"\ndepth = [1, 1]'
    )
    assert grid.axes["activation"] == ["relu", "tanh"]
    assert grid.axes["dataset"] == ["circles"]
    assert grid.axes["optimizer"] == ["adam"]
    assert grid.size() == 2


def test_an_integer_is_accepted_where_a_number_is_expected():
    assert grid_of("lr = 1\nnoise = 0").axes["lr"] == [1.0]


@pytest.mark.parametrize(
    ("name", "runs"),
    [("seed", 80), ("quick", 96), ("playground", 336), ("default", 11530)],
    ids=str,
)
def test_the_builtin_grids_parse_and_have_their_documented_sizes(name, runs):
    assert name in builtin_grids()
    grid = load_grid(name)
    assert grid.name == name
    assert grid.size() == runs
    assert len(set(run_ids(grid.specs()))) == runs


def test_the_seed_grid_is_the_notebooks_setup():
    specs = load_grid("seed").specs()
    assert {s.activation for s in specs} == {"none", "relu"}
    # the notebook's 1000 epochs, and the same networks trained 10000 (block "longer")
    assert {(s.depth, s.width, s.optimizer, s.lr, s.epochs, s.stratify) for s in specs} == {
        (2, 10, "sgd", 0.1, 1000, False),
        (2, 10, "sgd", 0.1, 10000, False),
    }
    assert notebook.setup().epochs == 1000


def test_a_grid_file_is_loaded_by_path_and_keeps_its_text_and_hash(write_grid):
    path = write_grid()
    grid = load_grid(path)
    assert grid.source == str(path)
    assert grid.text == path.read_text()
    assert grid.hash == load_grid(str(path)).hash
    path.write_text(path.read_text() + "\n# a comment\n")
    assert load_grid(path).hash != grid.hash


def test_a_grid_file_that_is_not_text_is_a_grid_error(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"name = \xff\xfe")
    with pytest.raises(GridError, match=f"grid {path} cannot be read"):
        load_grid(path)


def test_an_unknown_grid_name_suggests_the_closest_builtin():
    with pytest.raises(GridError, match=r"no grid named 'quik' \(did you mean 'quick'\?\)"):
        load_grid("quik")


def test_plugin_and_csv_paths_are_relative_to_the_grid_file(tmp_path, write_grid):
    (tmp_path / "acts.py").write_text(
        "import torch\nimport bench\n\n"
        '@bench.register_activation("grid_relative_act")\n'
        "def act(x):\n    return torch.tanh(x)\n"
    )
    (tmp_path / "points.csv").write_text(
        "x1,x2,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    )
    path = write_grid(
        'dataset = "points.csv"\nactivation = "grid_relative_act"\nn_samples = 20',
        header='plugins = ["acts.py"]',
    )
    grid = load_grid(path)
    assert grid.plugins == (str((tmp_path / "acts.py").resolve()),)
    assert grid.axes["dataset"] == ["points.csv"]  # as written; it carries its path:
    assert grid.axes["dataset"][0].path == str((tmp_path / "points.csv").resolve())
    assert grid.axes["activation"] == ["grid_relative_act"]


# --------------------------------------------------------------------------- run ids


def test_run_ids_are_stable_and_unique(write_grid):
    path = write_grid()
    first = run_ids(load_grid(path).specs())
    assert first == run_ids(load_grid(path).specs())
    assert len(set(first)) == len(first) == 4


def test_a_run_id_is_a_fixed_function_of_the_settings():
    # Stored results are found again by id: changing the hash orphans every stored run.
    assert RunSpec().run_id("1") == "50f8015ffdb3573f"


# One other valid value per axis.
OTHER_VALUE = {
    "dataset": "moons",
    "n_samples": 999,
    "noise": 0.05,
    "label_noise": 0.1,
    "test_size": 0.3,
    "data_seed": 7,
    "stratify": False,
    "features": "quadratic",
    "dim": 8,
    "activation": "tanh",
    "depth": 3,
    "width": 11,
    "init": "glorot",
    "optimizer": "adam",
    "lr": 0.01,
    "epochs": 999,
    "batch_size": 32,
    "eval_every": 5,
    "seed": 1,
    "target_acc": 0.9,
    "dropout": 0.1,
    "layers": "16 relu, 8 tanh",
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "l1": 1e-5,
}


def test_the_run_id_changes_with_every_axis_value():
    assert set(OTHER_VALUE) == set(AXES)
    base = RunSpec()
    ids = {base.run_id("1")}
    for axis, value in OTHER_VALUE.items():
        assert DEFAULTS[axis] != value
        ids.add(dataclasses.replace(base, **{axis: value}).run_id("1"))
    assert len(ids) == 1 + len(AXES)


def test_the_run_id_changes_with_the_dataset_fingerprint(tmp_path, write_grid):
    assert RunSpec().run_id("1") != RunSpec().run_id("2")
    csv = tmp_path / "points.csv"
    csv.write_text("x1,x2,label\n" + "".join(f"{i},{-i},{i % 2}\n" for i in range(20)))
    path = write_grid('dataset = "points.csv"\nn_samples = 20')
    before = run_ids(load_grid(path).specs())
    csv.write_text(csv.read_text() + "100,-100,1\n")  # same path, different data
    after = run_ids(load_grid(path).specs())
    assert set(before).isdisjoint(after)


# --------------------------------------------------------------------------- bad grids

# (grid text, fragments the error must contain: the key, the value, what is allowed)
BAD_GRIDS = {
    "unknown axis": ("[grid]\ndepht = [1, 2]", ["'grid.depht'", "did you mean 'depth'"]),
    "unknown top-level key": ("gird = 3\n[grid]\ndepth = 1", ["'gird'", "did you mean 'grid'"]),
    "depth is text": ('[grid]\ndepth = "two"', ["'grid.depth'", "'two'", "an integer"]),
    "depth is a fraction": ("[grid]\ndepth = 1.5", ["'grid.depth'", "1.5", "an integer"]),
    "one bad value in a list": ("[grid]\ndepth = [1, 1.5]", ["'grid.depth'", "1.5", "integer"]),
    "depth is a boolean": ("[grid]\ndepth = true", ["'grid.depth'", "True", "an integer"]),
    "zero width": ("[grid]\nwidth = 0", ["'grid.width'", "value 0", "an integer in [1, 4,096]"]),
    "negative width": ("[grid]\nwidth = [4, -8]", ["'grid.width'", "-8", "in [1, 4,096]"]),
    "seed beyond 64 bits": ("[grid]\nseed = 100000000000000000000", ["'grid.seed'", "64-bit"]),
    "data seed beyond 32 bits": ("[grid]\ndata_seed = 4294967296", ["'grid.data_seed'", "32-bit"]),
    "unknown dataset": ('[grid]\ndataset = "circels"', ["'grid.dataset'", "'circels'", "circles"]),
    "missing csv": ('[grid]\ndataset = "nope.csv"', ["'grid.dataset'", "'nope.csv'", "not found"]),
    "unknown activation": (
        '[grid]\nactivation = ["none", "rleu"]',
        ["'grid.activation'", "'rleu'", "did you mean 'relu'"],
    ),
    "label noise above 1": ("[grid]\nlabel_noise = 1.5", ["'grid.label_noise'", "1.5", "[0, 1)"]),
    "empty test set": ("[grid]\ntest_size = 0", ["'grid.test_size'", "0.0", "(0, 1)"]),
    "negative lr": ("[grid]\nlr = -1", ["'grid.lr'", "-1.0", "a finite number > 0"]),
    "infinite noise": ("[grid]\nnoise = inf", ["'grid.noise'", "inf", "a finite number >= 0"]),
    "unknown optimizer": ('[grid]\noptimizer = "adamw"', ["'grid.optimizer'", "sgd, adam"]),
    "unknown init": ('[grid]\ninit = "xavier"', ["'grid.init'", "'xavier'", "glorot"]),
    "stratify is text": ('[grid]\nstratify = "yes"', ["'grid.stratify'", "true or false"]),
    "empty list": ("[grid]\nseed = []", ["'grid.seed'", "empty list"]),
    "empty range": ("[grid]\nseed = { range = [3, 3] }", ["'grid.seed'", "empty range"]),
    "bad range": ("[grid]\nseed = { range = [0] }", ["'grid.seed'", "2 or 3 integers"]),
    "invalid TOML": ("[grid\ndepth = 1", ["not valid TOML", "line"]),
    "exclude names an unknown axis": (
        "[grid]\ndepth = [1, 2]\n[[exclude]]\ndepht = 1",
        ["'exclude[0].depht'", "did you mean 'depth'"],
    ),
    "exclude has a bad value": (
        "[grid]\ndepth = [1, 2]\n[[exclude]]\ndepth = -1",
        ["'exclude[0].depth'", "-1", "in [0, 64]"],
    ),
    "exclude drops everything": (
        '[grid]\ndepth = [1, 2]\n[[exclude]]\nactivation = ["none", "relu"]',
        ["[[exclude]]", "drop every run"],
    ),
    "empty exclude": ("[grid]\ndepth = 1\n[[exclude]]", ["[[exclude]] number 1 is empty"]),
    "grid is not a table": ("grid = 3", ["'grid' must be a table"]),
    "layers with depth": (
        '[grid]\nlayers = "16 relu, 8 tanh"\ndepth = 2',
        ["'grid.layers'", "'grid.depth' cannot be given with it"],
    ),
    "layers badly written": (
        '[grid]\nlayers = "relu 16"',
        ["'grid.layers'", "'relu 16'", "WIDTH ACTIVATION", "'16 relu, 8 tanh'"],
    ),
    "layers with an unknown activation": (
        '[grid]\nlayers = "16 relu, 8 tahn"',
        ["'grid.layers'", "'tahn'", "did you mean 'tanh'"],
    ),
    "layers too wide": ('[grid]\nlayers = "5000 relu"', ["'grid.layers'", "width 5000"]),
    "dropout of 1": ("[grid]\ndropout = 1.0", ["'grid.dropout'", "1.0", "[0, 1)"]),
    "negative weight decay": ("[grid]\nweight_decay = -0.1", ["'grid.weight_decay'", ">= 0"]),
    "momentum with adam": (
        '[grid]\noptimizer = ["sgd", "adam"]\nmomentum = 0.9',
        ["'grid.momentum'", "0.9", "'adam'", "SGD's", "[[exclude]]"],
    ),
    "missing plugin file": ('plugins = ["nope.py"]', ["'plugins'", "nope.py", "does not exist"]),
    # [[block]] tables (tests/test_blocks.py specifies what they mean)
    "unknown key in a block": (
        "[[block]]\ndepht = 1",
        ["'block[0].depht'", "did you mean 'depth'", "allowed: name, question, exclude, dataset"],
    ),
    "empty block": ("[[block]]", ["block[0] ('block 1') gives no axis", "at least one"]),
    "block with only a name": ('[[block]]\nname = "x"', ["block[0] ('x') gives no axis"]),
    "two blocks of one name": (
        '[[block]]\nname = "a"\ndepth = 1\n[[block]]\nname = "a"\ndepth = 2',
        ["'block[1].name'", "'a'", "earlier block"],
    ),
    "block name not a string": ("[[block]]\nname = 3\ndepth = 1", ["'block[0].name'", "3"]),
    "block question on two lines": (
        '[[block]]\ndepth = 1\nquestion = """Why?\nBecause."""',
        ["'block[0].question'", "one sentence on one line"],
    ),
    "block bad value": ("[[block]]\ndepth = -1", ["'block[0].depth'", "-1", "in [0, 64]"]),
    "block is not a table": ("block = 3", ["'block' must be one or more [[block]] tables"]),
    "block layers with depth": (
        '[[block]]\nlayers = "8 relu"\ndepth = 1',
        ["'block[0].layers'", "'block[0].depth' cannot be given with it"],
    ),
    "block exclude drops the block": (
        '[[block]]\ndepth = 1\n[[block.exclude]]\nactivation = ["none", "relu"]',
        ["block[0] ('block 1')", "drop every run of the block"],
    ),
    "top-level exclude drops a block": (
        '[[block]]\ndepth = 1\n[[block]]\ndepth = 2\nactivation = "none"\n'
        '[[exclude]]\nactivation = "none"',
        ["block[1] ('block 2')", "drop every run of the block"],
    ),
    "empty block exclude": (
        "[[block]]\ndepth = 1\n[[block.exclude]]",
        ["[[block.exclude]] number 1 of block[0] is empty"],
    ),
    "block exclude names an unknown axis": (
        "[[block]]\ndepth = 1\n[[block.exclude]]\ndepht = 1",
        ["'block[0].exclude[0].depht'", "did you mean 'depth'"],
    ),
    "momentum with adam in a block": (
        '[grid]\nmomentum = 0.9\n[[block]]\noptimizer = "adam"',
        ["momentum", "0.9", "'adam'", "[[exclude]]"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_GRIDS), ids=str)
def test_a_bad_grid_is_rejected_naming_the_file_key_value_and_what_is_allowed(case, tmp_path):
    body, fragments = BAD_GRIDS[case]
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "bad"\n{body}\n')
    with pytest.raises(GridError) as caught:
        load_grid(path)
    message = str(caught.value)
    assert message.startswith(f"grid {path}")
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("header", ["", 'name = ""', "name = 3", 'name = "a/b"', 'name = ".."'])
def test_a_grid_needs_a_name_usable_as_its_results_folder(header):
    with pytest.raises(GridError, match="key 'name' must be a non-empty string usable as a folder"):
        parse_grid(f"{header}\n[grid]\ndepth = 1", source="g.toml")


def test_layers_are_written_canonically_and_mixed_stacks_keep_their_own_label():
    grid = parse_grid(
        'name = "g"\n[grid]\nlayers = ["16 ReLU,8 tanh", "10 relu, 10 relu", "8 lrelu, 8 tanh"]'
    )
    labels = [s.activation for s in grid.specs()]
    assert labels == ["[16 relu, 8 tanh]", "relu", "[8 leaky_relu, 8 tanh]"]
    assert [s.depth for s in grid.specs()] == [2, 2, 2]
    stack = grid.activations["[16 relu, 8 tanh]"]
    assert [a.name for a in stack.per_layer] == ["relu", "tanh"] and not stack.affine
    assert grid.size() == len(grid.specs()) == 3
