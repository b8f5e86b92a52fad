"""Runs a grid's plan: chunks in-process, in joblib workers or on Dask; tables; shards.

    plan (tasks) -> engine (arrays) -> tables (schema) -> shards -> merged tables

Every finished chunk becomes one shard on disk as soon as it arrives, so a crash loses at
most the chunks in flight; whatever happens, the run ends by merging shards into the main
tables.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
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
from bench import engine, schema
from bench.grid import MAX_RUNS, Grid
from bench.plan import Task, make_plan
from bench.store import Store, StoreError, describe_os_error

BACKENDS = ("local", "dask")
SCHEDULER_TIMEOUT_S = 30  # how long to try reaching a Dask scheduler before giving up


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached (or its address is malformed)."""


# --------------------------------------------------------------------------- execution


@dataclass
class TaskOutcome:
    """A finished chunk as the three tables (schema.TABLES) of a shard."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    surfaces: pd.DataFrame


def _run_rows(task: Task) -> pd.DataFrame:
    """run_id and every axis, one row per run."""
    frame = pd.DataFrame([s.to_dict() for s in task.specs], columns=list(schema.AXES))
    frame.insert(0, "run_id", task.run_ids)
    return frame


def outcome_tables(task: Task, arrays: engine.ChunkArrays) -> TaskOutcome:
    """The tables of a trained chunk, in schema's column order."""
    models = len(task)
    runs = _run_rows(task)
    for metric, values in arrays.metrics.items():
        runs[metric] = values
    runs["n_params"] = arrays.n_params
    runs["n_classes"] = arrays.n_classes
    runs["affine"] = task.activation.affine
    runs["act_params"] = arrays.act_params
    runs["diverged"] = arrays.diverged_epoch > 0
    runs["diverged_epoch"] = np.where(arrays.diverged_epoch > 0, arrays.diverged_epoch, np.nan)
    runs["wall_s"] = arrays.wall_s / models  # the chunk's wall time, shared equally by its runs
    runs["chunk_size"] = models
    runs["error"] = ""

    evaluations = len(arrays.epochs)
    curves = pd.DataFrame(
        {
            "run_id": np.repeat(np.asarray(task.run_ids, dtype=object), evaluations),
            "epoch": np.tile(arrays.epochs, models),
        }
    )
    for j, column in enumerate(schema.CURVE_METRICS):
        curves[column] = arrays.curves[:, j, :].T.reshape(-1)

    surfaces = pd.DataFrame(
        [
            {
                "run_id": task.run_ids[s.row],
                **{
                    axis: getattr(task.specs[s.row], axis) for axis in (*schema.SURFACE_KEY, "seed")
                },
                "resolution": engine.MEASURE_RESOLUTION,
                "x_min": s.plane.extent[0],
                "x_max": s.plane.extent[1],
                "y_min": s.plane.extent[2],
                "y_max": s.plane.extent[3],
                "plane": s.plane.kind,
                "prob": s.prob,
                "pred": s.pred,
                "test_x": s.plane.test_points[:, 0],
                "test_y": s.plane.test_points[:, 1],
                "test_label": s.plane.test_labels,
            }
            for s in arrays.surfaces
        ],
        columns=schema.names(schema.SURFACE_COLUMNS),
    )
    return TaskOutcome(runs=runs, curves=curves, surfaces=surfaces)


def execute_task(task: Task, device: str, threads: int | None) -> TaskOutcome:
    """Trains one chunk; never raises for a failing run: the error goes into its rows.

    Module-level so joblib (loky) and Dask can ship it to other processes and machines.
    """
    if threads:
        torch.set_num_threads(threads)
    resolved = engine.resolve_device(device)
    try:
        arrays = engine.train_chunk(
            task.specs,
            task.activation,
            resolved,
            surface_rows=task.surface_rows,
            datasets=task.datasets,
        )
        outcome = outcome_tables(task, arrays)
    except Exception as exc:  # a group that raises is recorded as failed, the grid goes on
        runs = _run_rows(task)
        runs["affine"] = task.activation.affine
        runs["diverged"] = False
        runs["error"] = f"{type(exc).__name__}: {exc}".strip()[:2000]
        outcome = TaskOutcome(runs=runs, curves=pd.DataFrame(), surfaces=pd.DataFrame())
    outcome.runs["device"] = engine.device_label(resolved)
    outcome.runs["engine_version"] = engine.ENGINE_VERSION
    outcome.runs["nonlinbench_version"] = bench.__version__
    return outcome


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
    try:
        yield from results
    finally:
        _stop_workers()


