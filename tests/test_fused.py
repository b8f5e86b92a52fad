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
from bench.activations.builtins import BUILTINS
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import data_key, load_data
from bench.engine import fused, fused_zoo
from bench.engine.reference import MLP, output_size, train_reference
from bench.engine.stacked import predicted_labels
from bench.grid.layers import activation_record
from bench.spec import RunSpec, hidden_widths

pytestmark = pytest.mark.skipif(fused.kernels is None, reason="numba is not installed")
CPU = torch.device("cpu")


def train(specs, dtype=torch.float32, path="fused"):
    """Trains specs as one chunk on `path`; returns the stacked net, curves and diverged."""
    datasets = {data_key(s): load_data(s) for s in specs}
    data = datasets[data_key(specs[0])]
    stacked = engine.stack_data(specs, datasets, CPU, dtype)
    activation = activation_record(specs[0], BUILTIN_REGISTRY)
    net = engine.build_stacked(specs, activation, data.n_features, output_size(data.n_classes),
                               CPU, dtype)  # fmt: skip
    train_fn = fused.train_fused if path == "fused" else engine.train_stacked
    options = engine.TrainOptions.for_runs(specs, dtype, CPU)
    curves, diverged = train_fn(net, stacked, options)
    return net, curves, diverged


def reference(spec, dtype):
    data = load_data(spec)
    model = MLP(data.n_features, output_size(data.n_classes), spec.depth, spec.width,
                activation_record(spec, BUILTIN_REGISTRY), spec.init, spec.seed, spec.dropout,
                widths=hidden_widths(spec))  # fmt: skip
    model = model.to(dtype)
    history = train_reference(
        model, data.X_train.to(dtype), data.y_train, data.X_test.to(dtype), data.y_test,
        optimizer=spec.optimizer, lr=spec.lr, epochs=spec.epochs, batch_size=spec.batch_size,
        eval_every=spec.eval_every, seed=spec.seed, momentum=spec.momentum,
        weight_decay=spec.weight_decay, l1=spec.l1,
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
        if not data.regression:  # (regression: squared error and R^2, the curves below)
            with torch.no_grad():
                X_test = data.X_test.to(dtype)
                ours = predicted_labels(net.subset(slice(i, i + 1))(X_test.T[None]))[0]
                theirs = model(X_test)
                theirs = (theirs[:, 0] > 0).long() if theirs.shape[1] == 1 else theirs.argmax(1)
            assert torch.equal(ours, theirs)
        assert curves[:, 1, i].tolist() == pytest.approx(history.test_loss, rel=1e-4, abs=1e-6)
        assert curves[:, 0, i].tolist() == pytest.approx(history.train_loss, rel=1e-4, abs=1e-6)
        # Accuracy is a count of hits; R^2 is continuous (float32: rounding at ~1e-6).
        score = dict(rel=1e-4, abs=1e-5) if data.regression else dict(abs=1e-6)
        assert curves[:, 2, i].tolist() == pytest.approx(history.train_acc, **score)
        assert curves[:, 3, i].tolist() == pytest.approx(history.test_acc, **score)
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


# train_stacked's per-model options and dropout, each alone and all together with mini-batches
# (tanh: smooth, so float32 rounding is not amplified at a kink). L1's gradient jumps by
# 2 x l1 where a weight crosses 0; lr x l1 stays well below the float32 tolerance. One seed
# each keeps them quick (the reference loop dominates); the chunk test below mixes models.
OPTION_CASES = {
    "weight_decay": dict(optimizer="adam", lr=0.01, weight_decay=1e-3),
    "l1": dict(optimizer="sgd", lr=0.1, l1=1e-4),
    "momentum": dict(optimizer="sgd", lr=0.05, momentum=0.9),
    "dropout": dict(optimizer="adam", lr=0.01, dropout=0.2),
    # 120 training samples: a batch of 64 and one of 56.
    "together": dict(optimizer="sgd", lr=0.05, momentum=0.8, weight_decay=1e-3, l1=1e-4,
                     dropout=0.1, batch_size=64, dataset="moons", n_samples=150),
}  # fmt: skip


def option_case(name, epochs, seeds=1):
    base = dict(dataset="circles", n_samples=200, activation="tanh", epochs=epochs, eval_every=25)
    return [RunSpec(**{**base, **OPTION_CASES[name]}, seed=seed) for seed in range(seeds)]


@pytest.mark.parametrize("name", OPTION_CASES)
def test_options_match_the_reference_in_float32(name):
    assert_matches_reference(option_case(name, 100), torch.float32, 1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", OPTION_CASES)
def test_options_match_the_reference_in_float64(name):
    assert_matches_reference(option_case(name, 300, seeds=2), torch.float64, 1e-9)


def test_a_chunk_mixing_option_values_matches_the_reference_and_the_generic_path():
    # Models without momentum, penalty or dropout share the chunk with models that have them:
    # each gets its own (full-batch dropout also turns off the deferred train metrics).
    base = dict(n_samples=200, activation="gelu", optimizer="sgd", lr=0.1, epochs=100,
                eval_every=20)  # fmt: skip
    values = [dict(), dict(momentum=0.9, l1=1e-4), dict(weight_decay=0.01, dropout=0.3)]
    specs = [RunSpec(**base, **v, seed=s) for s, v in enumerate(values)]
    assert_matches_reference(specs, torch.float32, 1e-4)
    net, curves, _ = train(specs, path="fused")
    net_g, curves_g, _ = train(specs, path="generic")
    for w_f, w_g in zip(net.weights, net_g.weights, strict=True):
        torch.testing.assert_close(w_f, w_g, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(curves, curves_g, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_kernels_dropout_masks_are_dropout_scale(dtype):
    from bench.engine import fused_options
    from bench.engine.reference import dropout_scale

    rows, count, position = 5, 40, 24
    for seed, p, epoch, step, layer in [(3, 0.3, 1, 0, 0), (2**62 + 12345, 0.5, 977, 6, 3)]:
        net = engine.build_stacked([RunSpec(dropout=p)], BUILTIN_REGISTRY.get("relu"), 2, 1, CPU,
                                   dtype)  # fmt: skip
        hyper, drop_at = fused.per_model_options(net, {}, 1)
        keep_scale = hyper[0, fused_options.KEEP_SCALE].item()
        R = np.arange(1.0, rows * count + 1, dtype=hyper.numpy().dtype).reshape(rows, count)
        A, M = np.zeros_like(R), np.zeros_like(R)
        salt = fused_options.dropout_salt(seed, epoch, step)
        fused_options.dropout(R, A, M, rows, count, salt, layer, position, drop_at[0].item(),
                              R.dtype.type(keep_scale))  # fmt: skip
        scale = dropout_scale(torch.tensor([seed]), net.dropout, epoch, step, layer, rows,
                              position + count)[0, :, position:]  # fmt: skip
        assert 0 < (M == 0).mean() < 1
        np.testing.assert_array_equal(M, scale.numpy())
        np.testing.assert_array_equal(A, R * scale.numpy())


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
    assert fused.use_fused(net_of("gelu"), CPU)  # vectorised in fused_math: measured faster
    assert fused.use_fused(net_of("mish"), CPU) and fused.use_fused(net_of("softplus"), CPU)
    assert not fused.use_fused(net_of("sin"), CPU)  # libm's sin per element: generic is faster
    assert fused.use_fused(net_of("sin"), CPU, path="fused")
    assert fused.use_fused(net_of(), CPU, options=["momentum", "weight_decay", "l1"])
    dropout = engine.build_stacked([RunSpec(dropout=0.2)], BUILTIN_REGISTRY.get("relu"), 2, 1, CPU)
    assert fused.use_fused(dropout, CPU)
    monkeypatch.setenv(fused.ENV, "generic")
    assert not fused.use_fused(net_of(), CPU)
    monkeypatch.setenv(fused.ENV, "nonsense")
    with pytest.raises(ValueError, match="allowed: auto, generic, fused"):
        fused.use_fused(net_of(), CPU)


def test_learnable_and_plugin_activations_keep_the_generic_path(monkeypatch):
    from bench.activations.plugins import load_registry

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


@pytest.mark.parametrize("name", ["learnable_swish", "rational"])
def test_a_learnable_builtin_is_kept_off_the_fused_path_for_its_parameters(name):
    from bench.activations.registry import BUILTIN_REGISTRY

    net = engine.build_stacked([RunSpec(activation=name)], BUILTIN_REGISTRY.get(name), 2, 1, CPU)
    assert fused.why_not_fused(net, CPU) == f"activation '{name}' has learnable parameters"


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


def test_cached_kernels_go_when_a_module_they_embed_changes(tmp_path, monkeypatch):
    from types import SimpleNamespace

    for name in fused.EMBEDDED:
        (tmp_path / f"{name}.py").write_text("x = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    dispatcher = SimpleNamespace(_cache=SimpleNamespace(_cache_path=str(cache)))
    fake = SimpleNamespace(__file__=str(tmp_path / "fused_kernels.py"), train_models=dispatcher)
    monkeypatch.setattr(fused, "kernels", fake)
    kernels = ("fused_kernels.train_models-9.py311.nbi", "fused_act.activate-1.py311.1.nbc")
    own = cache / "fused_math.gelu_float32-1.py311.nbi"  # numba checks fused_math's own file

    def cached():
        for name in kernels:
            (cache / name).write_text("")
        own.write_text("")

    cached()
    fused.drop_stale_kernels()  # no stamp yet: nothing is known about them
    assert not any((cache / name).exists() for name in kernels) and own.exists()
    cached()
    fused.drop_stale_kernels()  # the same sources: kept
    assert all((cache / name).exists() for name in kernels)
    (tmp_path / "fused_math.py").write_text("x = 2\n")
    fused.drop_stale_kernels()
    assert not any((cache / name).exists() for name in kernels) and own.exists()


# Regression (squared error, R^2) and per-layer stacks (a code per hidden layer), with the
# options: the axes of the default and playground grids, all on the fused path.
AXIS_CASES = {
    "sine_tanh_sgd": dict(dataset="sine", activation="tanh", optimizer="sgd", lr=0.1),
    "gauss_gelu_adam": dict(dataset="gauss", activation="gelu", optimizer="adam", lr=0.01),
    "saddle_relu_minibatch": dict(dataset="saddle", activation="relu", optimizer="adam",
                                  lr=0.01, batch_size=64),
    "stack_relu_tanh": dict(dataset="moons", layers="16 relu, 8 tanh", optimizer="sgd", lr=0.05,
                            momentum=0.9, dropout=0.2, weight_decay=1e-3),
    "stack_regression": dict(dataset="sine", layers="12 softplus, 6 mish", optimizer="adam",
                             lr=0.01),
}  # fmt: skip


def axis_case(name, epochs, seeds=2):
    base = dict(n_samples=200, epochs=epochs, eval_every=25)
    return [RunSpec(**{**base, **AXIS_CASES[name]}, seed=seed) for seed in range(seeds)]


@pytest.mark.parametrize(  # three in make test (regression, a stack, both), two slow
    "name", [n if n in ("sine_tanh_sgd", "stack_relu_tanh", "stack_regression")
             else pytest.param(n, marks=pytest.mark.slow) for n in AXIS_CASES]
)  # fmt: skip
def test_regression_and_stacks_match_the_reference_in_float32(name):
    assert_matches_reference(axis_case(name, 100), torch.float32, 1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", AXIS_CASES)
def test_regression_and_stacks_match_the_reference_in_float64(name):
    assert_matches_reference(axis_case(name, 300), torch.float64, 1e-9)


@pytest.mark.parametrize("grid_name", ["default", "playground"])
def test_every_chunk_of_the_default_and_playground_grids_trains_fused(grid_name, monkeypatch):
    from bench.engine.train import chunk_path
    from bench.grid.parse import load_grid

    monkeypatch.delenv(fused.ENV, raising=False)
    grid = load_grid(grid_name)
    specs, _ = grid.membership()
    datasets, chunks, _ = engine.chunk_indices(specs, CPU)
    paths = {}
    for chunk in chunks:
        part = [specs[i] for i in chunk]
        s = part[0]
        key = (s.activation, s.depth, s.width, s.dataset, s.features, bool(s.dropout), len(part))
        paths[key] = chunk_path(part, grid.activations[s.activation], datasets, CPU)
    generic = {key: reason for key, (path, reason) in paths.items() if path != "fused"}
    assert not generic, f"{len(generic)} of {len(paths)} chunks on the generic path: {generic}"


# The float32 forms of fused_math (no libm calls, so their loops vectorise) against float64
# truth, as error / max(|f|, 1) over z in [-30, 30]. Measured (bench.engine.fused_math's doc):
# forward <= 2.6e-7, backward <= 1.1e-6, the size of torch's own float32 errors (gelu 9.4e-7,
# silu' 9.8e-7), and far below float32 training noise (the tests above: 1e-4 after 100 epochs).
# The zoo's (fused_zoo): erf forward <= 5.2e-7 (Abramowitz & Stegun's 1.5e-7 plus rounding).
@pytest.mark.parametrize("name", ["elu", "selu", "gelu", "silu", "mish", "tanh", "sigmoid",
                                  "softplus", "gaussian", "erf", "logsigmoid", "softsign"])  # fmt: skip
def test_the_vectorised_float32_math_is_within_its_stated_error(name):
    from bench.engine import fused_act

    if name not in BUILTIN_REGISTRY:
        pytest.skip(f"{name} is not a built-in here")

    z = np.concatenate([np.linspace(-30, 30, 12000), np.linspace(-1, 1, 4000)]).astype(np.float32)
    exact = torch.from_numpy(z.astype(np.float64)).requires_grad_()
    fn = BUILTIN_REGISTRY.get(name).function
    (grad,) = torch.autograd.grad(fn(exact).sum(), exact)
    Z = z.reshape(16, -1)  # (rows, count): one call, every row
    A, G = np.zeros_like(Z), np.ones_like(Z)
    bits = np.zeros(Z.shape[1], np.int32)
    fused_act.activate(fused_act.ACT_CODES[name], Z, A, *Z.shape, bits)
    forward = A.ravel().copy()
    fused_act.activation_backward(fused_act.ACT_CODES[name], Z, A, G, *Z.shape, bits)

    def error(ours, truth):
        truth = truth.detach().numpy()
        return (np.abs(ours - truth) / np.maximum(np.abs(truth), 1)).max()

    assert error(forward, fn(exact)) < (6e-7 if name == "erf" else 3e-7)
    assert error(G.ravel(), grad) < 1.2e-6


def test_tiles_of_16_samples_give_the_run_of_one_tile(monkeypatch):
    # 160 training samples in tiles of 16 (TILE_BYTES below one sample's bytes: the minimum),
    # with dropout, so each tile's masks must start at its own batch position.
    specs = [RunSpec(n_samples=200, epochs=40, eval_every=10, activation="gelu", dropout=0.1,
                     seed=s) for s in range(2)]  # fmt: skip
    net, curves, _ = train(specs)
    monkeypatch.setattr(fused, "TILE_BYTES", 1)
    assert fused.tile_size(2, 10, 160, 4) == 16
    net_tiled, curves_tiled, _ = train(specs)
    for w, w_tiled in zip(net.weights, net_tiled.weights, strict=True):
        torch.testing.assert_close(w, w_tiled, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(curves, curves_tiled, rtol=1e-4, atol=1e-6)


# The activation zoo's parameter-free built-ins (bench.activations.builtins.ZOO; celu is elu): each, in
# float32 and float64, against the reference loop. Names the registry does not hold yet skip.
ZOO_NAMES = ["celu", *fused_zoo.ZOO_CODES]


def zoo_case(name, epochs):
    if name not in BUILTIN_REGISTRY:
        pytest.skip(f"{name} is not a built-in here")
    base = dict(dataset="moons", n_samples=200, activation=name, optimizer="sgd", lr=0.05,
                epochs=epochs, eval_every=25)  # fmt: skip
    return [RunSpec(**base, seed=seed) for seed in range(2)]


# Four in make test (a kinked one, erf's and logsigmoid's float32 forms, abs); the rest slow.
ZOO_FAST = {"hardswish", "erf", "logsigmoid", "abs"}


@pytest.mark.parametrize(
    "name", [n if n in ZOO_FAST else pytest.param(n, marks=pytest.mark.slow) for n in ZOO_NAMES]
)
def test_the_zoo_matches_the_reference_in_float32(name):
    assert_matches_reference(zoo_case(name, 60), torch.float32, 1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO_NAMES)
def test_the_zoo_matches_the_reference_in_float64(name):
    assert_matches_reference(zoo_case(name, 200), torch.float64, 1e-9)


@pytest.mark.parametrize(
    "name,corners",
    [("hardswish", [-3.0, 3.0]), ("hardsigmoid", [-3.0, 3.0]), ("hardtanh", [-1.0, 1.0]),
     ("relu6", [0.0, 6.0]), ("abs", [0.0]), ("squared_relu", [0.0])],
)  # fmt: skip
def test_the_zoos_gradients_at_their_corners_are_torchs(name, corners):
    from bench.engine import fused_act

    if name not in BUILTIN_REGISTRY:
        pytest.skip(f"{name} is not a built-in here")
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor(corners, dtype=dtype, requires_grad=True)
        (grad,) = torch.autograd.grad(BUILTIN_REGISTRY.get(name).function(x).sum(), x)
        Z = x.detach().numpy().reshape(1, -1).copy()
        A, G = np.zeros_like(Z), np.ones_like(Z)
        code = fused_act.ACT_CODES[name]
        fused_act.activation_backward(code, Z, A, G, 1, Z.shape[1], np.zeros(Z.shape[1], np.int32))
        np.testing.assert_array_equal(G[0], grad.numpy())
