"""The batched engine: trains a group of same-shape MLPs as one stacked tensor program.

    placement   the device, the memory budget, groups and chunks
    stacked     the stacked network (models on a leading axis), its losses, stacked data
    options     TrainOptions: how a chunk is trained, the record every training path takes
    optim       SGD and Adam with a learning rate per model
    train       the training loop and `train_chunk`, which returns arrays
    fused       the fused CPU path: the same training in one compiled Numba kernel
                (fused_kernels; fused_linear: the layers' products; fused_act, fused_math,
                fused_zoo: activations and loss; fused_options: optimizer, penalties, dropout
                and shuffle hashes), picked by `train_chunk` where it applies and measured
                faster; NONLINBENCH_ENGINE=generic|fused forces a path; fused_profile times
                its phases (perf.md)
    graphs      the CUDA path: one epoch captured as a CUDA graph and replayed
    measure     dead units, gradients at init, grid measures and decision surfaces

`bench.engine.reference.train_reference` is the one-model definition the engine must match; the runner
turns what `train_chunk` returns into tables.
"""

from bench.engine.measure import MEASURE_RESOLUTION, data_plane
from bench.engine.optim import StackedOptimizer
from bench.engine.options import TrainOptions
from bench.engine.placement import (
    bytes_per_model,
    chunk_indices,
    chunk_size,
    device_label,
    group_key,
    memory_budget_bytes,
    resolve_device,
)
from bench.engine.stacked import StackedMLP, build_stacked, stack_data
from bench.engine.train import (
    ChunkArrays,
    Surface,
    count_parameters,
    train_chunk,
    train_stacked,
)

# 2: the fused kernel on every axis, with float32 vectorised exp/erf forms (results within
# float32 rounding of version 1's; `plan`'s cached prices, keyed on it, are measured again).
ENGINE_VERSION = "2"

__all__ = [
    "ENGINE_VERSION",
    "MEASURE_RESOLUTION",
    "ChunkArrays",
    "StackedMLP",
    "StackedOptimizer",
    "Surface",
    "TrainOptions",
    "build_stacked",
    "bytes_per_model",
    "chunk_indices",
    "chunk_size",
    "count_parameters",
    "data_plane",
    "device_label",
    "group_key",
    "memory_budget_bytes",
    "resolve_device",
    "stack_data",
    "train_chunk",
    "train_stacked",
]
