"""`nonlinbench card`: the shipped protocol, the verdicts under the wording rule, the files, the
cache and bad input. Cards here use a small protocol (two datasets and sine, depths 1 and 2, four
replicates) so the suite stays fast; the shipped card-v1 protocol is checked for its shape."""

import json
import textwrap

import pytest

from bench.activations.plugins import load_registry
from bench.card import cost, make_card, write
from bench.card.protocol import PROTOCOL, load_protocol
from bench.card.verdict import verdict
from bench.cli import main
from bench.grid.parse import GridError

SMALL = """
name = "card-small"
description = "A small protocol for tests."

[grid]
activation = ["none", "relu", "gelu"]
n_samples = 120
noise = 0.1
depth = [1, 2]
width = 8
optimizer = "adam"
lr = 0.05
epochs = 50
eval_every = 25
seed = { range = [0, 4] }

[[block]]
name = "classification"
dataset = ["circles", "xor"]

[[block]]
name = "regression"
dataset = ["sine"]
depth = 1
"""

PLUGINS = '''
import torch
import bench


@bench.register_activation("same_as_relu", reference="ReLU under another name")
def same_as_relu(x):
    """max(0, x), written again."""
    return torch.relu(x)


@bench.register_activation("two_x_minus_one")
def two_x_minus_one(x):
    """2x - 1: an affine map."""
    return 2 * x - 1


@bench.register_activation("blows_up")
def blows_up(x):
    """exp(100 x): overflows at once."""
    return torch.exp(100 * x)
'''


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("card")
    (folder / "small.toml").write_text(SMALL)
    (folder / "plugins.py").write_text(PLUGINS)
    registry = load_registry([folder / "plugins.py"])
    return folder, registry


def card(setup, name, **options):
    folder, registry = setup
    options = {"measure_cost": False, **options}
    return make_card(name, out=folder / "cards" / name, protocol=folder / "small.toml",
                     registry=registry, n_resamples=300, jobs=1, **options)  # fmt: skip


def test_the_shipped_protocol_has_the_documented_shape():
    protocol = load_protocol(PROTOCOL)
    assert protocol.name == "card-v1"
    assert set(protocol.references) >= {"none", "relu", "gelu", "tanh", "silu"}
    grid = protocol.grid(("snake",), load_registry())
    assert grid.axes["activation"] == ["snake"]
    classification, regression = grid.all_blocks()
    assert set(classification.axes["dataset"]) == {
        "circles", "moons", "xor", "spirals", "checkerboard", "blobs"
    }  # fmt: skip
    assert len(classification.axes["noise"]) == 2 and len(classification.axes["width"]) == 2
    assert classification.axes["depth"] == [1, 2, 4, 8]
    replicates = len(classification.axes["seed"]) * len(classification.axes["data_seed"])
    assert replicates == 10
    assert set(regression.axes["dataset"]) == {"sine", "gauss"}
    assert {len(classification.axes[a]) for a in ("optimizer", "lr", "epochs")} == {1}


def test_verdict_is_tied_when_the_interval_contains_one_half():
    assert verdict(0.4, 0.6) == "tied"
    assert verdict(0.5, 0.5) == "tied"
    assert verdict(0.51, 0.7) == "better"
    assert verdict(0.1, 0.49) == "worse"


def test_relu_under_another_name_is_tied_with_relu(setup, monkeypatch):
    for name, value in (("COST_MODELS", 4), ("COST_EPOCHS", 2), ("COST_ROUNDS", 1)):
        monkeypatch.setattr(cost, name, value)  # the cost line, timed briefly
    result = card(setup, "same_as_relu", measure_cost=True)
    versus = result.card["versus"]["relu"]
    assert versus["verdict"] == "tied"
    assert versus["low"] <= 0.5 <= versus["high"]
    assert not result.card["affine"]
    assert result.card["saturating"]["flat"] == "negative"
    assert result.card["cost"]["relative_to_relu"] > 0
    # Per dataset it sits in relu's tier.
    for entry in result.card["datasets"]:
        assert entry["activations"]["same_as_relu"]["tier"] == entry["activations"]["relu"]["tier"]
    # The files, with the fields the leaderboard reads.
    folder = result.folder
    data = json.loads((folder / "card.json").read_text())
    for key in ("activation", "protocol", "nonlinbench_version", "affine", "score", "versus",
                "datasets"):  # fmt: skip
        assert key in data
    assert set(data["score"]) == {"iqm", "low", "high"}
    assert set(data["versus"]) == {"relu", "gelu"}
    assert data["protocol"] == "card-small"
    text = (folder / "card.md").read_text()
    assert "card-small" in text and "**tied**" in text
    assert (folder / "card.png").stat().st_size > 10_000


def test_an_affine_map_is_flagged_affine_and_worse_than_relu(setup):
    result = card(setup, "two_x_minus_one")
    assert result.card["affine"] and not result.card["declared"]
    assert result.card["versus"]["relu"]["verdict"] == "worse"
    assert "adds no nonlinearity" in (result.folder / "card.md").read_text()
    # The references were trained once: this card trained only the candidate.
    assert result.card["trained"] == {"references": 0, "candidate": result.card["runs"]["runs"]}


@pytest.mark.slow
def test_a_plugin_that_diverges_everywhere_gets_a_card_that_says_so(setup):
    result = card(setup, "blows_up")
    assert not result.ok
    assert result.card["runs"]["diverged"] == result.card["runs"]["runs"] > 0
    assert "No verdict" in (result.folder / "card.md").read_text()


def test_the_leaderboard_ranks_cards_of_one_protocol_and_marks_ties(setup):
    folder, _ = setup
    text = write.leaderboard(write.read_cards(folder / "cards"))
    assert "Protocol card-small" in text
    assert text.index("same_as_relu") < text.index("two_x_minus_one")
    other = {"activation": "x", "protocol": "card-v0", "status": "failed",
             "nonlinbench_version": "0"}  # fmt: skip
    assert "Protocol card-v0" in write.leaderboard([*write.read_cards(folder / "cards"), other])


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["card", "rleu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean 'relu'?" in err and len(err.splitlines()) == 1
    constant = tmp_path / "constant.py"
    constant.write_text(textwrap.dedent('''
        import torch
        import bench

        @bench.register_activation("flat")
        def flat(x):
            return torch.zeros_like(x).detach()
    '''))  # fmt: skip
    assert main(["card", "flat", "--plugin", str(constant), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not depend on its input" in err and len(err.splitlines()) == 1
    assert main(["card", "relu", "--all"]) == 2
    with pytest.raises(GridError, match="no card protocol"):
        load_protocol("card-v999")
