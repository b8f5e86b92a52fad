"""Where a plan's tasks run: in this process, in joblib's loky workers, or on a Dask cluster.

Each backend yields finished tasks' tables as soon as they finish, so the runner writes a shard
per chunk; no worker outlives the command.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import joblib
import torch

from bench.data.datasets import data_key, load_data
from bench.run import memory
from bench.run.execute import TaskOutcome, execute_task
from bench.run.plan import Task

BACKENDS = ("local", "dask")
SCHEDULER_TIMEOUT_S = 30  # how long to try reaching a Dask scheduler before giving up


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached (or its address is malformed)."""


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


@dataclass(frozen=True)
class WorkerCapacity:
    """What one Dask worker offers, as it reports it (not as the client guesses it)."""

    address: str
    threads: int  # the worker's nthreads
    device: str  # the device type the worker resolves `--device` to: cpu, cuda, mps
    budget_bytes: int  # engine.memory_budget_bytes on the worker (free GPU memory, or RAM)
    # Bytes the worker may hold while it trains a chunk: Dask's memory_limit for it, or where
    # it has none (or trains on a GPU, which memory_limit does not bound) the memory available
    # there (memory.available_bytes on the worker); 0: unknown, chunks are not checked.
    memory_limit: int = 0
    limit_source: str = ""  # "Dask memory_limit", "RAM available", "free on cuda:..."


def _describe_worker(device: str) -> tuple[str, int, int, str]:
    """Runs on a worker: the device type it resolves `device` to, its memory budget, and the
    memory available there with where that number comes from (memory.available_bytes)."""
    from bench import engine

    resolved = engine.resolve_device(device)
    available, source = memory.available_bytes(resolved)
    return resolved.type, engine.memory_budget_bytes(resolved), available, source


def worker_capacities(client, device: str) -> list[WorkerCapacity]:
    """Every worker's threads and memory limit (from the scheduler), and its device, budget
    and available memory (asked of it)."""
    workers = client.scheduler_info()["workers"]
    described = client.run(_describe_worker, device)
    capacities = []
    for address in sorted(workers):
        kind, budget, available, source = described[address]
        dask_limit = int(workers[address].get("memory_limit") or 0)  # 0: none set
        limit, source = (
            (dask_limit, "Dask memory_limit")
            if dask_limit and kind != "cuda"
            else (available, source)
        )
        threads = int(workers[address]["nthreads"])
        capacities.append(WorkerCapacity(address, threads, kind, budget, limit, source))
    return capacities


def describe_limits(workers: list[WorkerCapacity]) -> str:
    """For `run` and `plan`: each worker's own memory limit, in one line."""
    return "memory: Dask workers' limits: " + ", ".join(
        f"{w.address} {memory.gib(w.memory_limit)} ({w.limit_source})" if w.memory_limit
        else f"{w.address} unknown"
        for w in workers
    )  # fmt: skip


def _data(task: Task, spec):
    key = data_key(spec)
    return task.datasets[key] if key in task.datasets else load_data(spec)


def _merge(tasks: list[Task]) -> Task:
    """One task of the runs of several (same group, in order)."""
    specs, run_ids, rows, datasets = [], [], [], {}
    for task in tasks:
        rows += [len(specs) + row for row in task.surface_rows]
        specs += task.specs
        run_ids += task.run_ids
        datasets.update(task.datasets)
    return Task(specs, run_ids, tasks[0].activation, tuple(rows), datasets,
                sum(t.cost for t in tasks))  # fmt: skip


def _piece(task: Task, start: int, stop: int) -> Task:
    rows = tuple(row - start for row in task.surface_rows if start <= row < stop)
    specs = task.specs[start:stop]
    keys = {data_key(s) for s in specs}
    return Task(specs, task.run_ids[start:stop], task.activation, rows,
                {k: v for k, v in task.datasets.items() if k in keys},
                task.cost * len(specs) / max(len(task), 1))  # fmt: skip


