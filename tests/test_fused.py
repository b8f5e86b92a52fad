"""The fused CPU path (bench.engine.fused) is specified by the one-model reference loop, like the
generic engine: same weights (float64: 1e-9 after 300 epochs; float32: 1e-4 after 100 epochs and
identical test predictions), same curves, same divergence flags, for every built-in activation.

The kernel compiles once per dtype and caches on disk (Numba's cache=True): the first run on a
fresh checkout spends about a minute compiling; later runs load it in about a second.
"""

import numpy as np
import pytest
import torch

from bench import engine
from bench.activations import BUILTINS
from bench.data import data_key, load_data
from bench.engine import fused
from bench.engine.stacked import predicted_labels
from bench.model import MLP, train_reference
from bench.registry import BUILTIN_REGISTRY
from bench.spec import RunSpec

pytestmark = pytest.mark.skipif(fused.kernels is None, reason="numba is not installed")
CPU = torch.device("cpu")


def train(specs, dtype=torch.float32, path="fused"):
    """Trains specs as one chunk on `path`; returns the stacked net, curves and diverged."""
    datasets = {data_key(s): load_data(s) for s in specs}
    data = datasets[data_key(specs[0])]
    X_train, y_train, X_test, y_test = engine.stack_data(specs, datasets, CPU, dtype)
    out = 1 if data.n_classes == 2 else data.n_classes
    activation = BUILTIN_REGISTRY.get(specs[0].activation)
    net = engine.build_stacked(specs, activation, data.n_features, out, CPU, dtype)
    train_fn = fused.train_fused if path == "fused" else engine.train_stacked
    curves, diverged = train_fn(
        net, X_train, y_train, X_test, y_test,
        optimizer=specs[0].optimizer,
        lr=torch.tensor([s.lr for s in specs], dtype=dtype),
        seeds=torch.tensor([s.seed for s in specs]),
        epochs=specs[0].epochs, batch_size=specs[0].batch_size, eval_every=specs[0].eval_every,
    )  # fmt: skip
    return net, curves, diverged


def reference(spec, dtype):
    data = load_data(spec)
    out = 1 if data.n_classes == 2 else data.n_classes
    model = MLP(data.n_features, out, spec.depth, spec.width, spec.activation, spec.init, spec.seed)
    model = model.to(dtype)
    history = train_reference(
        model, data.X_train.to(dtype), data.y_train, data.X_test.to(dtype), data.y_test,
        optimizer=spec.optimizer, lr=spec.lr, epochs=spec.epochs, batch_size=spec.batch_size,
        eval_every=spec.eval_every, seed=spec.seed,
    )  # fmt: skip
    return model, history, data


def max_relative_error(net, i, model):
    errors = []
    for layer, linear in enumerate(model.linears):
        for ours, theirs in ((net.weights[layer][i], linear.weight), (net.biases[layer][i, :, 0], linear.bias)):  # fmt: skip
            scale = theirs.abs().max().clamp_min(1e-12)
            errors.append(((ours.detach() - theirs.detach()).abs().max() / scale).item())
    return max(errors)


def assert_matches_reference(specs, dtype, tolerance):
    net, curves, diverged = train(specs, dtype)
    for i, spec in enumerate(specs):
        model, history, data = reference(spec, dtype)
        assert max_relative_error(net, i, model) < tolerance
        with torch.no_grad():
            X_test = data.X_test.to(dtype)
            ours = predicted_labels(net.subset(slice(i, i + 1))(X_test.T[None]))[0]
            theirs = model(X_test)
            theirs = (theirs[:, 0] > 0).long() if theirs.shape[1] == 1 else theirs.argmax(1)
        assert torch.equal(ours, theirs)
        assert curves[:, 1, i].tolist() == pytest.approx(history.test_loss, rel=1e-4, abs=1e-6)
        assert curves[:, 0, i].tolist() == pytest.approx(history.train_loss, rel=1e-4, abs=1e-6)
        assert curves[:, 2, i].tolist() == pytest.approx(history.train_acc, abs=1e-6)
        assert curves[:, 3, i].tolist() == pytest.approx(history.test_acc, abs=1e-6)
    assert not diverged.any()


