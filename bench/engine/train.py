"""Training a chunk: one stacked program for a chunk of same-group runs, then its measures.

The loss is the sum over models of each model's mean loss, so each model gets exactly its own
gradient; learning rates are per model; nothing global (clipping, shared statistics) couples
them. `bench.engine.reference.train_reference` is the one-model definition that this must match.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from bench.activations.registry import Activation
from bench.data.datasets import Dataset, data_key, load_data
from bench.engine import fused, graphs
from bench.engine.eager import train_stacked
from bench.engine.measure import (
    Plane,
    data_plane,
    dead_networks,
    dead_unit_fractions,
    grid_measures,
    grid_regions,
    init_gradient_norms,
    measure_batch_size,
)
from bench.engine.options import TrainOptions
from bench.engine.placement import group_key
from bench.engine.reference import (
    LayerStack,
    eval_epochs,
    output_size,
)
from bench.engine.stacked import (
    StackedMLP,
    build_stacked,
    stack_data,
    state_dicts,
)
from bench.schema import METRIC_NAMES
from bench.spec import RunSpec, hidden_widths


@dataclass(frozen=True)
class Surface:
    """One run's decision surface on its data plane, with the test points in that plane."""

    row: int  # the run's position in the chunk
    plane: Plane
    prob: np.ndarray  # (P,) float32, see schema's surfaces.prob
    pred: np.ndarray  # (P,) int8


@dataclass(frozen=True)
class ChunkArrays:
    """What training a chunk of M runs yields, as arrays; the runner builds the tables."""

    metrics: dict[str, np.ndarray]  # schema.METRIC_NAMES -> (M,) float64, NaN: not measured
    diverged_epoch: np.ndarray  # (M,) int64, 0 if the loss stayed finite
    epochs: np.ndarray  # (E,) int64, the evaluated epochs
    # (E, 4, M) float32: train_loss, test_loss, then train and test accuracy (classification)
    # or R^2 (regression), see schema.curve_columns
    curves: np.ndarray
    surfaces: list[Surface]
    act_params: list[str]  # (M,) learned activation parameters as JSON, see act_param_json
    n_params: int
    n_classes: int  # 0 for regression
    wall_s: float
    # Final parameters: the state-dict layout [(name, shape), ...] and (M, P) float32 values
    # (stacked.state_dicts).
    weight_layout: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    weights: np.ndarray | None = None


def act_param_json(net: StackedMLP) -> list[str]:
    """Each model's trained activation parameters as a JSON object, "" without any:
    '{"0.slope": 0.21, "1.slope": 0.18}', keyed "<hidden layer>.<name>"; a parameter with more
    than one element (per unit, say) is stored as its mean under "<layer>.<name>.mean"."""
    models = net.weights[0].shape[0]
    values: list[dict[str, float]] = [{} for _ in range(models)]
    for layer, params in enumerate(net.act_params):
        for name, tensor in params.items():  # (models, *shape)
            per_model = tensor.detach().reshape(models, -1).double()
            key = f"{layer}.{name}" if per_model.shape[1] == 1 else f"{layer}.{name}.mean"
            for i, value in enumerate(per_model.mean(1).cpu().tolist()):
                values[i][key] = value
    return [json.dumps(v, sort_keys=True) if v else "" for v in values]


def training_path(
    net: StackedMLP, device: torch.device, options: Iterable[str], regression: bool
) -> tuple[str, str | None]:
    """The path train_chunk trains `net` on: "fused" (the CPU kernel), "cuda-graph" (captured
    epochs, engine.graphs) or "generic" (train_stacked's eager loop), and why it is not the
    fused one (None when it is): fused.why_not_fused's reason, or that generic measured faster."""
    needs = {*options, "mse"} if regression else set(options)  # what the kernel must implement
    if fused.use_fused(net, device, options=needs):
        return "fused", None
    if graphs.use_graphs(device):
        return "cuda-graph", fused.why_not_fused(net, device, needs)
    reason = fused.why_not_fused(net, device, needs)
    if fused.requested_path() == "generic":
        reason = f"{fused.ENV}=generic"
    return "generic", reason or "the generic path measured faster for this shape"


def chunk_path(
    specs: Sequence[RunSpec],
    activation: Activation,
    datasets: dict[tuple, Dataset],
    device: torch.device | str = "cpu",
) -> tuple[str, str | None]:
    """training_path for a chunk of runs, as train_chunk would pick it (without training)."""
    device = torch.device(device) if isinstance(device, str) else device
    data = datasets[data_key(specs[0])]
    net = build_stacked(specs, activation, data.n_features, output_size(data.n_classes), device)
    options = TrainOptions.for_runs(specs, net.weights[0].dtype, device)
    return training_path(net, device, options.per_model(), data.regression)


def count_parameters(spec: RunSpec, activation: Activation, data: Dataset) -> int:
    """Trainable parameters of one run: weights, biases and learnable activations."""
    widths = hidden_widths(spec)
    count = LayerStack.of_widths(data.n_features, data.n_classes, widths).linear_parameters
    for layer in range(spec.depth):
        if activation.at(layer).learnable:
            module = activation.at(layer).make()
            count += sum(p.numel() for p in module.parameters() if p.requires_grad)
    return count