def plan_for_workers(
    tasks: list[Task], workers: list[WorkerCapacity], device: str = "cpu"
) -> list[tuple[Task, WorkerCapacity]]:
    """The client's chunks re-cut for the workers that will train them.

    The client planned chunks for its own device and memory; here each group's runs (its
    chunks, merged) are cut again, piece by piece, for the worker that takes the piece: the
    least loaded one (planned cost per thread) of those that one model of the group fits,
    and the piece's size is engine.chunk_size on that worker's device, memory budget and
    threads, cut smaller where the piece's predicted peak would not fit the worker's memory
    limit (memory.models_within). Where the client's chunks were cut smaller than its own
    chunk size on `device` (`--max-chunk`), that size stays the cap. Refuses in one line
    (memory.refuse_on_workers) a group of which not even one model fits any worker.
    """
    from bench import engine

    try:  # the device the client planned for (`device`, as the client resolves it)
        client_device = engine.resolve_device(device)
    except ValueError:
        client_device = torch.device("cpu")
    groups: dict[tuple, list[Task]] = {}  # in the order the client planned them
    for task in tasks:
        spec = task.specs[0]
        groups.setdefault(engine.group_key(spec, _data(task, spec)), []).append(task)
    load = {w.address: 0.0 for w in workers}
    planned = []
    for group in groups.values():
        merged = _merge(group)
        spec0 = merged.specs[0]
        data = _data(merged, spec0)
        able = _workers_for_one_model(merged, data, workers)
        client_size = engine.chunk_size(spec0, data, client_device)
        largest = max(len(t) for t in group)
        cap = largest if len(group) > 1 and largest < client_size else None
        cost = merged.cost / max(len(merged), 1)
        start = 0
        while start < len(merged):
            worker = min(able, key=lambda w: (load[w.address] / w.threads, w.address))
            size = engine.chunk_size(spec0, data, torch.device(worker.device), cap,
                                     budget=worker.budget_bytes, threads=worker.threads)  # fmt: skip
            if worker.memory_limit:  # at least one: the worker is able
                piece = merged.specs[start : start + size]
                size = max(1, memory.models_within(piece, data, worker.memory_limit))
            stop = min(start + size, len(merged))
            planned.append((_piece(merged, start, stop), worker))
            load[worker.address] += cost * (stop - start)
            start = stop
    return planned


def _workers_for_one_model(group: Task, data, workers: list[WorkerCapacity]):
    """The workers whose memory limit fits one model of the group (any one: SGD's momentum
    may differ between them), or the refusal (memory.refuse_on_workers)."""
    singles = [memory.chunk_memory([spec], data) for spec in group.specs]
    one_model = max(singles, key=lambda chunk: chunk.peak)
    able = [
        w
        for w in workers
        if not w.memory_limit
        or memory.worker_need(one_model) <= int(w.memory_limit * memory.USABLE_SHARE)
    ]
    if not able:
        memory.refuse_on_workers(
            one_model, {w.address: (w.memory_limit, w.limit_source) for w in workers}
        )
    return able


def connect(scheduler: str):
    """A Dask client of the scheduler at `scheduler` (SchedulerError when it does not answer
    within SCHEDULER_TIMEOUT_S, or without the distributed extra: a one-line error either way)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise SchedulerError(
            "the dask backend needs the distributed extra: pip install 'nonlinbench[distributed]'"
        ) from None
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, ValueError) as exc:
        raise SchedulerError(f"--scheduler {scheduler}: cannot reach it: {exc}") from None


def cluster_workers(client, scheduler: str, device: str) -> list[WorkerCapacity]:
    """worker_capacities, or SchedulerError when the cluster has no workers."""
    workers = worker_capacities(client, device)
    if not workers:
        raise SchedulerError(f"--scheduler {scheduler}: the cluster has no workers")
    return workers


def dask_results(
    tasks: list[Task], device: str, threads: int | None, scheduler: str
) -> Iterator[TaskOutcome]:
    """Runs the chunks on a Dask cluster, yielding each as it finishes (a shard per chunk).

    The chunks are cut for the workers (`plan_for_workers`: each worker's device, memory budget,
    memory limit and threads, as the worker reports them; the limits are stated in one line on
    stderr, and a grid no worker can hold is refused), each is sent to its worker, and it
    trains there with that worker's threads (or `threads`, when given). Raises SchedulerError
    when the scheduler does not answer within SCHEDULER_TIMEOUT_S.
    """
    with connect(scheduler) as client:  # (connect says what to install when dask is missing)
        from dask.distributed import as_completed

        if not tasks:
            return
        workers = cluster_workers(client, scheduler, device)
        print(describe_limits(workers), file=sys.stderr)
        futures = [
            client.submit(
                execute_task,
                task,
                device,
                threads or worker.threads,
                pure=False,
                workers=[worker.address],
                allow_other_workers=True,
            )  # fmt: skip
            for task, worker in plan_for_workers(tasks, workers, device)
        ]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            client.cancel(futures)


def local_results(
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


def _stop_workers() -> None:
    """No loky worker outlives the command (they idle for minutes, holding memory, otherwise)."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True, kill_workers=True)
