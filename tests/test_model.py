"""The one-model reference: the MLP definition and the seed notebook's lesson."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from bench import engine
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import make_dataset
from bench.engine.reference import MLP, eval_epochs, init_parameters, shuffle_order, train_reference
from bench.grid import notebook


def test_depth_counts_hidden_layers_and_depth_0_is_logistic_regression():
    model = MLP(2, 1, depth=2, width=10, activation="relu")
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Linear", "Elementwise", "Linear", "Elementwise", "Linear"]
    assert [m.out_features for m in model.linears] == [10, 10, 1]
    logistic = MLP(2, 3, depth=0, width=10)
    assert len(logistic.net) == 1 and isinstance(logistic.net[0], nn.Linear)


def test_pytorch_init_follows_nn_linear_bounds_and_is_seeded():
    a, b = MLP(2, 1, 2, 10, seed=7), MLP(2, 1, 2, 10, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    weight, bias = init_parameters([10, 10], "pytorch", 6.0, seed=0)[0]
    assert weight.abs().max() <= 10**-0.5 and bias.abs().max() <= 10**-0.5


def test_evaluation_epochs_include_initialisation_and_the_last_epoch():
    assert eval_epochs(25, 10) == [0, 10, 20, 25]
    assert eval_epochs(20, 10) == [0, 10, 20]


def test_shuffle_order_is_a_permutation_per_model_and_depends_only_on_seed_and_epoch():
    order = shuffle_order(torch.tensor([0, 1, 0]), epoch=3, n=50)
    assert all(sorted(row.tolist()) == list(range(50)) for row in order)
    assert torch.equal(order[0], order[2]) and not torch.equal(order[0], order[1])
    assert not torch.equal(order[0], shuffle_order(torch.tensor([0]), epoch=4, n=50)[0])


def seed_lesson(activation: str, seeds: range) -> np.ndarray:
    """Final test accuracies of the seed notebook's setup (grids/seed.toml), one per seed.

    Trained through the engine, which tests/test_engine.py holds equal to this file's loop."""
    specs = [replace(notebook.setup(), activation=activation, seed=s) for s in seeds]
    chunk = engine.train_chunk(specs, BUILTIN_REGISTRY.get(activation), "cpu", measure=False)
    return chunk.metrics["test_acc"]


def test_the_seed_lesson_without_activation_stays_near_chance_and_relu_does_better():
    seeds = range(10)
    linear = seed_lesson("none", seeds)
    relu = seed_lesson("relu", seeds)
    # Two concentric circles: any straight boundary leaves about half the points wrong.
    assert np.all((0.4 <= linear) & (linear <= 0.6)), linear
    assert relu.mean() > linear.mean() + 0.1, (relu, linear)
    assert relu.max() > 0.75


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_reference_loop_learns_three_classes_with_cross_entropy(optimizer):
    data = make_dataset("spirals", 300, noise=0.03)
    model = MLP(2, 3, depth=2, width=32, activation="tanh", seed=0)
    history = train_reference(
        model, data.X_train, data.y_train, data.X_test, data.y_test,
        optimizer=optimizer, lr=0.5 if optimizer == "sgd" else 0.01, epochs=300, eval_every=100,
    )  # fmt: skip
    assert history.test_loss[-1] < history.test_loss[0]
    assert history.train_acc[-1] > 0.6
