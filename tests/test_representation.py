"""How the network bends the plane: the last hidden layer's view of the test points, computed
from stored weights. Without an activation it is an affine image of the input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import bench
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import load_data
from bench.engine.reference import MLP
from bench.report.representation import hidden_representation, representations, score_plane
from bench.results.export import architecture, rebuild_network, run_spec, stored_parameters

GRID = """
name = "bend"
[grid]
dataset = "circles"
n_samples = 200
noise = 0.03
activation = ["none", "relu"]
depth = [1, 2]
width = 8
optimizer = "adam"
lr = 0.02
epochs = 150
eval_every = 50
seed = [0, 1]
"""


def affine_residual(X: np.ndarray, H: np.ndarray) -> float:
    """The largest residual of the least-squares affine map X -> H, relative to H's spread."""
    design = np.column_stack([X, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(design, H, rcond=None)
    return float(np.abs(design @ coef - H).max() / (np.abs(H - H.mean(0)).max() + 1e-12))


@pytest.mark.parametrize("depth", [1, 3])
def test_without_an_activation_the_representation_is_an_affine_image_of_the_input(depth):
    X = torch.randn(64, 2, dtype=torch.float64)
    for name, affine in (("none", True), ("relu", False)):
        net = MLP(2, 1, depth, 8, BUILTIN_REGISTRY.get(name), seed=3).net.double()
        H = hidden_representation(net, X).numpy()
        assert H.shape == (64, 8)
        assert (affine_residual(X.numpy(), H) < 1e-10) == affine, name


def test_the_score_axis_is_the_output_layers_signed_distance():
    rng = np.random.default_rng(0)
    H, w, b = rng.normal(size=(50, 5)), rng.normal(size=5), 0.3
    points = score_plane(H, w, b)
    assert np.allclose(points[:, 0], (H @ w + b) / np.linalg.norm(w))
    assert np.all((points[:, 0] > 0) == (H @ w + b > 0))  # the side is the predicted class
    # the other axis carries no part of the w direction: moving the points along w moves
    # them across only
    moved = score_plane(H + np.outer(rng.normal(size=50), w), w, b)
    assert np.allclose(np.abs(moved[:, 1]), np.abs(points[:, 1]))
    assert not np.allclose(moved[:, 0], points[:, 0])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("bend")
    grid = root / "bend.toml"
    grid.write_text(GRID)
    out = root / "results"
    bench.run_grid(str(grid), out=str(out), quiet=True, jobs=1)
    return out, pd.read_parquet(out / "runs.parquet")


def test_from_stored_weights_the_linear_networks_view_is_affine_and_relus_is_not(trained):
    out, runs = trained
    for _, row in runs[runs["depth"] == 2].iterrows():
        spec = run_spec(row, out)
        data = load_data(spec)
        activation, widths = architecture(spec, BUILTIN_REGISTRY)
        layout, params = stored_parameters(out, row["run_id"])
        net = rebuild_network(row, activation, widths, data, layout, params)
        H = hidden_representation(net, data.X_test).double().numpy()
        residual = affine_residual(data.X_test.double().numpy(), H)
        if row["activation"] == "none":
            assert residual < 1e-5  # float32 weights
        else:
            assert residual > 1e-2
        # the network rebuilt from its weights scores what the run stored
        logits = net(data.X_test)[:, 0]
        accuracy = ((logits > 0).long() == data.y_test).double().mean().item()
        assert accuracy == pytest.approx(row["test_acc"], abs=1e-6)


def test_the_figures_points_come_from_every_chosen_run(trained):
    out, runs = trained
    drawn = representations(out, runs)
    assert len(drawn) == len(runs)
    for entry in drawn:
        assert entry["points"].shape == (len(entry["labels"]), 2)
        predicted = entry["points"][:, 0] > 0
        stored = entry["row"]["test_acc"]
        assert np.mean(predicted == (entry["labels"] == 1)) == pytest.approx(stored, abs=1e-6)
