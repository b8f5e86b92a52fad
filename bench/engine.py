"""The batched engine: trains a group of same-shape MLPs as one stacked tensor program.

A *group* is the runs that share activation, depth, width, optimizer, init, loop structure
(epochs, batch size, evaluation schedule) and data shape; within it, seeds, noise levels,
label noise, datasets of the same shape and learning rates all batch together. A group is cut
into *chunks* that fit a memory budget, and each chunk trains as one program:

    W[l]: (models, fan_out, fan_in)    b[l]: (models, fan_out, 1)
    h = act(baddbmm(b[l], W[l], h))     h: (models, features, samples)

Samples sit on the last (contiguous) axis: on a CPU the batched product of a small weight
matrix with a long (features, samples) matrix measured ~5x faster than the (samples, features)
layout, and weights keep nn.Linear's (out, in) layout.

The loss is the sum over models of each model's mean loss, so each model gets exactly its own
gradient; learning rates are per model; nothing global (clipping, shared statistics) couples
them. `bench.model.train_reference` is the one-model definition that this file must match.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from bench import metrics
from bench.data import Dataset, make_dataset
from bench.model import (
    ADAM_BETAS,
    ADAM_EPS,
    batches,
    eval_epochs,
    init_parameters,
    layer_sizes,
    make_activation_modules,
    output_size,
    shuffle_order,
)
from bench.registry import Activation, get_activation
from bench.spec import RunSpec

ENGINE_VERSION = "1"
SURFACE_RESOLUTION = 100  # decision surfaces stored for the gallery: 100 x 100 points
MEASURE_RESOLUTION = 100  # grid for linear_fit_r2 and linear_regions
CURVE_COLUMNS = ("train_loss", "test_loss", "train_acc", "test_acc")


# --------------------------------------------------------------------------- devices


def resolve_device(name: str = "auto") -> torch.device:
    """auto picks cuda, then mps, then cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
        raise ValueError(f"unknown device '{name}'; allowed: auto, cuda, mps, cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return device.type


def memory_budget_bytes(device: torch.device) -> int:
    """Bytes one chunk may use for activations: a share of free GPU memory, or of RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.5)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        available = 4 << 30
    # On the CPU a smaller budget also keeps the working set nearer the caches; 512 MiB keeps
    # 4096 seed-sized models well under 2 GiB resident.
    return int(min(available * 0.25, 512 << 20))


# --------------------------------------------------------------------------- groups


def group_key(spec: RunSpec, data: Dataset) -> tuple:
    """Runs with equal keys can share one stacked program."""
    return (
        get_activation(spec.activation).name,
        spec.depth,
        spec.width,
        spec.optimizer,
        spec.init,
        spec.epochs,
        spec.batch_size,
        spec.eval_every,
        data.n_features,
        data.n_classes,
        len(data.X_train),
        len(data.X_test),
    )


def data_key(spec: RunSpec) -> tuple:
    return (
        spec.dataset,
        spec.n_samples,
        spec.noise,
        spec.label_noise,
        spec.data_seed,
        spec.test_size,
        spec.stratify,
    )


def load_data(spec: RunSpec) -> Dataset:
    return make_dataset(
        spec.dataset,
        n_samples=spec.n_samples,
        noise=spec.noise,
        label_noise=spec.label_noise,
        data_seed=spec.data_seed,
        test_size=spec.test_size,
        stratify=spec.stratify,
    )


def bytes_per_model(spec: RunSpec, data: Dataset) -> int:
    """Rough peak bytes one model needs while training: saved activations and their grads."""
    units = spec.width * spec.depth + output_size(data.n_classes)
    n = len(data.X_train) + len(data.X_test)
    # ~6 float32 tensors per unit and sample (pre/post activation, grads, eval copies), and
    # the measurement grid's pre-activations, which are processed in sub-batches.
    return 4 * units * n * 6 + 4 * data.n_features * n * 2


# On a CPU, per-model speed drops once a hidden activation tensor (models, width, samples)
# outgrows the caches: for the seed's network, 4096 models in one program measured 186 ms per
# model against 68 ms at 256. Chunks are capped so that one such tensor stays near 8 MiB.
CPU_CACHE_BYTES = 8 << 20


def chunk_size(spec: RunSpec, data: Dataset, device: torch.device, cap: int | None = None) -> int:
    size = max(1, memory_budget_bytes(device) // max(bytes_per_model(spec, data), 1))
    if device.type == "cpu":
        per_model = 4 * max(spec.width if spec.depth else 1, 1) * len(data.X_train)
        size = min(size, max(16, CPU_CACHE_BYTES // per_model))
    return min(size, cap) if cap else size


# --------------------------------------------------------------------------- the network


@dataclass
class StackedMLP:
    """Parameters of M models with identical shapes, stacked on a leading model axis."""

    weights: list[torch.Tensor]  # per layer (models, fan_out, fan_in)
    biases: list[torch.Tensor]  # per layer (models, fan_out, 1)
    activation: Activation
    # Learnable activations: per hidden layer, a dict of stacked parameters (models, *shape),
    # applied through torch.func.vmap over one template module.
    act_params: list[dict[str, torch.Tensor]] = field(default_factory=list)
    act_buffers: list[dict[str, torch.Tensor]] = field(default_factory=list)
    act_templates: list[torch.nn.Module] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.weights) - 1

    def parameters(self) -> list[torch.Tensor]:
        params = [*self.weights, *self.biases]
        for layer in self.act_params:
            params.extend(layer.values())
        return params

    def activate(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Applies hidden layer `layer`'s activation to h: (models, width, samples)."""
        if self.activation.function is not None:
            return self.activation.function(h)  # elementwise: works on stacked tensors as is
        if not self.act_params or not self.act_params[layer] and not self.act_buffers[layer]:
            return self.act_templates[layer](h)  # a parameter-free module
        template = self.act_templates[layer]

        def one_model(params, buffers, x):  # x: (width, samples)
            # Modules expect (samples, width), e.g. a per-unit slope broadcasts on the last axis.
            return functional_call(template, (params, buffers), (x.T,)).T

        return vmap(one_model)(self.act_params[layer], self.act_buffers[layer], h)

    def forward(
        self, x: torch.Tensor, keep: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """x: (models, in, samples) -> logits (models, out, samples).

        With keep=True also returns each hidden layer's pre- and post-activations.
        """
        pre_acts, post_acts = [], []
        h = x
        for layer in range(self.depth):
            z = torch.baddbmm(self.biases[layer], self.weights[layer], h)
            h = self.activate(layer, z)
            if keep:
                pre_acts.append(z)
                post_acts.append(h)
        logits = torch.baddbmm(self.biases[-1], self.weights[-1], h)
        return logits, pre_acts, post_acts

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[0]

    def subset(self, models: slice) -> StackedMLP:
        """A view of some of the models (for sub-batched measurement)."""
        return StackedMLP(
            weights=[w[models] for w in self.weights],
            biases=[b[models] for b in self.biases],
            activation=self.activation,
            act_params=[{k: v[models] for k, v in d.items()} for d in self.act_params],
            act_buffers=[{k: v[models] for k, v in d.items()} for d in self.act_buffers],
            act_templates=self.act_templates,
        )


def build_stacked(
    specs: Sequence[RunSpec],
    in_features: int,
    out_features: int,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> StackedMLP:
    """Initial parameters of each run, drawn from its own seed, stacked on the model axis.

    float32 is the benchmark's precision; float64 exists to check, against the reference
    loop, that the engine computes the same algorithm (rounding differences then stay ~1e-15).
    """
    spec0 = specs[0]
    activation = get_activation(spec0.activation)
    sizes = layer_sizes(in_features, out_features, spec0.depth, spec0.width)
    per_seed: dict[int, list] = {}  # runs that share a seed share initial weights
    for spec in specs:
        if spec.seed not in per_seed:
            per_seed[spec.seed] = init_parameters(
                sizes, spec0.init, activation.glorot_factor, spec.seed
            )
    weights, biases = [], []
    for layer in range(len(sizes) - 1):
        w = torch.stack([per_seed[s.seed][layer][0] for s in specs])  # (models, out, in)
        b = torch.stack([per_seed[s.seed][layer][1][:, None] for s in specs])  # (models, out, 1)
        weights.append(w.contiguous().to(device, dtype).requires_grad_())
        biases.append(b.to(device, dtype).requires_grad_())
    net = StackedMLP(weights=weights, biases=biases, activation=activation)
    if activation.function is None:
        modules = [make_activation_modules(activation, spec0.depth, s.seed) for s in specs]
        for layer in range(spec0.depth):
            layer_modules = [m[layer] for m in modules]
            params, buffers = stack_module_state(layer_modules)
            net.act_params.append(
                {k: v.detach().to(device, dtype).requires_grad_() for k, v in params.items()}
            )
            net.act_buffers.append({k: v.to(device) for k, v in buffers.items()})
            net.act_templates.append(layer_modules[0].to(dtype))
    return net


# --------------------------------------------------------------------------- losses


def per_model_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss of each model: logits (models, out, samples), y (models, samples) -> (models,)."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(
            logits[:, 0], y.to(logits.dtype), reduction="none"
        ).mean(1)
    return F.cross_entropy(logits, y, reduction="none").mean(1)  # classes on axis 1


def per_model_accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (predicted_labels(logits) == y).float().mean(1)


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    """logits (models, out, samples) -> class labels (models, samples)."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)


# --------------------------------------------------------------------------- optimizers


class StackedOptimizer:
    """SGD or Adam over stacked parameters, with a learning rate per model.

    The arithmetic follows torch.optim.SGD / torch.optim.Adam (single-tensor path) so a model
    trained here matches the reference loop. Models whose `alive` flag is off are left as is.
    """

    def __init__(self, params: list[torch.Tensor], kind: str, lr: torch.Tensor):
        self.params = params
        self.kind = kind
        self.lr = lr  # (models,)
        self.step_count = 0
        if kind == "adam":
            self.exp_avg = [torch.zeros_like(p) for p in params]
            self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        elif kind != "sgd":
            raise ValueError(f"unknown optimizer '{kind}'; allowed: sgd, adam")

    @staticmethod
    def _per_model(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return x.view(-1, *([1] * (like.dim() - 1)))  # (models,) -> (models, 1, ...)

    @torch.no_grad()
    def step(self, alive: torch.Tensor) -> None:
        self.step_count += 1
        if self.kind == "adam":
            beta1, beta2 = ADAM_BETAS
            bias_correction1 = 1 - beta1**self.step_count
            bias_correction2_sqrt = math.sqrt(1 - beta2**self.step_count)
        for i, p in enumerate(self.params):
            g = p.grad
            lr = self._per_model(self.lr, p)
            if self.kind == "sgd":
                update = p - lr * g
            else:
                m, v = self.exp_avg[i], self.exp_avg_sq[i]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / bias_correction2_sqrt).add_(ADAM_EPS)
                update = p - (lr / bias_correction1) * (m / denom)
            p.copy_(torch.where(self._per_model(alive, p), update, p))
            p.grad = None


# --------------------------------------------------------------------------- training


@dataclass
class ChunkResult:
    runs: pd.DataFrame  # one row per run: run_id + final metrics
    curves: pd.DataFrame  # one row per run and evaluated epoch
    surfaces: pd.DataFrame  # one row per stored decision surface


def _stack_data(
    specs: Sequence[RunSpec],
    datasets: dict[tuple, Dataset],
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, ...]:
    """Per-model data: X (models, in, samples), y (models, samples)."""
    keys = list(dict.fromkeys(data_key(s) for s in specs))
    index = torch.tensor([keys.index(data_key(s)) for s in specs])
    unique = [datasets[k] for k in keys]
    X_train = torch.stack([d.X_train.T for d in unique])[index].contiguous().to(device, dtype)
    y_train = torch.stack([d.y_train for d in unique])[index].to(device)
    X_test = torch.stack([d.X_test.T for d in unique])[index].contiguous().to(device, dtype)
    y_test = torch.stack([d.y_test for d in unique])[index].to(device)
    return X_train, y_train, X_test, y_test


@torch.no_grad()
def _evaluate(net: StackedMLP, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    logits = net(X)
    return per_model_loss(logits, y), per_model_accuracy(logits, y)


def _init_gradient_norms(
    net: StackedMLP, X: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch gradient norms at init of the first and last hidden layer's weights: (models,)."""
    models = X.shape[0]
    if net.depth == 0:
        nan = torch.full((models,), float("nan"), device=X.device)
        return nan, nan
    first, last = net.weights[0], net.weights[net.depth - 1]
    loss = per_model_loss(net(X), y)
    g_first, g_last = torch.autograd.grad(loss.nansum(), [first, last])
    return g_first.flatten(1).norm(dim=1), g_last.flatten(1).norm(dim=1)


def train_stacked(
    net: StackedMLP,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    optimizer: str,
    lr: torch.Tensor,
    seeds: torch.Tensor,
    epochs: int,
    batch_size: int = 0,
    eval_every: int = 10,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Trains the stacked models in place.

    Returns curves (evaluations, 4, models) holding train_loss, test_loss, train_acc, test_acc
    at `eval_epochs(epochs, eval_every)`, and diverged_epoch (models,) int64, 0 if never.
    Everything stays on the device: no host synchronisation inside the loop.
    """
    models, n_train = X_train.shape[0], X_train.shape[2]
    device = X_train.device
    record_at = eval_epochs(epochs, eval_every)
    curves = torch.empty(len(record_at), 4, models, device=device)
    alive = torch.ones(models, dtype=torch.bool, device=device)
    diverged_epoch = torch.zeros(models, dtype=torch.int64, device=device)
    opt = StackedOptimizer(net.parameters(), optimizer, lr)
    slices = batches(n_train, batch_size)

    # Full batch: the training forward of epoch e+1 sees exactly the model after epoch e on
    # the whole training set, so train metrics recorded at epoch e are read from it instead of
    # a separate evaluation pass (the same numbers, one forward pass fewer). Only the last
    # epoch's train metrics need their own pass.
    full_batch = len(slices) == 1
    deferred: int | None = None  # curve slot waiting for the next training forward

    def record(slot: int, train: bool) -> None:
        if train:
            curves[slot, 0], curves[slot, 2] = _evaluate(net, X_train, y_train)
        curves[slot, 1], curves[slot, 3] = _evaluate(net, X_test, y_test)

    record(0, train=not full_batch)
    deferred = 0 if full_batch else None
    slot = 1
    for epoch in range(1, epochs + 1):
        order = shuffle_order(seeds, epoch, n_train) if len(slices) > 1 else None
        for batch in slices:
            if order is None:
                Xb, yb = X_train[:, :, batch], y_train[:, batch]
            else:
                idx = order[:, batch]  # (models, batch): each model's own samples
                Xb = X_train.gather(2, idx[:, None, :].expand(-1, X_train.shape[1], -1))
                yb = y_train.gather(1, idx)
            # 1. Forward and per-model loss: (models,).
            logits = net(Xb)
            loss = per_model_loss(logits, yb)
            if deferred is not None:
                curves[deferred, 0] = loss.detach()
                curves[deferred, 2] = per_model_accuracy(logits.detach(), yb)
                deferred = None
            # 2. A model whose loss is not finite is frozen at this epoch and flagged.
            finite = torch.isfinite(loss)
            newly = alive & ~finite
            diverged_epoch = torch.where(newly, epoch, diverged_epoch)
            alive = alive & finite
            # 3. Sum of per-model losses: each model's gradient is its own.
            torch.where(alive, loss, 0.0).sum().backward()
            opt.step(alive)
        if slot < len(record_at) and epoch == record_at[slot]:
            last = epoch == epochs
            record(slot, train=not full_batch or last)
            deferred = slot if full_batch and not last else None
            slot += 1
    return curves, diverged_epoch


# --------------------------------------------------------------------------- measurement


@torch.no_grad()
def _hidden_outputs(net: StackedMLP, X: torch.Tensor) -> list[torch.Tensor]:
    """Post-activations per hidden layer as (models, samples, width), metrics' layout."""
    return [h.transpose(1, 2) for h in net.forward(X, keep=True)[2]]


@torch.no_grad()
def _dead_units(net: StackedMLP, X: torch.Tensor, sub: int) -> torch.Tensor:
    out = []
    for start in range(0, X.shape[0], sub):
        part = slice(start, start + sub)
        out.append(metrics.dead_unit_fraction(_hidden_outputs(net.subset(part), X[part])))
    return torch.cat(out)


@dataclass
class GridMeasures:
    r2: torch.Tensor  # (models,)
    regions: torch.Tensor  # (models,) float, NaN where not countable
    probs: torch.Tensor | None  # (surface models, P) or None
    preds: torch.Tensor | None  # (surface models, P)
    extents: list[tuple[float, float, float, float]]


@torch.no_grad()
def _grid_measures(
    net: StackedMLP,
    specs: Sequence[RunSpec],
    datasets: dict[tuple, Dataset],
    surface_rows: list[int],
    device: torch.device,
    sub: int,
) -> GridMeasures:
    """linear_fit_r2 and linear_regions on a grid covering each model's data, and surfaces.

    Grid measures live in the plane of the data; for more than two features the plane is the
    first two principal components of the data, mapped back into input space.
    """
    models = len(specs)
    keys = list(dict.fromkeys(data_key(s) for s in specs))
    points_by_key, extent_by_key = {}, {}
    for key in keys:
        data = datasets[key]
        X_all = torch.cat([data.X_train, data.X_test])
        if data.n_features == 2:
            points, extent = metrics.covering_grid(X_all, MEASURE_RESOLUTION)
            inputs = points
        else:
            mean, components = metrics.pca_basis(X_all)
            projected = (X_all - mean) @ components.T
            points, extent = metrics.covering_grid(projected, MEASURE_RESOLUTION)
            inputs = metrics.grid_in_input_space(points, mean, components)
        points_by_key[key] = (points, inputs.to(device))
        extent_by_key[key] = extent
    index = [keys.index(data_key(s)) for s in specs]
    countable = net.activation.piecewise_linear
    r2 = torch.empty(models, device=device)
    regions = torch.full((models,), float("nan"), device=device)
    probs, preds = [], []
    surface_set = set(surface_rows)
    for start in range(0, models, sub):
        part = slice(start, min(start + sub, models))
        rows = range(part.start, part.stop)
        inputs = torch.stack([points_by_key[keys[index[i]]][1].T for i in rows])  # (m, in, P)
        points = torch.stack([points_by_key[keys[index[i]]][0] for i in rows]).to(device)
        logits, pre_acts, _ = net.subset(part).forward(inputs, keep=countable)
        # metrics take (models, points, features): transpose views of our layout.
        logits = logits.transpose(1, 2)
        pre_acts = [z.transpose(1, 2) for z in pre_acts]
        r2[part] = metrics.linear_fit_r2(points, logits).to(r2.dtype)
        if countable:
            if net.activation.name == "none":
                regions[part] = 1.0
            else:
                regions[part] = metrics.count_linear_regions(pre_acts).to(regions.dtype)
        for i in rows:
            if i in surface_set:
                probs.append(metrics.surface_probabilities(logits[i - start : i - start + 1])[0])
                preds.append(metrics.predicted_class(logits[i - start : i - start + 1])[0])
    extents = [extent_by_key[keys[index[i]]] for i in surface_rows]
    return GridMeasures(
        r2=r2,
        regions=regions,
        probs=torch.stack(probs) if probs else None,
        preds=torch.stack(preds) if preds else None,
        extents=extents,
    )


def count_parameters(spec: RunSpec, data: Dataset) -> int:
    sizes = layer_sizes(data.n_features, output_size(data.n_classes), spec.depth, spec.width)
    linear = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    activation = get_activation(spec.activation)
    if activation.learnable:
        per_layer = sum(p.numel() for p in activation.make().parameters() if p.requires_grad)
        linear += per_layer * spec.depth
    return linear


def train_chunk(
    specs: Sequence[RunSpec],
    run_ids: Sequence[str],
    device: torch.device | str = "cpu",
    *,
    surfaces_for: set[str] | frozenset[str] = frozenset(),
    datasets: dict[tuple, Dataset] | None = None,
    measure: bool = True,
) -> ChunkResult:
    """Trains runs of one group together and measures them; returns tidy tables.

    specs must share `group_key`. surfaces_for names the run ids whose decision surface
    (predicted probability over a 100 x 100 grid) is stored for the report's gallery.
    """
    t0 = time.perf_counter()
    device = torch.device(device) if isinstance(device, str) else device
    if datasets is None:
        datasets = {}
    for spec in specs:
        if data_key(spec) not in datasets:
            datasets[data_key(spec)] = load_data(spec)
    first = datasets[data_key(specs[0])]
    keys = {group_key(s, datasets[data_key(s)]) for s in specs}
    if len(keys) != 1:
        raise ValueError(f"train_chunk needs runs of one group; got {len(keys)} groups")
    spec0 = specs[0]
    models = len(specs)
    X_train, y_train, X_test, y_test = _stack_data(specs, datasets, device)
    net = build_stacked(specs, first.n_features, output_size(first.n_classes), device)
    lr = torch.tensor([s.lr for s in specs], dtype=torch.float32, device=device)
    seeds = torch.tensor([s.seed for s in specs], dtype=torch.int64, device=device)
    target = torch.tensor([s.target_acc for s in specs], dtype=torch.float32, device=device)
    # Sub-batch size for measurements on the covering grid and training set.
    units = max(spec0.width * max(spec0.depth, 1), 1)
    sub = max(1, min(models, (64 << 20) // (4 * units * MEASURE_RESOLUTION**2 * 3)))

    # Before training: dead units and gradient norms at initialisation.
    dead_init = (
        _dead_units(net, X_train, sub)
        if measure and spec0.depth
        else torch.full((models,), float("nan"), device=device)
    )
    g_first, g_last = _init_gradient_norms(net, X_train, y_train)

    curves, diverged_epoch = train_stacked(
        net,
        X_train,
        y_train,
        X_test,
        y_test,
        optimizer=spec0.optimizer,
        lr=lr,
        seeds=seeds,
        epochs=spec0.epochs,
        batch_size=spec0.batch_size,
        eval_every=spec0.eval_every,
    )
    record_at = torch.tensor(eval_epochs(spec0.epochs, spec0.eval_every), device=device)

    # After training: accuracy summaries (on the device), then mechanism measures.
    test_acc = curves[:, 3]  # (evaluations, models)
    reached = test_acc >= target[None, :]
    first_hit = torch.where(reached.any(0), record_at[reached.int().argmax(0)], -1)
    surface_rows = [i for i, rid in enumerate(run_ids) if rid in surfaces_for]
    if measure:
        dead = (
            _dead_units(net, X_train, sub)
            if spec0.depth
            else torch.full((models,), float("nan"), device=device)
        )
        grid = _grid_measures(net, specs, datasets, surface_rows, device, sub)
    final = curves[-1]  # (4, models)

    # One host transfer for everything.
    host = {
        "train_loss": final[0],
        "test_loss": final[1],
        "train_acc": final[2],
        "test_acc": final[3],
        "best_test_acc": test_acc.max(0).values,
        "epochs_to_target": first_hit,
        "grad_norm_init_first": g_first,
        "grad_norm_init_last": g_last,
        "dead_unit_frac_init": dead_init,
        "diverged_epoch": diverged_epoch,
    }
    if measure:
        host.update(dead_unit_frac=dead, linear_fit_r2=grid.r2, linear_regions=grid.regions)
    host = {k: v.detach().cpu().numpy() for k, v in host.items()}
    curves_host = curves.detach().cpu().numpy()
    wall = time.perf_counter() - t0

    runs = pd.DataFrame({"run_id": list(run_ids)})
    for column in ("train_acc", "test_acc", "train_loss", "test_loss", "best_test_acc"):
        runs[column] = host[column].astype(np.float64)
    runs["epochs_to_target"] = np.where(
        host["epochs_to_target"] >= 0, host["epochs_to_target"], np.nan
    )
    runs["gen_gap"] = runs["train_acc"] - runs["test_acc"]
    nan = np.full(models, np.nan)
    runs["linear_fit_r2"] = host.get("linear_fit_r2", nan).astype(np.float64)
    runs["linear_regions"] = host.get("linear_regions", nan).astype(np.float64)
    runs["dead_unit_frac"] = host.get("dead_unit_frac", nan).astype(np.float64)
    runs["dead_unit_frac_init"] = host["dead_unit_frac_init"].astype(np.float64)
    runs["grad_norm_init_first"] = host["grad_norm_init_first"].astype(np.float64)
    runs["grad_norm_init_last"] = host["grad_norm_init_last"].astype(np.float64)
    runs["n_params"] = count_parameters(spec0, first)
    runs["n_classes"] = first.n_classes
    runs["diverged"] = host["diverged_epoch"] > 0
    runs["diverged_epoch"] = np.where(host["diverged_epoch"] > 0, host["diverged_epoch"], np.nan)
    runs["wall_s"] = wall / models  # the chunk's wall time, shared equally by its runs
    runs["chunk_size"] = models

    epochs_axis = eval_epochs(spec0.epochs, spec0.eval_every)
    evaluations = len(epochs_axis)
    curves_df = pd.DataFrame(
        {
            "run_id": np.repeat(np.asarray(run_ids, dtype=object), evaluations),
            "epoch": np.tile(np.asarray(epochs_axis, dtype=np.int64), models),
        }
    )
    for j, column in enumerate(CURVE_COLUMNS):
        curves_df[column] = curves_host[:, j, :].T.reshape(-1).astype(np.float32)

    surfaces = pd.DataFrame()
    if measure and surface_rows:
        probs = grid.probs.cpu().numpy().astype(np.float32)
        preds = grid.preds.cpu().numpy().astype(np.int8)
        surfaces = pd.DataFrame(
            {
                "run_id": [run_ids[i] for i in surface_rows],
                "resolution": MEASURE_RESOLUTION,
                "x_min": [e[0] for e in grid.extents],
                "x_max": [e[1] for e in grid.extents],
                "y_min": [e[2] for e in grid.extents],
                "y_max": [e[3] for e in grid.extents],
                "prob": list(probs),
                "pred": list(preds),
            }
        )
    return ChunkResult(runs=runs, curves=curves_df, surfaces=surfaces)


def chunk_indices(
    specs: Sequence[RunSpec],
    device: torch.device,
    max_chunk: int | None = None,
) -> tuple[dict[tuple, Dataset], list[list[int]], int]:
    """Groups specs by `group_key` and cuts each group into chunks of `chunk_size`.

    Returns the datasets loaded on the way (by `data_key`), the chunks as lists of indices
    into `specs`, and the number of groups.
    """
    datasets: dict[tuple, Dataset] = {}
    groups: dict[tuple, list[int]] = {}
    for i, spec in enumerate(specs):
        key = data_key(spec)
        if key not in datasets:
            datasets[key] = load_data(spec)
        groups.setdefault(group_key(spec, datasets[key]), []).append(i)
    chunks = []
    for members in groups.values():
        spec0 = specs[members[0]]
        size = chunk_size(spec0, datasets[data_key(spec0)], device, max_chunk)
        chunks.extend(members[start : start + size] for start in range(0, len(members), size))
    return datasets, chunks, len(groups)


def train_specs(
    specs: Sequence[RunSpec],
    run_ids: Sequence[str],
    device: torch.device | str = "cpu",
    *,
    max_chunk: int | None = None,
    **kwargs,
) -> ChunkResult:
    """Convenience: groups specs, splits groups into chunks and trains them all."""
    device = torch.device(device) if isinstance(device, str) else device
    datasets, chunks, _ = chunk_indices(specs, device, max_chunk)
    results = [
        train_chunk(
            [specs[i] for i in part],
            [run_ids[i] for i in part],
            device,
            datasets=datasets,
            **kwargs,
        )  # fmt: skip
        for part in chunks
    ]
    return ChunkResult(
        runs=pd.concat([r.runs for r in results], ignore_index=True),
        curves=pd.concat([r.curves for r in results], ignore_index=True),
        surfaces=pd.concat([r.surfaces for r in results], ignore_index=True),
    )
