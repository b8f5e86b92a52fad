"""The one-model reference: an MLP and a plain training loop, one model at a time.

This file is the readable definition of what nonlinbench computes. The batched engine
(`bench.engine`) trains thousands of these at once and is tested against this loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from bench.activations.plugins import get_activation
from bench.activations.registry import Activation
from bench.spec import INIT_SCHEMES, OPTIMIZERS
from bench.stats import r_squared

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
# A run diverges when its training loss stops being finite or exceeds DIVERGENCE_FACTOR times
# its first training loss (at initialisation): with lr 1e6, losses reach 1e18 and stay finite.
# A network that learns ends far below its initial loss, so 100x is reached only by runs that
# blow up; such a run is frozen where it stands and flagged, in the engine as here.
DIVERGENCE_FACTOR = 100.0


def has_diverged(loss: torch.Tensor, initial_loss: torch.Tensor) -> torch.Tensor:
    """Elementwise: the loss is not finite, or beyond DIVERGENCE_FACTOR x the initial loss."""
    return ~torch.isfinite(loss) | (loss > DIVERGENCE_FACTOR * initial_loss)


def layer_sizes(in_features: int, out_features: int, depth: int, width: int) -> list[int]:
    """[in, width, ..., width, out] with `depth` hidden layers."""
    return [in_features, *([width] * depth), out_features]


def output_size(n_classes: int) -> int:
    """One logit for two classes (BCE-with-logits), one per class otherwise (cross-entropy),
    one output for regression (n_classes 0; squared error)."""
    return 1 if n_classes in (0, 2) else n_classes


@dataclass(frozen=True)
class LayerStack:
    """The shape of one network: the arithmetic that parameter counts, memory estimates, the
    cost model and FLOP counts all need."""

    sizes: tuple[int, ...]  # (in, width, ..., width, out)

    @classmethod
    def of(cls, n_features: int, n_classes: int, depth: int, width: int) -> LayerStack:
        return cls(tuple(layer_sizes(n_features, output_size(n_classes), depth, width)))

    @classmethod
    def of_widths(cls, n_features: int, n_classes: int, widths: list[int]) -> LayerStack:
        """Hidden layers of the given widths (a per-layer stack, bench.grid.layers)."""
        return cls((n_features, *widths, output_size(n_classes)))

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds of one forward pass per sample: the weights' count."""
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    @property
    def units(self) -> int:
        """Hidden and output units: one bias each."""
        return sum(self.sizes[1:])

    @property
    def linear_parameters(self) -> int:
        """Weights and biases."""
        return self.multiply_adds + self.units


