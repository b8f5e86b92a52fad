"""Schedules a grid's runs: plan, resume, execute chunks (in-process, joblib or Dask), store.

    grid -> specs + run ids -> skip stored -> groups -> chunks (tasks) -> engine -> shards

Every finished chunk becomes one shard on disk as soon as it arrives, so a crash loses at
most the chunks in flight; whatever happens, the run ends by merging shards into the main
tables.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

import bench
from bench import engine, registry
from bench.data import Dataset
from bench.grid import Grid, run_ids
from bench.model import layer_sizes, output_size
from bench.registry import Activation, get_activation
from bench.spec import AXES, RunSpec
from bench.store import Store

BACKENDS = ("local", "dask")
SCHEDULER_TIMEOUT_S = 30  # how long to try reaching a Dask scheduler before giving up


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached (or its address is malformed)."""


# --------------------------------------------------------------------------- planning


@dataclass
class Task:
    """One chunk: runs of one group that train together as one stacked program."""

    specs: list[RunSpec]
    run_ids: list[str]
    surfaces_for: frozenset[str]
    activation: Activation  # travels with the task so workers know plugin activations
    cost: float = 0.0  # relative cost, for ordering and estimates

    def __len__(self) -> int:
        return len(self.specs)


@dataclass
class Plan:
    grid: Grid
    total: int  # runs in the grid
    stored: int  # already stored, skipped
    groups: int  # groups among the runs still to train
    tasks: list[Task] = field(default_factory=list)
    datasets: dict[tuple, Dataset] = field(default_factory=dict)  # by engine.data_key

    @property
    def pending(self) -> int:
        return sum(len(t) for t in self.tasks)


def surface_runs(specs: list[RunSpec], ids: list[str]) -> set[str]:
    """One run per (dataset, noise, activation, depth, width): the first in grid order."""
    chosen: dict[tuple, str] = {}
    for spec, rid in zip(specs, ids, strict=True):
        chosen.setdefault((spec.dataset, spec.noise, spec.activation, spec.depth, spec.width), rid)
    return set(chosen.values())


def run_work(spec: RunSpec, data: Dataset) -> tuple[float, float]:
    """The work of training one model: (multiply-adds, unit activations), each x samples x epochs.

    Small widths are bound by the elementwise work per unit (activation forward and backward,
    bias, loss), large ones by the matmuls; `calibrate` measures the price of each.
    """
    sizes = layer_sizes(data.n_features, output_size(data.n_classes), spec.depth, spec.width)
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    units = sum(sizes[1:])
    samples = len(data.X_train) + len(data.X_test) / max(spec.eval_every, 1)
    return spec.epochs * samples * macs, spec.epochs * samples * units


def run_cost(spec: RunSpec, data: Dataset) -> float:
    """A single number proportional to a run's work, for ordering tasks largest first."""
    macs, units = run_work(spec, data)
    return macs + 32 * units


def make_plan(
    grid: Grid,
    store: Store,
    device: torch.device,
    *,
    fresh: bool = False,
    max_chunk: int | None = None,
) -> Plan:
    specs = grid.specs()
    ids = run_ids(specs)
    stored = set() if fresh else store.stored_ids()
    with_surface = surface_runs(specs, ids)
    pending = [i for i, rid in enumerate(ids) if rid not in stored]
    datasets, chunks, n_groups = engine.chunk_indices(
        [specs[i] for i in pending], device, max_chunk
    )
    tasks = []
    for chunk in chunks:
        part = [pending[k] for k in chunk]
        spec0 = specs[part[0]]
        part_ids = [ids[i] for i in part]
        tasks.append(
            Task(
                specs=[specs[i] for i in part],
                run_ids=part_ids,
                surfaces_for=frozenset(with_surface.intersection(part_ids)),
                activation=get_activation(spec0.activation),
                cost=run_cost(spec0, datasets[engine.data_key(spec0)]) * len(part),
            )
        )
    tasks.sort(key=lambda t: -t.cost)  # largest first: better load balance across workers
    n_stored = sum(rid in stored for rid in ids)
    return Plan(
        grid=grid,
        total=len(specs),
        stored=n_stored,
        groups=n_groups,
        tasks=tasks,
        datasets=datasets,
    )


