"""The fused CPU path: `train_stacked`'s contract, computed by one compiled Numba kernel.

`train_fused` packs a StackedMLP's parameters into a (models, parameters) array, trains every
model in the kernel (`bench.engine.fused_kernels`), and copies the trained weights back into
the StackedMLP, so `train_chunk`'s measurement step follows unchanged.

The kernel covers every axis of train_stacked: SGD (with momentum) and Adam, BCE, cross-entropy
and squared error (regression), weight decay and L1, dropout (the reference's counter-hash
masks), mini-batches, per-layer stacks of built-ins, and every parameter-free built-in
activation (float32 forms of exp/erf-based ones vectorised in fused_math, with their measured
error stated there).

Which path trains a chunk (`use_fused`), with NONLINBENCH_ENGINE unset or `auto`: the fused
one when it can (`why_not_fused`: a CPU device, built-in activations that are plain functions,
no learnable parameters, float32 or float64, options in FUSED_OPTIONS, Numba importable) and
where it measured faster (`measured_win`: float32, every layer's activation in
FUSED_ACTIVATIONS, width <= FUSED_MAX_WIDTH). NONLINBENCH_ENGINE=generic forces the autograd
path; NONLINBENCH_ENGINE=fused forces the fused one wherever it can train the chunk and makes a
chunk it cannot train an error. `train.training_path` gives the path with its reason.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from bench.engine import reference
from bench.engine.options import TrainOptions
from bench.engine.reference import eval_epochs
from bench.engine.stacked import StackedData, StackedMLP
from bench.spec import OPTIMIZERS

ENV = "NONLINBENCH_ENGINE"  # auto (default) | generic | fused
PATHS = ("auto", "generic", "fused")

try:  # Numba is a dependency, but a broken or missing install must not break the engine
    from bench.engine import fused_kernels as kernels
    from bench.engine import fused_options
    from bench.engine.fused_act import ACT_CODES
except ImportError:  # pragma: no cover - exercised only without numba
    kernels, fused_options, ACT_CODES = None, None, {}

if kernels is not None:
    # The kernel hard-codes these (as compile-time constants); they must be the reference's.
    assert (kernels.ADAM_BETA1, kernels.ADAM_BETA2) == reference.ADAM_BETAS
    assert kernels.ADAM_EPS == reference.ADAM_EPS
    assert kernels.DIVERGENCE_FACTOR == reference.DIVERGENCE_FACTOR

# Modules compiled into fused_kernels' kernels.
EMBEDDED = ("fused_act", "fused_linear", "fused_math", "fused_options", "fused_zoo")
# Modules whose cached functions call another module's (numba links the callee in).
CALLERS = ("fused_kernels", "fused_act", "fused_linear", "fused_zoo")


def drop_stale_kernels() -> None:
    """Numba's cache checks only each cached function's own source file, but fused_kernels'
    kernels embed the EMBEDDED modules: when those change, the cached kernels of the modules
    that call into others (CALLERS) are deleted (a stamp of the modules' contents sits beside
    the cache)."""
    folder = Path(kernels.__file__).parent
    sources = b"".join((folder / f"{name}.py").read_bytes() for name in EMBEDDED)
    digest = hashlib.sha256(sources).hexdigest()
    cache = Path(getattr(kernels.train_models._cache, "_cache_path", folder / "__pycache__"))
    stamp = cache / "fused_embedded.sha256"
    try:
        if stamp.is_file() and stamp.read_text() == digest:
            return
        for path in [p for name in CALLERS for p in cache.glob(f"{name}.*.nb[ic]")]:
            path.unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba caches elsewhere, or not at all
        pass


if kernels is not None:
    drop_stale_kernels()


def requested_path(path: str | None = None) -> str:
    """The path asked for: the argument, else $NONLINBENCH_ENGINE, else auto."""
    path = (path or os.environ.get(ENV) or "auto").lower()
    if path not in PATHS:
        raise ValueError(f"unknown engine path '{path}' (from {ENV}?); allowed: {', '.join(PATHS)}")
    return path


# train_stacked's per-model options (train.OPTIONS) that the kernel implements, and "mse", the
# squared-error loss of regression chunks (train_chunk asks for it); dropout is the network's.
FUSED_OPTIONS: frozenset[str] = frozenset({"momentum", "weight_decay", "l1", "mse"})


def hidden_activations(net: StackedMLP) -> list:
    """Each hidden layer's activation record (a per-layer stack's own per layer)."""
    return [net.activation.at(layer) for layer in range(net.depth)]


def activation_codes(net: StackedMLP) -> np.ndarray:
    """(hidden layers,) int64: each hidden layer's fused_act code."""
    return np.asarray([ACT_CODES[a.name] for a in hidden_activations(net)], np.int64)