@dataclass
class RunSummary:
    total: int
    trained: int
    skipped: int
    diverged: int
    failed: int
    wall_s: float
    interrupted: str = ""  # "", or the signal that stopped it: "SIGINT" or "SIGTERM"
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
    max_runs: int = MAX_RUNS,
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
    with store.writing(), _sigterm_as_interrupt():
        corrupt_shards = _recover(store, grid, fresh)
        plan = make_plan(grid, store, resolved, max_chunk=max_chunk, max_runs=max_runs)
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
            corrupt_shards=corrupt_shards,
        )
        if not plan.tasks:
            print(
                f"all {plan.total} runs of grid '{grid.name}' are already stored in {out}; "
                "nothing to train (use --fresh to start over)",
                file=sys.stderr,
            )
        elif backend == "dask":
            _train(
                plan, store, summary, quiet, _dask_results(plan.tasks, device, threads, scheduler)
            )
        else:
            if threads:
                torch.set_num_threads(threads)
            _train(plan, store, summary, quiet, _local_results(plan.tasks, device, threads, jobs))
        summary.wall_s = time.perf_counter() - t0
        manifest.update(
            finished=pd.Timestamp.now("UTC").isoformat(),
            summary={
                k: getattr(summary, k)
                for k in ("total", "trained", "skipped", "diverged", "failed", "wall_s")
            }
            | {"interrupted": summary.interrupted},
        )
        store.write_manifest(manifest)
    return summary


def _recover(store: Store, grid: Grid, fresh: bool) -> list[str]:
    """Before planning: start over, set aside what cannot be read, merge what a killed run left,
    and refuse to mix two versions of a grid in one folder. Returns the corrupt shards."""
    if fresh:
        store.clear()
    unreadable = store.set_aside_unreadable_tables()
    if unreadable:
        print(
            f"warning: {', '.join(unreadable)} in {store.root} could not be read; the main "
            f"tables were set aside in {store.root / 'corrupt'} and their runs will be trained "
            "again",
            file=sys.stderr,
        )
    merge = store.merge()
    if merge.corrupt:
        print(
            f"warning: {len(merge.corrupt)} corrupt shard(s) set aside in {store.shards}/corrupt; "
            "their runs will be trained again",
            file=sys.stderr,
        )
    previous = store.read_manifest().get("grid", {})
    if previous.get("hash") not in (None, grid.hash) and store.stored_ids():
        raise StoreError(
            f"results folder {store.root} holds runs of another version of grid "
            f"'{previous.get('name')}' (hash {previous.get('hash')}; this one is {grid.hash}): "
            "use --fresh to replace them, or --out to keep both"
        )
    return merge.corrupt


def _train(plan, store: Store, summary: RunSummary, quiet: bool, results) -> None:
    """Stores each finished chunk as a shard; always ends by merging the shards."""
    bar = tqdm(
        total=plan.pending,
        unit="run",
        desc=f"{plan.grid.name}",
        disable=quiet,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    try:
        for outcome in results:
            try:
                store.write_shard(outcome.runs, outcome.curves, outcome.surfaces)
            except OSError as exc:
                raise StoreError(
                    describe_os_error(exc, store.shards, "writing a shard in")
                ) from None
            failed = int((outcome.runs["error"] != "").sum())
            summary.failed += failed
            summary.trained += len(outcome.runs) - failed
            summary.diverged += int(outcome.runs["diverged"].fillna(False).sum())
            bar.update(len(outcome.runs))
    except (KeyboardInterrupt, Terminated) as exc:
        summary.interrupted = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
    finally:
        bar.close()
        close = getattr(results, "close", None)
        if close:
            close()
        try:
            store.merge()
        except OSError as exc:
            raise StoreError(describe_os_error(exc, store.root, "merging shards into")) from None


class Terminated(Exception):
    """SIGTERM arrived: handled like Ctrl-C (finished chunks are merged)."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turns SIGTERM into `Terminated` in the main thread for the duration (where allowed)."""

    def handler(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_workers() -> None:
    """No loky worker outlives the command (they idle for minutes, holding memory, otherwise)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True, kill_workers=True)