@dataclass(frozen=True)
class Calibration:
    """Measured prices on this device, for `plan`'s estimate of the time a grid takes."""

    per_chunk_epoch: float  # seconds of fixed overhead per chunk and epoch (kernel launches)
    per_mac: float  # seconds per multiply-add of `run_work`
    per_unit: float  # seconds per unit activation of `run_work`
    per_measured_unit: float  # seconds per model and hidden unit for the grid measures

    def task_seconds(self, task: Task, data: Dataset) -> float:
        spec = task.specs[0]
        macs, units = run_work(spec, data)
        training = len(task) * (macs * self.per_mac + units * self.per_unit)
        measuring = len(task) * max(spec.depth * spec.width, 1) * self.per_measured_unit
        return spec.epochs * self.per_chunk_epoch + training + measuring


def calibrate(device: torch.device, threads: int | None = None) -> Calibration:
    """Times small representative chunks, to price a chunk-epoch, a multiply-add and a unit."""
    if threads:
        torch.set_num_threads(threads)
    base = RunSpec(n_samples=600, depth=2, eval_every=10, epochs=30)
    data = engine.load_data(base)
    datasets = {engine.data_key(base): data}
    models = 128

    def timed(n: int, width: int, epochs: int, measure: bool) -> float:
        specs = [
            RunSpec(**{**base.to_dict(), "seed": s, "width": width, "epochs": epochs})
            for s in range(n)
        ]
        start = time.perf_counter()
        engine.train_chunk(specs, [str(s) for s in range(n)], device, measure=measure,
                           datasets=datasets)  # fmt: skip
        return time.perf_counter() - start

    # Untimed warm-up: the first call of a process pays for lazy initialisation (kernels,
    # allocator), which measured up to 100x one epoch and made the estimate absurd.
    timed(1, 16, 2, True)
    per_chunk_epoch = timed(1, 16, 30, False) / 30
    # Two widths give two equations for the price of a multiply-add and of a unit.
    rows, seconds = [], []
    for width in (4, 32):
        macs, units = run_work(RunSpec(**{**base.to_dict(), "width": width}), data)
        rows.append([models * macs, models * units])
        seconds.append(max(timed(models, width, 30, False) - 30 * per_chunk_epoch, 1e-9))
    per_mac, per_unit = np.linalg.lstsq(np.array(rows), np.array(seconds), rcond=None)[0]
    per_mac, per_unit = max(per_mac, 0.0), max(per_unit, 0.0)
    # The grid measures: a measured chunk minus its predicted training time.
    macs, units = run_work(RunSpec(**{**base.to_dict(), "width": 16, "epochs": 10}), data)
    training = 10 * per_chunk_epoch + models * (macs * per_mac + units * per_unit)
    per_measured_unit = max(timed(models, 16, 10, True) - training, 0.0) / (models * 32)
    return Calibration(per_chunk_epoch, per_mac, per_unit, per_measured_unit)


def _calibrate_in_worker(device: str, threads: int | None) -> Calibration:
    return calibrate(torch.device(device), threads)


def estimate_seconds(
    plan: Plan, device: torch.device, jobs: int = 1, threads: int | None = None
) -> float:
    """Seconds to train the plan's tasks with `jobs` workers of `threads` threads each.

    On a CPU with several jobs, every worker calibrates at the same time, so the prices
    include what the workers cost each other (shared caches and memory bandwidth).
    """
    if threads is None and device.type == "cpu":
        threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    if jobs > 1 and device.type == "cpu":
        calibrations = joblib.Parallel(n_jobs=jobs, backend="loky")(
            joblib.delayed(_calibrate_in_worker)(str(device), threads) for _ in range(jobs)
        )
        c = Calibration(*np.mean([list(vars(c).values()) for c in calibrations], axis=0))
    else:
        saved = torch.get_num_threads()
        try:
            c = calibrate(device, threads)
        finally:
            torch.set_num_threads(saved)
    total = sum(
        c.task_seconds(task, plan.datasets[engine.data_key(task.specs[0])]) for task in plan.tasks
    )
    return total / max(jobs, 1)


# --------------------------------------------------------------------------- execution


@dataclass
class TaskOutcome:
    runs: pd.DataFrame
    curves: pd.DataFrame
    surfaces: pd.DataFrame


def _spec_frame(task: Task) -> pd.DataFrame:
    frame = pd.DataFrame([s.to_dict() for s in task.specs], columns=list(AXES))
    frame.insert(0, "run_id", task.run_ids)
    return frame