def why_not_fused(net: StackedMLP, device: torch.device, options: Iterable[str] = ()) -> str | None:
    """None when the fused path can train `net` on `device` with `options` (the names of
    train_stacked's per-model options some run sets, and "mse" for regression), else the
    reason it cannot."""
    missing = sorted(set(options) - FUSED_OPTIONS)
    if kernels is None:
        return "numba is not importable"
    if device.type != "cpu":
        return f"device {device.type} (the fused path is CPU-only)"
    for act in hidden_activations(net) or [net.activation]:
        if act.learnable:
            return f"activation '{act.name}' has learnable parameters"
        if act.function is None or act.name not in ACT_CODES:
            return f"activation '{act.name}' is not a built-in function"
    if any(net.act_params):  # (a stack of parameter-free layers holds empty dicts)
        return "the activation has learnable parameters"
    if net.weights[0].dtype not in (torch.float32, torch.float64):
        return f"dtype {net.weights[0].dtype}"
    if missing:
        return f"{', '.join(missing)} not in the fused kernel"
    return None


# Where the fused path measured faster than the generic one on a 2-core CPU (N = 256 models:
# the seed setup with Adam, and the default grid's widths 4/8/32 by depths 1-4). In float32 the
# activations built on exp or erf run fused_math's vectorised loops (seed setup: elu 2.0x,
# gelu 1.6x, silu 2.0x, tanh 2.9x, sigmoid 2.5x faster than generic; gelu and silu 1.2-2.8x on
# the grid's shapes). The zoo (fused_zoo) and mish and softplus measured 7-47x faster (N = 64,
# seed setup with Adam, on a heavily loaded host, where torch's eager kernels suffer most).
# sin and snake call libm per element: sin measured 0.8x on a quiet host (3x under load), so
# both keep the generic path. At width 256 the generic path's batched matrix products win.
FUSED_ACTIVATIONS = frozenset(
    {"none", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "sigmoid",
     "softplus", "celu", "hardswish", "hardsigmoid", "hardtanh", "relu6", "softsign",
     "squared_relu", "abs", "gaussian", "erf", "logsigmoid"}
)  # fmt: skip
FUSED_MAX_WIDTH = 128