# Every built-in, SGD and Adam, two classes (BCE) and three (cross-entropy), full batch.
ACTIVATIONS = [b.name for b in BUILTINS]
SETTINGS = [("adam", 0.01, "spirals"), ("sgd", 0.1, "circles"), ("adam", 0.01, "moons")]


def case(activation, epochs, **overrides):
    optimizer, lr, dataset = SETTINGS[ACTIVATIONS.index(activation) % len(SETTINGS)]
    base = dict(dataset=dataset, n_samples=200, activation=activation, optimizer=optimizer,
                lr=lr, epochs=epochs, eval_every=25)  # fmt: skip
    return [RunSpec(**{**base, **overrides}, seed=seed) for seed in range(2)]


# Slow on a fresh clone: Numba compiles the float64 kernel once (about a minute) before it
# caches it on disk; `make test-slow` runs these, `make test` the float32 ones below.
@pytest.mark.slow
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_matches_the_reference_in_float64(activation):
    assert_matches_reference(case(activation, 300), torch.float64, 1e-9)


# In float32 the fused kernel sums each gradient over samples in its own order (as any BLAS
# does), so weights start ~1e-7 apart; Adam on a ReLU-like net amplifies that when a sample
# crosses a kink in one run and not the other (leaky_relu on moons: 2e-5 at epoch 80, 3e-3 at
# 100). Those nets are checked with SGD in float32, and with Adam in float64 above (1e-9).
KINKED = {b.name for b in BUILTINS if b.piecewise_linear and not b.affine}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_matches_the_reference_in_float32(activation):
    specs = case(activation, 100)
    if activation in KINKED and specs[0].optimizer == "adam":
        specs = case(activation, 100, optimizer="sgd", lr=0.1)
    assert_matches_reference(specs, torch.float32, 1e-4)


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.05), ("adam", 0.01)])
@pytest.mark.parametrize(
    "dtype,epochs,tolerance",
    [pytest.param(torch.float64, 60, 1e-9, marks=pytest.mark.slow), (torch.float32, 30, 1e-4)],
)
def test_mini_batches_shuffle_per_model_and_match_the_reference(optimizer, lr, dtype, epochs, tolerance):  # fmt: skip
    # 240 training samples: three batches of 64 and a last, shorter one of 48.
    for dataset in ("circles", "spirals"):
        specs = [
            RunSpec(dataset=dataset, n_samples=300, epochs=epochs, batch_size=64, eval_every=10,
                    optimizer=optimizer, lr=lr, activation="tanh", seed=s)
            for s in range(3)
        ]  # fmt: skip
        assert_matches_reference(specs, dtype, tolerance)


