"""The zoo of the literature's activations (bench.activations.builtins.ZOO): each follows its formula,
has a reference with its year, passes the registry's probes, and trains in the engine exactly as
in the one-model reference loop (float64: the same initial and final weights)."""

import math
import re

import pytest
import torch

from bench import engine
from bench.activations.builtins import ZOO
from bench.activations.registry import BUILTIN_REGISTRY, make_activation
from bench.data.datasets import data_key, load_data
from bench.engine.reference import MLP, output_size, train_reference
from bench.spec import RunSpec

E = math.e
SIG_1 = 1 / (1 + 1 / E)  # sigmoid(1)
# Values at x = 1 and x = -1 from each defining formula, by hand (learnable ones as initialised).
AT_ONE_AND_MINUS_ONE = {
    "hardswish": (1 * 4 / 6, -1 * 2 / 6),
    "hardsigmoid": (4 / 6, 2 / 6),
    "hardtanh": (1.0, -1.0),
    "relu6": (1.0, 0.0),
    "celu": (1.0, 1 / E - 1),
    "softsign": (0.5, -0.5),
    "squared_relu": (1.0, 0.0),
    "abs": (1.0, 1.0),
    "snake": (1 + math.sin(1) ** 2, -1 + math.sin(1) ** 2),
    "gaussian": (1 / E, 1 / E),
    "erf": (math.erf(1), -math.erf(1)),
    "logsigmoid": (math.log(SIG_1), math.log(1 - SIG_1)),
    "learnable_swish": (SIG_1, -(1 - SIG_1)),
    # (0.0218 + 0.5 x + 1.5957 x^2 + 1.1915 x^3) / (1 + |2.383 x^2|)
    "rational": (3.309 / 3.383, -0.074 / 3.383),
}


def test_the_zoo_is_complete_and_each_entry_cites_a_paper_with_its_year():
    assert {b.name for b in ZOO} == set(AT_ONE_AND_MINUS_ONE)
    for b in ZOO:
        assert b.description and re.search(r"\b(19|20)\d\d\b", b.reference), b.name
        assert BUILTIN_REGISTRY.get(b.name).source == "builtin"
    learnable = {a.name for a in BUILTIN_REGISTRY if a.learnable}
    assert learnable == {"learnable_swish", "rational"}


@pytest.mark.parametrize("name", sorted(AT_ONE_AND_MINUS_ONE))
def test_zoo_values_follow_their_formula(name):
    module = BUILTIN_REGISTRY.get(name).make().double()
    x = torch.tensor([1.0, -1.0], dtype=torch.float64)
    expected = torch.tensor(AT_ONE_AND_MINUS_ONE[name], dtype=x.dtype)
    torch.testing.assert_close(module(x).detach(), expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("entry", ZOO, ids=lambda b: b.name)
def test_each_passes_the_registrys_probes(entry):
    # make_activation probes: elementwise shape, a real dependence on x, no mixing of models.
    record = make_activation(f"probe_{entry.name}", entry.module or entry.fn, source="test")
    assert record.learnable == (entry.module is not None)


def train_engine(specs, activation):
    datasets = {data_key(s): load_data(s) for s in specs}
    data = datasets[data_key(specs[0])]
    stacked = engine.stack_data(specs, datasets, "cpu", torch.float64)
    net = engine.build_stacked(
        specs, activation, data.n_features, output_size(data.n_classes), "cpu", torch.float64
    )
    initial = [w.detach().clone() for w in net.weights]
    options = engine.TrainOptions.for_runs(specs, torch.float64, "cpu")
    engine.train_stacked(net, stacked, options)
    return net, initial


def train_one(spec, activation):
    data = load_data(spec)
    model = MLP(data.n_features, output_size(data.n_classes), spec.depth, spec.width,
                activation, spec.init, spec.seed).double()  # fmt: skip
    initial = [layer.weight.detach().clone() for layer in model.linears]
    train_reference(
        model, data.X_train.double(), data.y_train, data.X_test.double(), data.y_test,
        optimizer=spec.optimizer, lr=spec.lr, epochs=spec.epochs, eval_every=spec.eval_every,
        seed=spec.seed,
    )  # fmt: skip
    return model, initial


@pytest.mark.parametrize("entry", ZOO, ids=lambda b: b.name)
def test_the_engine_trains_each_like_the_reference_loop_in_float64(entry):
    activation = BUILTIN_REGISTRY.get(entry.name)
    specs = [
        RunSpec(
            dataset="moons",
            n_samples=60,
            activation=entry.name,
            depth=2,
            width=6,
            optimizer="adam",
            lr=0.01,
            epochs=25,
            eval_every=25,
            seed=seed,
        )  # fmt: skip
        for seed in range(2)
    ]
    net, initial = train_engine(specs, activation)
    for i, spec in enumerate(specs):
        model, model_initial = train_one(spec, activation)
        for layer, linear in enumerate(model.linears):
            torch.testing.assert_close(initial[layer][i], model_initial[layer], rtol=0, atol=0)
            for ours, theirs in ((net.weights[layer][i], linear.weight),
                                 (net.biases[layer][i, :, 0], linear.bias)):  # fmt: skip
                scale = theirs.abs().max().clamp_min(1e-12)
                assert ((ours.detach() - theirs.detach()).abs().max() / scale).item() < 1e-9
        if activation.learnable:  # each model's own activation parameters, trained the same
            for layer, params in enumerate(net.act_params):
                module = model.net[2 * layer + 1]
                for key, value in params.items():
                    torch.testing.assert_close(value[i].detach(), getattr(module, key).detach())