def execute_task(task: Task, device: str, threads: int | None) -> TaskOutcome:
    """Trains one chunk; never raises for a failing run: the error goes into its rows.

    Module-level so joblib (loky) and Dask can ship it to other processes and machines.
    """
    if threads:
        torch.set_num_threads(threads)
    registry.ensure_registered(task.activation)
    resolved = engine.resolve_device(device)
    frame = _spec_frame(task)
    try:
        result = engine.train_chunk(
            task.specs, task.run_ids, resolved, surfaces_for=task.surfaces_for
        )
        runs = frame.merge(result.runs, on="run_id", how="left")
        runs["error"] = ""
        curves, surfaces = result.curves, result.surfaces
    except Exception as exc:  # a group that raises is recorded as failed, the grid goes on
        runs = frame
        runs["diverged"] = False
        runs["error"] = f"{type(exc).__name__}: {exc}".strip()[:2000]
        curves, surfaces = pd.DataFrame(), pd.DataFrame()
    runs["device"] = engine.device_label(resolved)
    runs["engine_version"] = engine.ENGINE_VERSION
    runs["nonlinbench_version"] = bench.__version__
    if len(surfaces):
        keep = frame.set_index("run_id")[
            ["dataset", "noise", "activation", "depth", "width", "seed"]
        ]
        surfaces = surfaces.join(keep, on="run_id")
    return TaskOutcome(runs=runs, curves=curves, surfaces=surfaces)


def _stream(calls: list, **parallel_kwargs) -> Iterator[TaskOutcome] | None:
    """Results through joblib in the order they finish, or None when joblib cannot stream.

    One chunk per joblib task (batch_size=1), so each finished chunk reaches the caller (and
    becomes a shard) at once instead of waiting for the rest of an auto-sized batch. joblib
    yields results as they complete with return_as="generator_unordered" (joblib >= 1.4);
    older versions only stream in submission order ("generator"), which is used instead.
    """
    for return_as in ("generator_unordered", "generator"):
        try:
            parallel = joblib.Parallel(return_as=return_as, batch_size=1, **parallel_kwargs)
        except ValueError:  # this joblib or this backend does not support it
            continue
        return parallel(calls)
    return None


def _dask_results(
    tasks: list[Task], device: str, threads: int | None, scheduler: str
) -> Iterator[TaskOutcome]:
    """Runs the chunks on a Dask cluster through joblib's Dask backend, yielding as they finish.

    When joblib's Dask backend cannot return a generator, the chunks are submitted to the
    cluster directly and collected with `distributed.as_completed`, so shards are still
    written as each chunk finishes rather than all at the end. Raises SchedulerError when
    the scheduler does not answer within SCHEDULER_TIMEOUT_S.
    """
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise RuntimeError(
            "the dask backend needs the distributed extra: pip install 'nonlinbench[distributed]'"
        ) from None
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, ValueError) as exc:
        raise SchedulerError(f"--scheduler {scheduler}: cannot reach it: {exc}") from None
    with client, joblib.parallel_config(backend="dask"):
        # joblib's Dask backend uses this client: it is the default one while it is open.
        calls = [joblib.delayed(execute_task)(t, device, threads) for t in tasks]
        results = _stream(calls, n_jobs=-1)
        if results is not None:
            yield from results
            return
        futures = [client.submit(execute_task, t, device, threads, pure=False) for t in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)


def _local_results(
    tasks: list[Task], device: str, threads: int | None, jobs: int
) -> Iterator[TaskOutcome]:
    """In this process (jobs=1), or in `jobs` loky worker processes, yielding as they finish."""
    if jobs <= 1:
        for task in tasks:
            yield execute_task(task, device, threads)
        return
    calls = [joblib.delayed(execute_task)(t, device, threads) for t in tasks]
    results = _stream(calls, n_jobs=jobs, backend="loky")
    if results is None:  # pragma: no cover - every joblib this package supports can stream
        results = joblib.Parallel(n_jobs=jobs, backend="loky")(calls)
    yield from results