def train_chunk(
    specs: Sequence[RunSpec],
    activation: Activation,
    device: torch.device | str = "cpu",
    *,
    surface_rows: Sequence[int] = (),
    datasets: dict[tuple, Dataset] | None = None,
    measure: bool = True,
) -> ChunkArrays:
    """Trains runs of one group together and measures them.

    specs must share `group_key`, and `activation` is their activation's record. surface_rows
    are the positions in `specs` whose decision surface is kept (with measure=True).
    """
    t0 = time.perf_counter()
    device = torch.device(device) if isinstance(device, str) else device
    datasets = dict(datasets or {})
    for spec in specs:
        if data_key(spec) not in datasets:
            datasets[data_key(spec)] = load_data(spec)
    first = datasets[data_key(specs[0])]
    if len({group_key(s, datasets[data_key(s)]) for s in specs}) != 1:
        raise ValueError("train_chunk needs runs of one group")
    if activation.name != specs[0].activation:
        raise ValueError(f"activation {activation.name} given for runs of {specs[0].activation}")
    spec0 = specs[0]
    models = len(specs)
    regression = first.regression
    data = stack_data(specs, datasets, device)
    X_train, y_train, X_test, y_test = data
    net = build_stacked(specs, activation, first.n_features, output_size(first.n_classes), device)
    target = torch.tensor([s.target_acc for s in specs], dtype=torch.float32, device=device)
    batch = measure_batch_size(models, spec0.depth, spec0.width)
    nan = torch.full((models,), float("nan"), device=device)

    # 1. Before training: dead units and gradient norms at initialisation.
    dead_init = dead_unit_fractions(net, X_train, batch) if measure and spec0.depth else nan
    g_first, g_last = init_gradient_norms(net, X_train, y_train)
    planes = (
        {key: data_plane(datasets[key]) for key in dict.fromkeys(map(data_key, specs))}
        if measure
        else {}
    )
    born_dead = dead_networks(net, X_train, batch).to(nan.dtype) if measure else nan
    regions_init = grid_regions(net, specs, planes, batch) if measure else nan

    # 2. Training: the fused CPU kernel where it applies (engine.fused), else autograd.
    options = TrainOptions.for_runs(specs, net.weights[0].dtype, device)
    path, _ = training_path(net, device, options.per_model(), regression)
    train = {"fused": fused.train_fused, "cuda-graph": graphs.train_graphed}.get(
        path, train_stacked
    )
    curves, diverged_epoch = train(net, data, options)
    epochs = eval_epochs(spec0.epochs, spec0.eval_every)
    record_at = torch.tensor(epochs, device=device)

    # 3. Accuracy summaries (on the device), then the mechanism measures.
    test_acc = curves[:, 3]  # (evaluations, models)
    reached = test_acc >= target[None, :]
    first_hit = torch.where(reached.any(0), record_at[reached.int().argmax(0)], -1)
    final = curves[-1]  # (4, models): losses, then scores (accuracy, or R^2 for regression)
    values = {
        "train_loss": final[0],
        "test_loss": final[1],
        "dead_unit_frac_init": dead_init,
        "grad_norm_init_first": g_first,
        "grad_norm_init_last": g_last,
        "born_dead": born_dead,
        "linear_regions_init": regions_init,
    }
    if regression:
        values.update(train_r2=final[2], test_r2=final[3], test_mse=final[1])
    else:
        values.update(train_acc=final[2], test_acc=final[3], best_test_acc=test_acc.max(0).values)
    surfaces = []
    if measure:
        grid = grid_measures(net, specs, planes, surface_rows, batch, regression)
        values.update(
            dead_unit_frac=dead_unit_fractions(net, X_train, batch) if spec0.depth else nan,
            linear_fit_r2=grid.r2,
            linear_regions=grid.regions,
            dead_after_training=dead_networks(net, X_train, batch).to(nan.dtype),
        )
        surfaces = [
            Surface(
                row=i,
                plane=planes[data_key(specs[i])],
                prob=grid.probs[i].cpu().numpy().astype(np.float32),
                pred=grid.preds[i].cpu().numpy().astype(np.int8),
            )
            for i in sorted(surface_rows)
        ]

    # 4. One host transfer for everything.
    host = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in values.items()}
    if not regression:
        hit = first_hit.cpu().numpy()
        host["epochs_to_target"] = np.where(hit >= 0, hit, np.nan)
        host["gen_gap"] = host["train_acc"] - host["test_acc"]
    layout, weights = state_dicts(net)
    return ChunkArrays(
        metrics={m: host.get(m, np.full(models, np.nan)) for m in METRIC_NAMES},
        diverged_epoch=diverged_epoch.cpu().numpy().astype(np.int64),
        epochs=np.asarray(epochs, dtype=np.int64),
        curves=curves.detach().cpu().numpy().astype(np.float32),
        surfaces=surfaces,
        act_params=act_param_json(net),
        n_params=count_parameters(spec0, activation, first),
        n_classes=first.n_classes,
        wall_s=time.perf_counter() - t0,
        weight_layout=layout,
        weights=weights,
    )
