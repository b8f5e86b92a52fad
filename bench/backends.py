"""Where a plan's tasks run: in this process, in joblib's loky workers, or on a Dask cluster.

Each backend yields finished tasks' tables as soon as they finish, so the runner writes a shard
per chunk; no worker outlives the command.
"""

from __future__ import annotations

from collections.abc import Iterator

import joblib

from bench.execute import TaskOutcome, execute_task
from bench.plan import Task

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


def dask_results(
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
