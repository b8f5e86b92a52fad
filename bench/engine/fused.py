"""The fused CPU path: `train_stacked`'s contract, computed by one compiled Numba kernel.

`train_fused` packs a StackedMLP's parameters into a (models, parameters) array, trains every
model in the kernel (`bench.engine.fused_kernels`), and copies the trained weights back into
the StackedMLP, so `train_chunk`'s measurement step follows unchanged.

Which path trains a chunk (`use_fused`), with NONLINBENCH_ENGINE unset or `auto`: the fused
one when it can (`why_not_fused`: a CPU device, a built-in activation that is a plain function,
no learnable parameters, float32 or float64, Numba importable) and where it measured faster
(`measured_win`: float32, an activation in FUSED_ACTIVATIONS, width <= FUSED_MAX_WIDTH).
NONLINBENCH_ENGINE=generic forces the autograd path; NONLINBENCH_ENGINE=fused forces the fused
one wherever it can train the chunk and makes a chunk it cannot train an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch

from bench import model as reference
from bench.engine.stacked import StackedMLP
from bench.model import eval_epochs

ENV = "NONLINBENCH_ENGINE"  # auto (default) | generic | fused
PATHS = ("auto", "generic", "fused")

try:  # Numba is a dependency, but a broken or missing install must not break the engine
    from bench.engine import fused_kernels as kernels
    from bench.engine.fused_act import ACT_CODES
except ImportError:  # pragma: no cover - exercised only without numba
    kernels, ACT_CODES = None, {}

if kernels is not None:
    # The kernel hard-codes these (as compile-time constants); they must be the reference's.
    assert (kernels.ADAM_BETA1, kernels.ADAM_BETA2) == reference.ADAM_BETAS
    assert kernels.ADAM_EPS == reference.ADAM_EPS
    assert kernels.DIVERGENCE_FACTOR == reference.DIVERGENCE_FACTOR


def requested_path(path: str | None = None) -> str:
    """The path asked for: the argument, else $NONLINBENCH_ENGINE, else auto."""
    path = (path or os.environ.get(ENV) or "auto").lower()
    if path not in PATHS:
        raise ValueError(f"unknown engine path '{path}' (from {ENV}?); allowed: {', '.join(PATHS)}")
    return path


# train_stacked's per-model options (train.OPTIONS) that the kernel implements.
FUSED_OPTIONS: frozenset[str] = frozenset()


def why_not_fused(
    net: StackedMLP, device: torch.device, options: Iterable[str] = ()
) -> str | None:
    """None when the fused path can train `net` on `device` with `options` (the names of
    train_stacked's per-model options some run sets), else the reason it cannot."""
    missing = sorted(set(options) - FUSED_OPTIONS)
    if kernels is None:
        return "numba is not importable"
    if device.type != "cpu":
        return f"device {device.type} (the fused path is CPU-only)"
    if net.activation.function is None or net.activation.name not in ACT_CODES:
        return f"activation '{net.activation.name}' is not a built-in function"
    if net.act_params:
        return "the activation has learnable parameters"
    if net.weights[0].dtype not in (torch.float32, torch.float64):
        return f"dtype {net.weights[0].dtype}"
    if net.dropout is not None:
        return "dropout is not in the fused kernel"
    if missing:
        return f"{', '.join(missing)} not in the fused kernel"
    return None


# Where the fused path measured faster than the generic one on a 2-core CPU (`nonlinbench perf`,
# reports/perf/, N = 256, seed setup). Activations whose forms need exp, erf or log through
# libm calls in the kernel (gelu, silu, mish, softplus) lost to torch's vectorised math;
# at width 256 the generic path's batched matrix products win.
FUSED_ACTIVATIONS = frozenset(
    {"none", "relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid", "sin"}
)
FUSED_MAX_WIDTH = 128


def measured_win(net: StackedMLP) -> bool:
    """Whether the fused path is the faster one for this chunk's shape (see above)."""
    width = max((w.shape[1] for w in net.weights[:-1]), default=0)
    return (
        net.weights[0].dtype == torch.float32
        and net.activation.name in FUSED_ACTIVATIONS
        and width <= FUSED_MAX_WIDTH
    )


def use_fused(
    net: StackedMLP, device: torch.device, path: str | None = None, options: Iterable[str] = ()
) -> bool:
    """Whether train_chunk trains `net` with the fused path (see the module doc)."""
    path = requested_path(path)
    if path == "generic":
        return False
    reason = why_not_fused(net, device, options)
    if path == "fused":
        if reason is not None:
            raise ValueError(f"{ENV}=fused, but the fused path cannot train this chunk: {reason}")
        return True
    return reason is None and measured_win(net)


def set_threads() -> None:
    """Numba's threads follow torch's (the runner divides the cores between jobs that way)."""
    import numba

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


# --------------------------------------------------------------------------- packing

# A tile of samples goes forward and backward with its intermediates (about 2 x depth + 3
# tensors of (width, tile)) in the core's own cache: 256 KiB leaves room for the data.
TILE_BYTES = 256 << 10


def tile_size(depth: int, width: int, n: int, itemsize: int) -> int:
    """Samples per tile: as many as TILE_BYTES allows, a multiple of 16, at least 16."""
    per_sample = (2 * depth + 3) * max(width, 1) * itemsize
    tile = max(16, TILE_BYTES // per_sample // 16 * 16)
    return min(tile, max(n, 1))


def layout(net: StackedMLP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sizes (layers + 1,), w_off and b_off (layers,): where each layer's weights (row-major
    (out, in)) and biases start in the flat parameter axis P."""
    sizes = [net.weights[0].shape[2]] + [w.shape[1] for w in net.weights]
    w_off, b_off, offset = [], [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        w_off.append(offset)
        b_off.append(offset + fan_in * fan_out)
        offset += fan_in * fan_out + fan_out
    return tuple(np.asarray(v, np.int64) for v in (sizes, w_off, b_off))


def pack_parameters(net: StackedMLP) -> np.ndarray:
    """theta: (models, P), each layer's weight (row-major) then bias, per model."""
    flat = [
        torch.cat([w.flatten(1), b.flatten(1)], 1)
        for w, b in zip(net.weights, net.biases, strict=True)
    ]
    return np.ascontiguousarray(torch.cat(flat, 1).detach().cpu().numpy())


@torch.no_grad()
def unpack_parameters(net: StackedMLP, theta: np.ndarray) -> None:
    """Copies theta: (models, P) back into net's (models, out, in) weights and biases."""
    flat = torch.from_numpy(theta)
    offset = 0
    for w, b in zip(net.weights, net.biases, strict=True):
        for p in (w, b):
            size = p[0].numel()
            p.copy_(flat[:, offset : offset + size].reshape(p.shape))
            offset += size


# --------------------------------------------------------------------------- training


def train_fused(
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
    **options: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`train.train_stacked` on the fused path: same arguments, same results (to rounding).

    X: (models, in, samples), y: (models, samples). Returns curves (evaluations, 4, models)
    float32 and diverged_epoch (models,) int64; net's weights and biases are trained in place.
    """
    if optimizer not in reference.OPTIMIZERS:
        raise ValueError(f"unknown optimizer '{optimizer}'; allowed: sgd, adam")
    reason = why_not_fused(net, X_train.device, options)
    if reason is not None:
        raise ValueError(f"the fused path cannot train this chunk: {reason}")
    set_threads()
    dtype = net.weights[0].dtype
    record_at = np.asarray(eval_epochs(epochs, eval_every), np.int64)
    sizes, w_off, b_off = layout(net)
    theta = pack_parameters(net)  # (models, P)
    models, n = X_train.shape[0], X_train.shape[2]

    def host(t: torch.Tensor, to: torch.dtype) -> np.ndarray:
        return np.ascontiguousarray(t.detach().to(to).cpu().numpy())

    curves = np.zeros((models, len(record_at), 4))
    diverged = np.zeros(models, np.int64)
    kernels.train_models(
        theta, sizes, w_off, b_off, ACT_CODES[net.activation.name],
        host(X_train, dtype), host(y_train, torch.int64), host(X_test, dtype),
        host(y_test, torch.int64), host(lr, dtype), host(seeds, torch.int64),
        optimizer == "adam", epochs, batch_size, record_at,
        tile_size(net.depth, int(sizes[1:-1].max(initial=1)), n, theta.itemsize),
        curves, diverged,
    )  # fmt: skip

    unpack_parameters(net, theta)
    curves_out = torch.from_numpy(curves).permute(1, 2, 0).float().contiguous()  # (E, 4, M)
    return curves_out, torch.from_numpy(diverged)
