"""The stacked network: the parameters of M same-shape MLPs on a leading model axis.

    W[l]: (models, fan_out, fan_in)    b[l]: (models, fan_out, 1)
    h = act(baddbmm(b[l], W[l], h))     h: (models, features, samples)

Samples sit on the last (contiguous) axis: on a CPU the batched product of a small weight
matrix with a long (features, samples) matrix measured ~5x faster than the (samples, features)
layout, and weights keep nn.Linear's (out, in) layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from bench.activations.registry import Activation
from bench.data.datasets import Dataset, data_key
from bench.engine.reference import (
    dropout_scale,
    init_parameters,
    make_activation_modules,
    r_squared,
)
from bench.spec import RunSpec, hidden_widths


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
    # Dropout probability per model (models,), None when no model uses dropout.
    dropout: torch.Tensor | None = None

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
        function = self.activation.at(layer).function
        if function is not None:
            return function(h)  # elementwise: works on stacked tensors as is
        if not self.act_params or not self.act_params[layer] and not self.act_buffers[layer]:
            return self.act_templates[layer](h)  # a parameter-free module
        template = self.act_templates[layer]

        def one_model(params, buffers, x):  # x: (width, samples)
            # Modules expect (samples, width), e.g. a per-unit slope broadcasts on the last axis.
            return functional_call(template, (params, buffers), (x.T,)).T

        return vmap(one_model)(self.act_params[layer], self.act_buffers[layer], h)

    def forward(
        self,
        x: torch.Tensor,
        keep: bool = False,
        draw: tuple[torch.Tensor, int, int] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """x: (models, in, samples) -> logits (models, out, samples).

        With keep=True also returns each hidden layer's pre- and post-activations. draw =
        (seeds (models,), epoch, step) applies dropout with that training step's masks
        (`bench.engine.reference.dropout_scale`); without it the networks run whole (evaluation).
        """
        pre_acts, post_acts = [], []
        h = x
        for layer in range(self.depth):
            z = torch.baddbmm(self.biases[layer], self.weights[layer], h)
            h = self.activate(layer, z)
            if draw is not None and self.dropout is not None:
                seeds, epoch, step = draw
                h = h * dropout_scale(seeds, self.dropout, epoch, step, layer, *h.shape[1:])
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
            dropout=None if self.dropout is None else self.dropout[models],
        )


def state_dicts(net: StackedMLP) -> tuple[list[tuple[str, tuple[int, ...]]], np.ndarray]:
    """Each model's parameters as the state dict of a plain nn.Sequential(Linear, activation,
    ..., Linear) (bench.engine.reference.MLP.net): the layout [(name, shape), ...] shared by the models,
    and params (models, P) float32, the tensors flattened in layout order."""
    layout, parts = [], []
    for layer in range(net.depth + 1):
        w, b = net.weights[layer], net.biases[layer]  # (M, out, in), (M, out, 1)
        layout += [
            (f"{2 * layer}.weight", tuple(w.shape[1:])),
            (f"{2 * layer}.bias", (w.shape[1],)),
        ]
        parts += [w.flatten(1), b.flatten(1)]
        if layer < net.depth and net.act_params:
            for name, value in sorted(net.act_params[layer].items()):  # (M, *shape)
                layout.append((f"{2 * layer + 1}.{name}", tuple(value.shape[1:])))
                parts.append(value.reshape(value.shape[0], -1))
    params = torch.cat(parts, 1).detach().to("cpu", torch.float32).numpy()
    return layout, params


def build_stacked(
    specs: Sequence[RunSpec],
    activation: Activation,
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
    sizes = [in_features, *hidden_widths(spec0), out_features]
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
    if any(s.dropout for s in specs):
        net.dropout = torch.tensor([s.dropout for s in specs], dtype=dtype, device=device)
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
    """Mean loss of each model: logits (models, out, samples), y (models, samples) -> (models,).
    BCE-with-logits, cross-entropy, or squared error for float (regression) targets."""
    if y.is_floating_point():
        return (logits[:, 0] - y.to(logits.dtype)).pow(2).mean(1)
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(
            logits[:, 0], y.to(logits.dtype), reduction="none"
        ).mean(1)
    return F.cross_entropy(logits, y, reduction="none").mean(1)  # classes on axis 1


def per_model_score(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each model's accuracy, or R^2 for float (regression) targets: (models,)."""
    if y.is_floating_point():
        return r_squared(logits[:, 0], y.to(logits.dtype))
    return (predicted_labels(logits) == y).float().mean(1)


def predicted_labels(logits: torch.Tensor) -> torch.Tensor:
    """logits (models, out, samples) -> class labels (models, samples)."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)


class StackedData(NamedTuple):
    """A chunk's data, one copy per model (models that share a data sample share its values)."""

    X_train: torch.Tensor  # (models, in, train samples)
    y_train: torch.Tensor  # (models, train samples) int64 classes, or float targets
    X_test: torch.Tensor  # (models, in, test samples)
    y_test: torch.Tensor  # (models, test samples)


def stack_data(
    specs: Sequence[RunSpec],
    datasets: dict[tuple, Dataset],
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> StackedData:
    """Per-model data: X (models, in, samples), y (models, samples)."""
    keys = list(dict.fromkeys(data_key(s) for s in specs))
    index = torch.tensor([keys.index(data_key(s)) for s in specs])
    unique = [datasets[k] for k in keys]
    X_train = torch.stack([d.X_train.T for d in unique])[index].contiguous().to(device, dtype)
    y_train = torch.stack([d.y_train for d in unique])[index].to(device)  # int64 or float32
    X_test = torch.stack([d.X_test.T for d in unique])[index].contiguous().to(device, dtype)
    y_test = torch.stack([d.y_test for d in unique])[index].to(device)
    return StackedData(X_train, y_train, X_test, y_test)