@dataclass
class RunSummary:
    total: int
    trained: int
    skipped: int
    diverged: int
    failed: int
    wall_s: float
    interrupted: bool = False
    corrupt_shards: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.interrupted

    def line(self) -> str:
        state = "interrupted: " if self.interrupted else ""
        return (
            f"{state}trained {self.trained}, skipped {self.skipped} (already stored), "
            f"diverged {self.diverged}, failed {self.failed} of {self.total} runs "
            f"in {self.wall_s:.1f} s"
        )


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def base_manifest(grid: Grid, device: torch.device, command: str) -> dict:
    return {
        "grid": {
            "name": grid.name,
            "description": grid.description,
            "source": grid.source,
            "hash": grid.hash,
            "text": grid.text,
            "plugins": list(grid.plugins),
        },
        "grid_hash": grid.hash,
        "versions": {
            "nonlinbench": bench.__version__,
            "engine": engine.ENGINE_VERSION,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "device": engine.device_label(device),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "command": command,
    }


def default_jobs(device: torch.device) -> int:
    return 1 if device.type != "cpu" else max(1, os.cpu_count() or 1)


def run_grid(
    grid: Grid,
    out: str | Path,
    *,
    device: str = "auto",
    backend: str = "local",
    jobs: int | None = None,
    threads: int | None = None,
    fresh: bool = False,
    quiet: bool = False,
    scheduler: str | None = None,
    max_chunk: int | None = None,
    command: str = "",
) -> RunSummary:
    """Trains every run of `grid` not yet stored in `out`, writing a shard per finished chunk.

    Resumes by default: stored runs (in the main tables or in shards a killed run left) are
    skipped, failed runs are trained again, and `fresh=True` discards everything first.
    `quiet` hides only the progress bar: warnings (corrupt shards set aside) and the note
    that there is nothing to train still go to stderr. Returns the counts for the summary.
    """
    t0 = time.perf_counter()
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; allowed: {', '.join(BACKENDS)}")
    if backend == "dask" and not scheduler:
        raise ValueError("--backend dask needs --scheduler tcp://HOST:PORT")
    resolved = engine.resolve_device(device)
    store = Store(out)
    if fresh:
        store.clear()
    merge = store.merge()  # whatever a killed run left behind
    if merge.corrupt:
        print(
            f"warning: {len(merge.corrupt)} corrupt shard(s) set aside in {store.shards}/corrupt; "
            "their runs will be trained again",
            file=sys.stderr,
        )
    plan = make_plan(grid, store, resolved, max_chunk=max_chunk)
    if backend == "local":
        jobs = 1 if resolved.type != "cpu" else (jobs or default_jobs(resolved))
        if threads is None and resolved.type == "cpu":
            threads = max(1, (os.cpu_count() or 1) // jobs)  # divide cores, don't oversubscribe
    manifest = base_manifest(grid, resolved, command)
    manifest.update(
        started=pd.Timestamp.now("UTC").isoformat(), backend=backend, jobs=jobs, threads=threads
    )
    store.write_manifest(manifest)

    summary = RunSummary(
        total=plan.total,
        trained=0,
        skipped=plan.stored,
        diverged=0,
        failed=0,
        wall_s=0.0,
        corrupt_shards=merge.corrupt,
    )
    if not plan.tasks:
        print(
            f"all {plan.total} runs of grid '{grid.name}' are already stored in {out}; "
            "nothing to train (use --fresh to start over)",
            file=sys.stderr,
        )
    else:
        if backend == "dask":
            results = _dask_results(plan.tasks, device, threads, scheduler)
        else:
            if threads:
                torch.set_num_threads(threads)
            results = _local_results(plan.tasks, device, threads, jobs or 1)
        bar = tqdm(
            total=plan.pending,
            unit="run",
            desc=f"{grid.name}",
            disable=quiet,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        try:
            for outcome in results:
                store.write_shard(outcome.runs, outcome.curves, outcome.surfaces)
                failed = int((outcome.runs["error"] != "").sum())
                summary.failed += failed
                summary.trained += len(outcome.runs) - failed
                summary.diverged += int(outcome.runs["diverged"].fillna(False).sum())
                bar.update(len(outcome.runs))
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            bar.close()
            close = getattr(results, "close", None)
            if close:
                close()
            store.merge()
    summary.wall_s = time.perf_counter() - t0
    manifest.update(
        finished=pd.Timestamp.now("UTC").isoformat(),
        summary={
            k: getattr(summary, k)
            for k in ("total", "trained", "skipped", "diverged", "failed", "wall_s", "interrupted")
        },
    )
    store.write_manifest(manifest)
    return summary
