"""What a plan needs in memory, what this machine has, and how many workers fit.

    plan (tasks) -> peak bytes per chunk -> workers that fit -> run adapts or refuses

The engine cuts a group into chunks from a budget for activations (engine.bytes_per_model,
which this module counts too, so the two agree); this module adds what that budget leaves
out, the parameters and everything that scales with them, so a single model too large for
the machine, or for every Dask worker's memory limit, is found before anything trains. The
model is checked against measured peaks in tests/test_memory.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

import torch

from bench import engine
from bench.data.datasets import Dataset, data_key, load_data
from bench.engine.measure import measure_peak_bytes
from bench.engine.placement import FLOAT_BYTES  # the benchmark trains in float32
from bench.engine.reference import LayerStack
from bench.errors import UserError
from bench.spec import RunSpec, hidden_widths

# Copies of the parameters alive at a chunk's peak, besides the optimiser's state: the
# parameters, their gradients, and the host copy state_dicts makes for the weights table
# while both are still alive (measured in tests/test_memory.py).
PARAMETER_COPIES = 3
# Adam's step makes one temporary the size of the parameters (the denominator) besides its
# two moments.
ADAM_TEMPORARIES = 1
# A worker process besides its chunk: Python, torch, numba, the bench modules and the fused
# kernels it compiles (peak resident, Linux, torch 2.13: 580 MiB after the imports, 890 MiB
# after the chunks of six activations of the quick grid).
WORKER_BASE_BYTES = 900 << 20
# The main process holds a finished chunk's weights while it writes the shard: the unpickled
# table and pyarrow's copy.
STORE_COPIES = 2
# Of the available memory, what a plan may count on: the rest covers the model's error
# (measured peaks were up to 1.3x the predicted ones, tests/test_memory.py) and other
# processes, whose use changes while the grid trains.
USABLE_SHARE = 0.8


@dataclass(frozen=True)
class ChunkMemory:
    """The peak bytes of one chunk while it trains, by part."""

    models: int
    params: int  # parameters of one model
    parameters: int  # bytes: parameters, gradients and the weights' host copy
    optimizer: int  # bytes: SGD's momentum, or Adam's two moments and its step's temporary
    activations: int  # bytes: what training keeps per unit and sample, both data splits
    measures: int  # bytes: one sub-batch of the grid measures, after training (its point batch
    # and its points' activation patterns: engine.measure.measure_peak_bytes)
    setting: str  # depth x width, samples, optimizer: what to change

    @property
    def peak(self) -> int:
        """Parameters and optimiser state live throughout; activations while training, the
        measures' sub-batch after it, never both."""
        return self.parameters + self.optimizer + max(self.activations, self.measures)

    @property
    def stored(self) -> int:
        """Bytes the main process holds to store this chunk's weights."""
        return STORE_COPIES * FLOAT_BYTES * self.params * self.models


def optimizer_states(specs: list[RunSpec]) -> int:
    """Tensors per parameter: Adam's two moments and step temporary, SGD's momentum, or none."""
    if specs[0].optimizer == "adam":
        return 2 + ADAM_TEMPORARIES
    return 1 if any(s.momentum for s in specs) else 0


def chunk_memory(specs: list[RunSpec], data: Dataset) -> ChunkMemory:
    """The peak bytes of training `specs` (one group) as one chunk on `data`'s shape."""
    spec = specs[0]
    models = len(specs)
    widths = hidden_widths(spec)
    params = LayerStack.of_widths(data.n_features, data.n_classes, widths).linear_parameters
    per_copy = FLOAT_BYTES * params * models
    samples = len(data.X_train) + len(data.X_test)
    width = max(widths, default=0)
    layers = f"{len(widths)} x {width}" if len(set(widths)) <= 1 else "+".join(map(str, widths))
    return ChunkMemory(
        models=models,
        params=params,
        parameters=PARAMETER_COPIES * per_copy,
        optimizer=optimizer_states(specs) * per_copy,
        activations=engine.bytes_per_model(spec, data) * models,
        measures=measure_peak_bytes(models, spec.depth, spec.width),
        setting=f"depth x width {layers}, {samples} samples, {spec.optimizer}",
    )


def available_bytes(device: torch.device) -> tuple[int, str]:
    """Memory this machine offers now, and where the number comes from: free GPU memory
    (torch.cuda.mem_get_info) or available RAM (psutil)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"free on {engine.device_label(device)}"
    try:
        import psutil

        return int(psutil.virtual_memory().available), "RAM available"
    except ImportError:  # pragma: no cover - psutil is a dependency
        pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return int(pages), "RAM free"


def gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


@dataclass(frozen=True)
class MemoryFit:
    """The largest chunk and one model of its group, against what the machine offers."""

    largest: ChunkMemory  # the chunk with the highest peak
    one_model: ChunkMemory  # one model of the group that needs most per model
    available: int
    source: str  # "RAM available", "free on cuda:..."
    jobs: int  # the workers asked for
    workers: int  # workers that fit with the plan's chunks (0: not even one)
    max_chunk: int | None  # models per chunk that make one worker fit; None: the plan's chunks
    device: str

    def need(self, jobs: int, chunk: ChunkMemory | None = None) -> int:
        return need_bytes(chunk or self.largest, jobs)

    @property
    def fits(self) -> bool:
        return self.workers >= 1 or self.max_chunk is not None

    def lines(self) -> list[str]:
        """For `plan`: the peaks, the machine's memory, and the workers that fit."""
        c, m = self.largest, self.one_model
        out = [
            f"memory    largest chunk {gib(c.peak)} ({c.models} model(s), {c.setting}); one model "
            f"{gib(m.peak)} (parameters {gib(m.parameters)}, optimiser {gib(m.optimizer)}, "
            f"activations {gib(m.activations)}, measures {gib(m.measures)})",
        ]
        if self.workers >= self.jobs:
            verdict = f"{self.jobs} job(s) fit"
        elif self.workers >= 1:
            verdict = f"{self.workers} of {self.jobs} jobs fit: `run` will use {self.workers}"
        elif self.max_chunk is not None:
            verdict = (
                f"1 job fits with at most {self.max_chunk} models per chunk: `run` will use that"
            )
        else:
            verdict = f"nothing fits: {self.refusal()}"
        out.append(f"          {self.device} {self.source}: {gib(self.available)}; {verdict}")
        return out

    def refusal(self) -> str:
        m = self.one_model
        return (
            f"one model of {m.setting} ({m.params:,} parameters) needs {gib(need_bytes(m, 1))} "
            f"to train and store, and the {self.device} has {gib(self.available)} "
            f"{self.source.split(' on ')[0]}: "
            "make width, depth or n_samples smaller"
            + (", or use a GPU (--device cuda)" if self.device == "cpu" else "")
        )