def init_parameters(
    sizes: list[int], init: str, glorot_factor: float, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Initial (weight (out, in), bias (out,)) per layer, drawn from a generator seeded by `seed`.

    Draws happen layer by layer, weight then bias, on the CPU, so a run's initial weights
    depend only on its seed and architecture: never on which batch or device it lands on.
    - pytorch: nn.Linear's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
    - glorot: scikit-learn's MLP, U(-b, b) with b = sqrt(factor / (fan_in + fan_out)), factor 6
      (2 for the logistic activation), for weights and biases.
    - kaiming: He normal weights N(0, 2 / fan_in), zero biases.
    """
    generator = torch.Generator().manual_seed(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        if init == "pytorch":
            w_bound = b_bound = 1.0 / math.sqrt(fan_in)
        elif init == "glorot":
            w_bound = b_bound = math.sqrt(glorot_factor / (fan_in + fan_out))
        elif init == "kaiming":
            weight = torch.randn(fan_out, fan_in, generator=generator) * math.sqrt(2.0 / fan_in)
            params.append((weight, torch.zeros(fan_out)))
            continue
        else:
            raise ValueError(f"unknown init '{init}'; allowed: {', '.join(INIT_SCHEMES)}")
        weight = (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * w_bound
        bias = (torch.rand(fan_out, generator=generator) * 2 - 1) * b_bound
        params.append((weight, bias))
    return params


def make_activation_modules(activation: Activation, depth: int, seed: int) -> list[nn.Module]:
    """One activation module per hidden layer (a stack's own per layer); any random init inside
    them is seeded by `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [activation.at(layer).make() for layer in range(depth)]


class MLP(nn.Module):
    """in -> [Linear -> activation (-> dropout while training)] x depth -> Linear -> out.

    depth 0 is logistic regression. Dropout is not a module here: its masks come from
    `dropout_scale` with the training loop's (seed, epoch, step), see `forward`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        depth: int,
        width: int,
        activation: str | Activation = "relu",
        init: str = "pytorch",
        seed: int = 0,
        dropout: float = 0.0,
        widths: list[int] | None = None,
    ):
        """widths: each hidden layer's (a per-layer stack, bench.grid.layers), else depth x width."""
        super().__init__()
        self.activation = get_activation(activation)
        self.depth = depth
        self.dropout = dropout
        sizes = [in_features, *widths, out_features] if widths else None
        sizes = sizes or layer_sizes(in_features, out_features, depth, width)
        acts = make_activation_modules(self.activation, depth, seed)
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < depth:
                layers.append(acts[i])
        self.net = nn.Sequential(*layers)
        self.reset_parameters(init, seed)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def reset_parameters(self, init: str, seed: int) -> None:
        sizes = [self.linears[0].in_features] + [lin.out_features for lin in self.linears]
        params = init_parameters(sizes, init, self.activation.glorot_factor, seed)
        with torch.no_grad():
            for linear, (weight, bias) in zip(self.linears, params, strict=True):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)

    def forward(self, x: torch.Tensor, draw: tuple[int, int, int] | None = None) -> torch.Tensor:
        """x (samples, in) -> (samples, out). draw = (seed, epoch, step) applies dropout with
        that step's masks (training); without it the network runs whole (evaluation)."""
        if draw is None or not self.dropout:
            return self.net(x)
        seed, epoch, step = draw
        h = x
        for layer in range(self.depth):
            h = self.net[2 * layer + 1](self.net[2 * layer](h))  # (samples, width)
            p = torch.tensor([self.dropout], dtype=h.dtype)
            scale = dropout_scale(torch.tensor([seed]), p, epoch, step, layer, *h.shape[::-1])
            h = h * scale[0].T
        return self.net[-1](h)


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits for one output, cross-entropy for several; mean squared error for
    regression (float targets). logits (n, out), y (n,)."""
    if y.is_floating_point():
        return F.mse_loss(logits.squeeze(-1), y.to(logits.dtype))
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), y.to(logits.dtype))
    return F.cross_entropy(logits, y)


def predict(logits: torch.Tensor) -> torch.Tensor:
    """Class labels from logits (..., out)."""
    if logits.shape[-1] == 1:
        return (logits.squeeze(-1) > 0).long()
    return logits.argmax(-1)


def _mix(x: torch.Tensor) -> torch.Tensor:
    """Three rounds of xorshift-multiply (splitmix-style) mixing on wrapping int64 -> 48 bits."""
    for mult in (0x7FEB352D, 0x846CA68B, 0x2C1B3C6D):
        x = (x ^ (x >> 16)) * mult
        x = x & 0xFFFFFFFFFFFF  # keep 48 bits so products stay far from int64 overflow
    return x


def shuffle_order(seeds: torch.Tensor, epoch: int, n: int) -> torch.Tensor:
    """Per-model mini-batch order for one epoch: (models, n) permutations of range(n).

    A counter-based hash of (seed, epoch, index) sorted per row, so each model shuffles with
    its own stream and a run's order never depends on which other runs share its batch.
    seeds: (models,) int64.
    """
    index = torch.arange(n, dtype=torch.int64, device=seeds.device)
    x = seeds[:, None] * 0x9E3779B1 + (epoch + 1) * 0x85EBCA77 + index[None, :] * 0xC2B2AE3D
    return torch.argsort(_mix(x), dim=1, stable=True)


def dropout_scale(
    seeds: torch.Tensor, p: torch.Tensor, epoch: int, step: int, layer: int, units: int, n: int
) -> torch.Tensor:
    """Inverted-dropout multipliers for one hidden layer: (models, units, n), each entry
    0 (dropped, with probability p) or 1 / (1 - p) (kept), so a unit's expected output is
    unchanged and evaluation uses the network without dropout.

    Each model draws from its own counter-based stream, a hash of (seed, epoch, step within
    the epoch, hidden layer, unit, position in the batch): the masks depend only on the run,
    never on which other runs share its chunk, and the reference loop draws the same ones.
    seeds: (models,) int64; p: (models,) dropout probabilities.
    """
    device = seeds.device
    unit = torch.arange(units, dtype=torch.int64, device=device)[None, :, None]
    sample = torch.arange(n, dtype=torch.int64, device=device)[None, None, :]
    x = (
        seeds[:, None, None] * 0x9E3779B1
        + (epoch * 0x27D4EB2F + step * 0x165667B1 + layer * 0x1B873593 + 0x5BD1E995)
        + unit * 0xD3A2646C
        + sample * 0xFD7046C5
    )
    u = _mix(x).to(torch.float64) * 2.0**-48  # uniform on [0, 1), exactly representable
    p = p.view(-1, 1, 1)
    keep = u >= p.to(torch.float64)
    return keep.to(p.dtype) / (1 - p)


def weight_penalty(
    weights: list[torch.Tensor], weight_decay: torch.Tensor, l1: torch.Tensor
) -> torch.Tensor:
    """weight_decay / 2 * sum(W^2) + l1 * sum(|W|) over every layer's weights (biases and
    activation parameters are not penalised, as in scikit-learn). For one model W is
    (out, in) and the coefficients are scalars; for stacked models W is (models, out, in),
    the coefficients (models,), and the result (models,)."""
    total = torch.zeros_like(weight_decay)
    for w in weights:
        dims = tuple(range(w.dim() - 2, w.dim()))  # the (out, in) axes
        total = total + weight_decay / 2 * w.pow(2).sum(dims) + l1 * w.abs().sum(dims)
    return total


def batches(n: int, batch_size: int) -> list[slice]:
    """Slices of one epoch; full batch when batch_size is 0 or covers every sample."""
    if batch_size <= 0 or batch_size >= n:
        return [slice(0, n)]
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


@dataclass
class History:
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)  # accuracy, or R^2 for regression
    test_acc: list[float] = field(default_factory=list)
    diverged_epoch: int | None = None  # first epoch whose training loss diverged (has_diverged)


def eval_epochs(epochs: int, eval_every: int) -> list[int]:
    """Epochs at which curves are recorded: 0 (initialisation), every eval_every, and the last."""
    points = list(range(0, epochs + 1, max(eval_every, 1)))
    return points if points[-1] == epochs else [*points, epochs]


def score(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Accuracy for classification, R^2 for regression (float targets). logits (n, out)."""
    if y.is_floating_point():
        return r_squared(logits.squeeze(-1), y.to(logits.dtype))
    return (predict(logits) == y).float().mean()


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean loss, score): see `loss_fn` and `score`."""
    logits = model(X)
    return loss_fn(logits, y).item(), score(logits, y).item()


def train_reference(
    model: MLP,
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    optimizer: str = "sgd",
    lr: float = 0.1,
    epochs: int = 1000,
    batch_size: int = 0,
    eval_every: int = 10,
    seed: int = 0,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    l1: float = 0.0,
) -> History:
    """Trains one model in place, the plain way; returns its learning curves.

    The recorded losses are the data loss; the weight penalties (`weight_penalty`) enter only
    the gradient. Dropout is the model's own (`MLP(dropout=...)`).
    """
    if momentum and optimizer != "sgd":
        raise ValueError("momentum is SGD's; Adam has its own (beta1)")
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS)
    else:
        raise ValueError(f"unknown optimizer '{optimizer}'; allowed: {', '.join(OPTIMIZERS)}")
    history = History()
    record_at = set(eval_epochs(epochs, eval_every))
    seeds = torch.tensor([seed])

    def record(epoch: int) -> None:
        model.eval()
        for split, (X, y) in {"train": (X_train, y_train), "test": (X_test, y_test)}.items():
            loss, acc = evaluate(model, X, y)
            getattr(history, f"{split}_loss").append(loss)
            getattr(history, f"{split}_acc").append(acc)
        history.epoch.append(epoch)

    record(0)
    initial_loss = None
    for epoch in range(1, epochs + 1):
        model.train()
        # 1. Order the samples: as stored for full batch, shuffled per epoch for mini-batches.
        slices = batches(len(X_train), batch_size)
        order = shuffle_order(seeds, epoch, len(X_train))[0] if len(slices) > 1 else None
        for step, batch in enumerate(slices):
            idx = order[batch] if order is not None else batch
            # 2. Forward (with this step's dropout masks), loss, backward, step.
            loss = loss_fn(model(X_train[idx], draw=(seed, epoch, step)), y_train[idx])
            initial_loss = loss.detach() if initial_loss is None else initial_loss
            if has_diverged(loss.detach(), initial_loss):
                # 3. A diverged model is frozen where it stands and flagged.
                history.diverged_epoch = epoch
                break
            opt.zero_grad()
            if weight_decay or l1:
                weights = [lin.weight for lin in model.linears]
                dtype = weights[0].dtype
                coefficients = (torch.tensor(c, dtype=dtype) for c in (weight_decay, l1))
                loss = loss + weight_penalty(weights, *coefficients)
            loss.backward()
            opt.step()
        if history.diverged_epoch is not None:
            break
        if epoch in record_at:
            record(epoch)
    return history