def test_fused_and_generic_paths_give_the_same_run():
    specs = [RunSpec(n_samples=300, epochs=60, eval_every=7, lr=0.05 + 0.05 * s, seed=s, depth=3)
             for s in range(5)]  # fmt: skip
    net_f, curves_f, _ = train(specs, path="fused")
    net_g, curves_g, _ = train(specs, path="generic")
    for w_f, w_g in zip(net_f.weights, net_g.weights, strict=True):
        torch.testing.assert_close(w_f, w_g, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(curves_f, curves_g, atol=1e-5, rtol=1e-4)


def test_a_run_alone_equals_the_same_run_inside_a_batch_of_64():
    base = dict(dataset="moons", n_samples=300, activation="relu", epochs=100, eval_every=25)
    crowd = [RunSpec(**base, seed=s, lr=0.05 + 0.001 * s, noise=0.03 + 0.01 * (s % 4))
             for s in range(64)]  # fmt: skip
    net_crowd, curves_crowd, _ = train(crowd)
    net_alone, curves_alone, _ = train([crowd[37]])
    # Each model trains in its own loop: alone or in a crowd, the very same arithmetic.
    for alone, in_crowd in zip(net_alone.weights, net_crowd.weights, strict=True):
        assert torch.equal(alone[0], in_crowd[37])
    assert torch.equal(curves_alone[:, :, 0], curves_crowd[:, :, 37])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_diverging_model_is_frozen_and_flagged_like_the_reference(optimizer):
    specs = [
        RunSpec(n_samples=200, epochs=50, lr=lr, activation=a, optimizer=optimizer, seed=0)
        for a in ("none", "relu", "tanh")
        for lr in (0.1, 1e6)
    ]
    for activation in ("none", "relu", "tanh"):
        group = [s for s in specs if s.activation == activation]
        net, curves, diverged = train(group)
        _, generic_curves, generic_diverged = train(group, path="generic")
        assert diverged[0] == 0 and diverged[1] > 0
        assert diverged.tolist() == generic_diverged.tolist()
        assert reference(group[1], torch.float32)[1].diverged_epoch == diverged[1]
        # The frozen model goes on being evaluated, as in the generic path.
        torch.testing.assert_close(curves, generic_curves, atol=1e-5, rtol=1e-4, equal_nan=True)


def test_per_model_learning_rates():
    specs = [RunSpec(n_samples=200, epochs=100, lr=lr, optimizer="adam") for lr in (0.001, 0.03)]
    net, _, _ = train(specs)
    for i, spec in enumerate(specs):
        assert max_relative_error(net, i, reference(spec, torch.float32)[0]) < 1e-4


def test_train_chunk_picks_the_fused_path_where_it_applies_and_measured_faster(monkeypatch):
    def net_of(activation="relu", width=10, dtype=torch.float32):
        spec = RunSpec(activation=activation, width=width)
        return engine.build_stacked([spec], BUILTIN_REGISTRY.get(activation), 2, 1, CPU, dtype)

    monkeypatch.delenv(fused.ENV, raising=False)
    assert fused.use_fused(net_of(), CPU)
    assert not fused.use_fused(net_of(), torch.device("cuda"))  # CPU only
    assert not fused.use_fused(net_of(dtype=torch.float64), CPU)  # float64 only when forced
    assert not fused.use_fused(net_of(width=256), CPU)  # generic measured faster there
    assert not fused.use_fused(net_of("gelu"), CPU)
    assert fused.use_fused(net_of("gelu"), CPU, path="fused")
    monkeypatch.setenv(fused.ENV, "generic")
    assert not fused.use_fused(net_of(), CPU)
    monkeypatch.setenv(fused.ENV, "nonsense")
    with pytest.raises(ValueError, match="allowed: auto, generic, fused"):
        fused.use_fused(net_of(), CPU)


def test_learnable_and_plugin_activations_keep_the_generic_path(monkeypatch):
    from bench.plugins import load_registry

    examples = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"
    registry = load_registry([examples / "my_activations.py"])
    for name in ("learnable_prelu", "bent_identity"):
        spec = RunSpec(activation=name)
        net = engine.build_stacked([spec], registry.get(name), 2, 1, CPU)
        assert fused.why_not_fused(net, CPU) is not None
        assert not fused.use_fused(net, CPU)
        monkeypatch.setenv(fused.ENV, "fused")
        with pytest.raises(ValueError, match="cannot train this chunk"):
            fused.use_fused(net, CPU)
        monkeypatch.delenv(fused.ENV)


def test_train_chunk_gives_the_same_arrays_on_either_path(monkeypatch):
    specs = [RunSpec(n_samples=200, epochs=40, eval_every=10, seed=s) for s in range(3)]
    relu = BUILTIN_REGISTRY.get("relu")
    monkeypatch.setenv(fused.ENV, "fused")
    a = engine.train_chunk(specs, relu, CPU, surface_rows=[0])
    monkeypatch.setenv(fused.ENV, "generic")
    b = engine.train_chunk(specs, relu, CPU, surface_rows=[0])
    np.testing.assert_allclose(a.curves, b.curves, rtol=1e-4, atol=1e-6)
    for name in ("test_acc", "train_loss", "linear_regions", "dead_unit_frac"):
        np.testing.assert_allclose(a.metrics[name], b.metrics[name], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(a.surfaces[0].pred, b.surfaces[0].pred)