def need_bytes(chunk: ChunkMemory, jobs: int) -> int:
    """What `jobs` workers each training such a chunk need, with storing one chunk's weights.

    jobs 1 trains in this process (already counted as used); more start worker processes."""
    base = WORKER_BASE_BYTES if jobs > 1 else 0
    return jobs * (base + chunk.peak) + chunk.stored


def _data(task, datasets: dict) -> Dataset:
    key = data_key(task.specs[0])
    if key in task.datasets:
        return task.datasets[key]
    if key not in datasets:
        datasets[key] = load_data(task.specs[0])
    return datasets[key]


def check_plan(plan, device: torch.device, jobs: int, available: int | None = None) -> MemoryFit:
    """How many of `jobs` workers fit this plan's largest chunk in this machine's memory, or
    else how many models per chunk make one worker fit (None when one model does not)."""
    datasets = dict(plan.datasets)
    chunks = [(task, _data(task, datasets)) for task in plan.tasks]
    if not chunks:
        raise ValueError("check_plan needs a plan with tasks")
    sized = [chunk_memory(task.specs, data) for task, data in chunks]
    singles = [chunk_memory(task.specs[:1], data) for task, data in chunks]
    largest = max(sized, key=lambda c: c.peak)
    one_model = max(singles, key=lambda c: c.peak)
    source = ""
    if available is None:
        available, source = available_bytes(device)
    usable = int(available * USABLE_SHARE)
    workers = next((n for n in range(jobs, 0, -1) if need_bytes(largest, n) <= usable), 0)
    max_chunk = None
    if workers == 0 and need_bytes(one_model, 1) <= usable:
        # the most models per chunk that fit one worker, for every task (a peak grows with
        # the models in a chunk, though not in proportion: the measures' sub-batch is capped)
        max_chunk = min(
            _most_models(len(task), partial(_fits_here, task.specs, data, usable))
            for (task, data), chunk in zip(chunks, sized, strict=True)
            if need_bytes(chunk, 1) > usable
        )
    return MemoryFit(
        largest=largest,
        one_model=one_model,
        available=available,
        source=source or "memory given",
        jobs=jobs,
        workers=workers,
        max_chunk=max_chunk,
        device=device.type,
    )


def _fits_here(specs: list[RunSpec], data: Dataset, usable: int, models: int) -> bool:
    """Whether one worker of this machine trains the first `models` of `specs` as one chunk
    within `usable` bytes."""
    return need_bytes(chunk_memory(specs[:models], data), 1) <= usable


def _most_models(count: int, fits) -> int:
    """The most models n <= count with fits(n), given fits(1) (a peak grows with n)."""
    low, high = 1, count + 1  # fits(low), and not fits(high) (no more than count)
    while high - low > 1:
        mid = (low + high) // 2
        if fits(mid):
            low = mid
        else:
            high = mid
    return low


def worker_need(chunk: ChunkMemory) -> int:
    """What a Dask worker needs to train `chunk`: its process (WORKER_BASE_BYTES) and the
    chunk's peak. The client, not the worker, stores the weights."""
    return WORKER_BASE_BYTES + chunk.peak


def models_within(specs: list[RunSpec], data: Dataset, limit: int) -> int:
    """The most of `specs`, from the first, that a Dask worker whose memory limit is `limit`
    bytes can train as one chunk, counting on USABLE_SHARE of it; 0 when not even one."""
    usable = int(limit * USABLE_SHARE)

    def fits(n: int) -> bool:
        return worker_need(chunk_memory(specs[:n], data)) <= usable

    return _most_models(len(specs), fits) if specs and fits(1) else 0


def refuse_on_workers(one_model: ChunkMemory, limits: dict[str, tuple[int, str]]) -> None:
    """Raises the one-line error for a group of which not even one model fits any Dask
    worker. limits: each worker's address -> (its memory limit in bytes, where it comes from)."""
    address, (largest, source) = max(limits.items(), key=lambda item: item[1][0])
    m = one_model
    raise UserError(
        f"not enough memory to train this grid on the Dask workers: one model of {m.setting} "
        f"({m.params:,} parameters) needs {gib(worker_need(m))} with its worker process, and "
        f"the largest worker limit is {gib(largest)} ({source} of {address}; a plan counts on "
        f"{USABLE_SHARE:.0%} of it): make width, depth or n_samples smaller, or give the "
        "workers more memory (dask worker --memory-limit)"
    )


def refuse(fit: MemoryFit) -> None:
    """Raises the one-line error for a plan that cannot fit, whatever it is cut into."""
    raise UserError(f"not enough memory to train this grid: {fit.refusal()}")
