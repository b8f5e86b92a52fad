"""Where and in what pieces a group trains: the device, the memory budget, groups and chunks.

A *group* is the runs that share activation, depth, width, optimizer, init, loop structure
(epochs, batch size, evaluation schedule) and data shape; within it, seeds, noise levels,
label noise, datasets of the same shape and learning rates all batch together. A group is cut
into *chunks* that fit a memory budget, and each chunk trains as one stacked program.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from bench.data.datasets import Dataset, data_key, load_data
from bench.engine.reference import LayerStack
from bench.spec import RunSpec, hidden_widths


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


FLOAT_BYTES = 4  # the benchmark trains in float32
# Floats one model keeps per unit and sample while training (pre- and post-activation for the
# backward pass, and the gradient in flight): measured 1 to 3 on the CPU paths against peak
# resident memory (tests/test_memory.py), which bench.run.memory checks a whole chunk with.
ACTIVATION_FLOATS = 3
# A chunk's activations (bytes_per_model) may use this share of free GPU memory: the rest is
# left to the parameters, the optimiser's state, the allocator's caching and the measurement
# sub-batches, which run after training. (Half of the 0.5 this was while chunks were cut from
# an estimate of 6 floats per unit and sample: the same chunks.)
GPU_MEMORY_SHARE = 0.25
# On the CPU, an eighth of the available RAM, and never more than 256 MiB of activations: a
# smaller budget also keeps the working set nearer the caches, and 256 MiB keeps 4096
# seed-sized models well under 2 GiB resident. (Half of the quarter and 512 MiB of the 6-float
# estimate: the same chunks.)
CPU_MEMORY_SHARE = 0.125
CPU_MEMORY_CAP = 256 << 20
# On a CPU, per-model speed drops once a hidden activation tensor (models, width, samples)
# outgrows the caches: for the seed's network, 4096 models in one program measured 186 ms per
# model against 68 ms at 256. Chunks are capped so that one such tensor stays near 8 MiB.
CPU_CACHE_BYTES = 8 << 20
MIN_CPU_CHUNK = 16  # below this, per-chunk overheads (Python, kernel launches) dominate


def memory_budget_bytes(device: torch.device) -> int:
    """Bytes one chunk may use for activations: a share of free GPU memory, or of RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * GPU_MEMORY_SHARE)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        available = 4 << 30
    return int(min(available * CPU_MEMORY_SHARE, CPU_MEMORY_CAP))


def bytes_per_model(spec: RunSpec, data: Dataset) -> int:
    """Bytes one model keeps while training on both data splits: ACTIVATION_FLOATS per hidden
    and output unit and sample, and its inputs. The one count of activations: chunk_size cuts
    chunks from it, and bench.run.memory adds the parameters, optimiser state and measures to it."""
    stack = LayerStack.of_widths(data.n_features, data.n_classes, hidden_widths(spec))
    samples = len(data.X_train) + len(data.X_test)
    return FLOAT_BYTES * (ACTIVATION_FLOATS * stack.units + data.n_features) * samples


def chunk_size(
    spec: RunSpec,
    data: Dataset,
    device: torch.device,
    cap: int | None = None,
    budget: int | None = None,
    threads: int = 1,
) -> int:
    """Models per chunk: as many as the memory budget allows (and the caches, on a CPU).

    budget: another machine's memory_budget_bytes (a Dask worker's, bench.run.backends), else this
    one's; threads: the cores that train the chunk there, each with its own caches, so a CPU
    chunk may hold that many times CPU_CACHE_BYTES (1: this process's default)."""
    budget = memory_budget_bytes(device) if budget is None else budget
    size = max(1, budget // max(bytes_per_model(spec, data), 1))
    if device.type == "cpu":
        per_model = 4 * max(spec.width if spec.depth else 1, 1) * len(data.X_train)
        size = min(size, max(MIN_CPU_CHUNK, CPU_CACHE_BYTES * max(threads, 1) // per_model))
    return min(size, cap) if cap else size


def group_key(spec: RunSpec, data: Dataset) -> tuple:
    """Runs with equal keys can share one stacked program."""
    return (
        spec.activation,
        spec.depth,
        spec.width,
        spec.optimizer,
        spec.init,
        spec.epochs,
        spec.batch_size,
        spec.eval_every,
        spec.dropout > 0,  # dropout changes how train metrics are recorded (train_stacked)
        data.n_features,
        data.n_classes,
        len(data.X_train),
        len(data.X_test),
    )


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