def measured_win(net: StackedMLP) -> bool:
    """Whether the fused path is the faster one for this chunk's shape (see above)."""
    width = max((w.shape[1] for w in net.weights[:-1]), default=0)
    return (
        net.weights[0].dtype == torch.float32
        and all(a.name in FUSED_ACTIVATIONS for a in hidden_activations(net))
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
# tensors of (width, tile)). Every loop over a tile's samples pays a fixed cost (LLVM's runtime
# overlap checks, the vector remainder), so bigger tiles won: 1 MiB measured 1.2-1.4x faster
# than 256 KiB at width 32 (silu and relu, depth 4; 2-core CPU), and 2-5x faster than 64 KiB;
# every shape of the default grid (480 training samples) then trains in one tile per epoch.
TILE_BYTES = 1 << 20


def tile_size(depth: int, width: int, n: int, itemsize: int, dropout: bool = False) -> int:
    """Samples per tile: as many as TILE_BYTES allows, a multiple of 16, at least 16 (dropout
    keeps two more tensors per hidden layer)."""
    per_sample = ((4 if dropout else 2) * depth + 3) * max(width, 1) * itemsize
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


@torch.no_grad()
def per_model_options(
    net: StackedMLP, options: dict[str, torch.Tensor], models: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's hyper (models, HYPER) in net's dtype, fused_options' columns (absent
    options: 0), and drop_at (models,) int64. Dropout with probability p keeps a unit when its
    48-bit hash u48 has u48 * 2^-48 >= p (bench.engine.reference.dropout_scale), that is when u48 >= drop_at
    = ceil(p * 2^48) (exact in float64; 0 without dropout), and scales it by 1 / (1 - p),
    computed in net's dtype as dropout_scale does."""
    dtype = net.weights[0].dtype
    hyper = torch.zeros(models, fused_options.HYPER, dtype=dtype)
    columns = {"momentum": fused_options.MOMENTUM, "weight_decay": fused_options.WEIGHT_DECAY,
               "l1": fused_options.L1}  # fmt: skip
    for name, value in options.items():
        if value is not None:
            hyper[:, columns[name]] = value.detach().to("cpu", dtype)
    p = torch.zeros(models, dtype=dtype) if net.dropout is None else net.dropout.cpu().to(dtype)
    hyper[:, fused_options.KEEP_SCALE] = torch.ones_like(p) / (1 - p)
    drop_at = torch.ceil(p.double() * 2.0**48).long()
    return hyper, drop_at


# --------------------------------------------------------------------------- training


def train_fused(
    net: StackedMLP,
    data: StackedData,
    options: TrainOptions,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`eager.train_stacked` on the fused path: same arguments, same results (to rounding).

    X: (models, in, samples), y: (models, samples). Returns curves (evaluations, 4, models)
    float32 and diverged_epoch (models,) int64; net's weights and biases are trained in place.
    """
    X_train, y_train, X_test, y_test = data
    optimizer, lr, seeds, epochs = options.optimizer, options.lr, options.seeds, options.epochs
    batch_size, eval_every = options.batch_size, options.eval_every
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer '{optimizer}'; allowed: sgd, adam")
    per_model = options.per_model()
    reason = why_not_fused(net, X_train.device, per_model)
    if reason is not None:
        raise ValueError(f"the fused path cannot train this chunk: {reason}")
    dtype = net.weights[0].dtype
    record_at = np.asarray(eval_epochs(epochs, eval_every), np.int64)
    sizes, w_off, b_off = layout(net)
    theta = pack_parameters(net)  # (models, P)
    models, n = X_train.shape[0], X_train.shape[2]

    def host(t: torch.Tensor, to: torch.dtype) -> np.ndarray:
        return np.ascontiguousarray(t.detach().to(to).cpu().numpy())

    hyper, drop_at = per_model_options(net, per_model, models)
    curves = np.zeros((models, len(record_at), 4))
    diverged = np.zeros(models, np.int64)
    regression = (
        y_train.is_floating_point()
    )  # squared error and R^2 (bench.engine.reference.loss_fn)
    set_threads()
    tile = tile_size(net.depth, int(sizes[1:-1].max(initial=1)), n, theta.itemsize,
                     net.dropout is not None)  # fmt: skip
    kernels.train_models(
        theta, host(X_train, dtype), host(y_train, dtype), host(X_test, dtype),
        host(y_test, dtype), host(lr, dtype), host(hyper, dtype), host(drop_at, torch.int64),
        host(seeds, torch.int64), curves, diverged,
        sizes, w_off, b_off, activation_codes(net), optimizer == "adam",
        net.dropout is not None, regression, epochs, batch_size, record_at, tile,
    )  # fmt: skip

    unpack_parameters(net, theta)
    curves_out = torch.from_numpy(curves).permute(1, 2, 0).float().contiguous()  # (E, 4, M)
    return curves_out, torch.from_numpy(diverged)
