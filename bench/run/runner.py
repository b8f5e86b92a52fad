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
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib.externals.loky.process_executor import TerminatedWorkerError
from tqdm.auto import tqdm

import bench
from bench import engine
from bench.grid.parse import MAX_RUNS, Grid
from bench.results.blocks import manifest_entry
from bench.results.store import Store, StoreError, describe_os_error
from bench.run import memory
from bench.run.backends import BACKENDS, dask_results, local_results
from bench.run.execute import execute_task, failed_outcome, halves
from bench.run.plan import make_plan, split_tasks


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
            if plan.tasks:  # nothing trains that cannot fit: fewer workers, smaller chunks, or no
                fit = memory.check_plan(plan, resolved, jobs)
                plan, jobs = _fit_memory(fit, plan, jobs)
            if threads is None and resolved.type == "cpu":
                threads = max(1, (os.cpu_count() or 1) // jobs)  # divide cores, don't oversubscribe
        manifest = base_manifest(grid, resolved, command)
        manifest.update(
            started=pd.Timestamp.now("UTC").isoformat(), backend=backend, jobs=jobs, threads=threads
        )
        # Which block(s) each run belongs to, for the report (bench.results.blocks.load_blocks).
        manifest["blocks"] = manifest_entry(grid, plan.block_ids, plan.total)
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
                plan, store, summary, quiet, dask_results(plan.tasks, device, threads, scheduler)
            )
        else:
            if threads:
                torch.set_num_threads(threads)
            results = _surviving_kills(plan.tasks, device, threads, jobs)
            _train(plan, store, summary, quiet, results)
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


def _fit_memory(fit: memory.MemoryFit, plan, jobs: int):
    """The plan and workers that fit this machine's memory (a note on stderr when they are
    fewer or smaller than asked), or the one-line refusal (memory.refuse)."""
    if fit.workers >= jobs:
        return plan, jobs
    if fit.workers >= 1:
        print(
            f"memory: {fit.workers} of {jobs} jobs fit ({memory.gib(fit.need(fit.workers))} of "
            f"{memory.gib(fit.available)} {fit.source}; largest chunk {fit.largest.setting}): "
            f"training with {fit.workers}",
            file=sys.stderr,
        )
        return plan, fit.workers
    if fit.max_chunk is None:
        memory.refuse(fit)
    print(
        f"memory: 1 job with at most {fit.max_chunk} models per chunk fits "
        f"({memory.gib(fit.available)} {fit.source}; largest chunk {fit.largest.setting})",
        file=sys.stderr,
    )
    return split_tasks(plan, fit.max_chunk), 1


def _surviving_kills(tasks: list, device: str, threads: int | None, jobs: int):
    """local_results, surviving a worker killed by the operating system or a signal.

    A killed worker takes its pool down with it: the chunks it and the others were training
    (each worker notes the chunk it starts, Task.started) are reported in one line and trained
    again once, each as two halves in a worker of their own, after the chunks not yet
    started; a half killed again is stored as failed, with the reason in runs.error. What
    finished stays stored.
    """
    started = Path(tempfile.mkdtemp(prefix="nonlinbench-started-"))
    pending = {t.run_ids[0]: replace(t, started=str(started)) for t in tasks}
    retry: list[tuple] = []
    try:
        while pending:
            try:
                for outcome in local_results(list(pending.values()), device, threads, jobs):
                    pending.pop(outcome.runs["run_id"].iloc[0], None)
                    yield outcome
            except TerminatedWorkerError as exc:
                reason = _kill_reason(exc)
                held = [t for first, t in pending.items() if (started / first).exists()]
                lost = held or list(pending.values())  # no notes: any of them
                for task in lost:
                    del pending[task.run_ids[0]]
                    retry.append((task, reason))
                for note in started.iterdir():
                    note.unlink()
                print(
                    f"warning: a worker was killed ({reason}) while training "
                    f"{'; '.join(map(_describe, lost))}: trying each once more as two halves",
                    file=sys.stderr,
                )
        for task, reason in retry:
            for half in halves(replace(task, started="")):
                yield _alone(half, task, reason, device, threads)
    finally:
        shutil.rmtree(started, ignore_errors=True)
        if retry:  # no worker outlives the command
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor(max_workers=1).shutdown(wait=True, kill_workers=True)


def _alone(half, task, reason: str, device: str, threads: int | None):
    """One half of a killed chunk, trained in a worker of its own (one at a time, so a kill
    names its chunk); failed if killed again."""
    from joblib.externals.loky import get_reusable_executor

    try:
        return (
            get_reusable_executor(max_workers=1)
            .submit(execute_task, half, device, threads)
            .result()
        )
    except TerminatedWorkerError as exc:
        again = _kill_reason(exc)
        print(
            f"warning: killed again ({again}): {_describe(half)}; marked failed",
            file=sys.stderr,
        )
        return failed_outcome(
            half,
            device,
            f"worker killed ({reason}) training a chunk of {len(task)} models, and again "
            f"({again}) as {len(half)}: too large for this machine's memory?",
        )


def _kill_reason(exc: BaseException) -> str:
    """joblib's 'The exit codes of the workers are {SIGKILL(-9)}' as 'SIGKILL(-9)'."""
    found = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    return found.group(1) if found else type(exc).__name__


def _describe(task) -> str:
    """A chunk's settings in a few words: activation, depth x width, optimizer, its runs."""
    spec = task.specs[0]
    return (
        f"{spec.activation} depth x width {spec.depth} x {spec.width}, n_samples "
        f"{spec.n_samples}, {spec.optimizer} ({len(task)} runs)"
    )


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
    if previous.get("hash") not in (None, grid.hash):
        # An edited grid file may go on in the same folder while every stored run is still
        # one of its runs (comments, blocks, added values: the new runs are trained); a stored
        # run the grid no longer has would mix two grids in one report.
        outside = store.stored_ids() - set(grid.run_ids())
        if outside:
            raise StoreError(
                f"results folder {store.root} holds runs of another version of grid "
                f"'{previous.get('name')}' (hash {previous.get('hash')}; this one is "
                f"{grid.hash}), {len(outside)} of them not in this one: use --fresh to replace "
                "them, or --out to keep both"
            )
    return merge.corrupt


def _train(plan, store: Store, summary: RunSummary, quiet: bool, results) -> None:
    """Stores each finished chunk as a shard; always ends by merging the shards."""
    # The bar advances by work, not by runs: tasks run largest first, so counting runs would
    # make the early ETA several times too long. The postfix counts the runs.
    work = {task.run_ids[0]: max(task.cost, 1.0) for task in plan.tasks}  # by first run id
    done_runs = 0
    bar = tqdm(
        total=sum(work.values()),
        desc=f"{plan.grid.name}",
        disable=quiet,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}|{postfix} [{elapsed}<{remaining}]",
        postfix=f"0/{plan.pending} runs",
    )
    try:
        for outcome in results:
            try:
                store.write_shard(outcome.runs, outcome.curves, outcome.surfaces, outcome.weights)
            except OSError as exc:
                raise StoreError(
                    describe_os_error(exc, store.shards, "writing a shard in")
                ) from None
            failed = int((outcome.runs["error"] != "").sum())
            summary.failed += failed
            summary.trained += len(outcome.runs) - failed
            summary.diverged += int(outcome.runs["diverged"].fillna(False).sum())
            done_runs += len(outcome.runs)
            bar.set_postfix_str(f"{done_runs}/{plan.pending} runs", refresh=False)
            bar.update(work.pop(outcome.runs["run_id"].iloc[0], 0.0))  # a retried half: 0
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
