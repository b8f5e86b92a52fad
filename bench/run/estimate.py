"""How long a plan will take: prices measured on this machine, cached, and a range.

`nonlinbench run` spends its time in four parts, each priced here:

1. start: a fresh Python importing the command (torch, numpy, ...), then, with several jobs on
   a CPU, the worker processes starting and importing the same (measured by starting them);
2. planning: the grid's runs, their ids and their data (`plan` times its own, which is the
   same work);
3. training: `calibrate` times small representative chunks three times each; the fastest of
   the three prices an unloaded machine (other processes only ever slow a measurement down),
   the median a typical one; `estimate` applies both to every task;
4. storing: each chunk's tables, its shard and its share of the final merge.

On the small built-in grids the fixed parts are most of the time. `plan` shows a range, the
fastest prices to the typical ones. Prices are cached per machine, device, thread and job
count, torch and engine version, so `plan` answers at once after its first call
(`--recalibrate` measures again).
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import joblib
import numpy as np
import torch

from bench import engine
from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import Dataset, data_key, load_data
from bench.run.plan import Plan, Task, run_work
from bench.spec import RunSpec

# Bump when Calibration gains a price: cached prices without it are measured again.
PRICES_VERSION = 3
REPEATS = 3  # timings per calibration point: the fastest and the median make the range
# A CPU grid expected to take longer than this gets a hint that it is meant for a GPU.
GPU_HINT_SECONDS = 3600


@dataclass(frozen=True)
class Calibration:
    """Measured prices on this device."""

    per_chunk_epoch: float  # seconds of fixed overhead per chunk and epoch (kernel launches)
    per_mac: float  # seconds per multiply-add of `run_work`
    per_unit: float  # seconds per unit activation of `run_work`
    per_measured_unit: float  # seconds per model and hidden unit for the grid measures
    startup: float = 0.0  # seconds for a fresh Python to import the command
    pool_start: float = 0.0  # seconds for `jobs` worker processes to start and train a chunk
    per_task: float = 0.0  # seconds to turn a chunk into tables, write its shard and merge it
    per_figure: float = 0.0  # seconds to draw and save one representative report figure

    def task_seconds(self, task: Task, data: Dataset) -> float:
        spec = task.specs[0]
        macs, units = run_work(spec, data)
        training = len(task) * (macs * self.per_mac + units * self.per_unit)
        measuring = len(task) * max(spec.depth * spec.width, 1) * self.per_measured_unit
        return spec.epochs * self.per_chunk_epoch + training + measuring


@dataclass(frozen=True)
class Estimate:
    low: float  # seconds, at the fastest prices measured
    high: float  # seconds, at the median prices
    cached: bool  # the prices came from the cache
    # (part, seconds at the median prices): start, planning, training, storing
    parts: tuple[tuple[str, float], ...] = ()
    report: tuple[float, float] = (0.0, 0.0)  # `nonlinbench report` afterwards: (low, high)

    def describe(self) -> str:
        low, high = human_duration(self.low), human_duration(self.high)
        return low if low == high else f"{low} to {high}"

    def describe_report(self) -> str:
        return Estimate(*self.report, cached=self.cached).describe()

    def breakdown(self) -> str:
        """ "start 7 s, planning 0 s, training 3 s, storing 1 s" (at the typical prices)."""
        return ", ".join(f"{part} {human_duration(seconds)}" for part, seconds in self.parts)


def human_duration(seconds: float) -> str:
    """12 s, 4 min, 2.5 h, 3.1 days: two significant figures at most, in the largest unit."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{seconds:.0f} s"


def _prices(base: RunSpec, data: Dataset, timings: dict[str, float], models: int) -> Calibration:
    """Prices from one set of timings (seconds per calibration point)."""
    per_chunk_epoch = timings["overhead"] / 30
    rows, seconds = [], []
    for width in (4, 32):
        macs, units = run_work(RunSpec(**{**base.to_dict(), "width": width}), data)
        rows.append([models * macs, models * units])
        seconds.append(max(timings[f"width{width}"] - 30 * per_chunk_epoch, 1e-9))
    # Two widths give two equations for the price of a multiply-add and of a unit.
    per_mac, per_unit = np.linalg.lstsq(np.array(rows), np.array(seconds), rcond=None)[0]
    per_mac, per_unit = max(per_mac, 0.0), max(per_unit, 0.0)
    # The grid measures: a measured chunk minus its predicted training time.
    macs, units = run_work(RunSpec(**{**base.to_dict(), "width": 16, "epochs": 10}), data)
    training = 10 * per_chunk_epoch + models * (macs * per_mac + units * per_unit)
    per_measured_unit = max(timings["measured"] - training, 0.0) / (models * 32)
    return Calibration(per_chunk_epoch, per_mac, per_unit, per_measured_unit)


def calibrate(device: torch.device, threads: int | None = None) -> tuple[Calibration, Calibration]:
    """(fastest, median) prices from small representative chunks timed REPEATS times each."""
    if threads:
        torch.set_num_threads(threads)
    base = RunSpec(n_samples=600, depth=2, eval_every=10, epochs=30)
    data = load_data(base)
    datasets = {data_key(base): data}
    activation = BUILTIN_REGISTRY.get(base.activation)
    models = 128

    def timed(n: int, width: int, epochs: int, measure: bool) -> list[float]:
        specs = [
            RunSpec(**{**base.to_dict(), "seed": s, "width": width, "epochs": epochs})
            for s in range(n)
        ]
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            engine.train_chunk(specs, activation, device, measure=measure, datasets=datasets)
            times.append(time.perf_counter() - start)
        return times

    # Untimed warm-up: the first call of a process pays for lazy initialisation (kernels,
    # allocator), which measured up to 100x one epoch and made the estimate absurd.
    timed(1, 16, 2, True)
    points = {
        "overhead": timed(1, 16, 30, False),
        "width4": timed(models, 4, 30, False),
        "width32": timed(models, 32, 30, False),
        "measured": timed(models, 16, 10, True),
    }
    fastest = _prices(base, data, {k: min(v) for k, v in points.items()}, models)
    typical = _prices(base, data, {k: float(np.median(v)) for k, v in points.items()}, models)
    storing = _storing_seconds(base, activation, device)
    return (
        replace(fastest, per_task=min(storing)),
        replace(typical, per_task=float(np.median(storing))),
    )


def _storing_seconds(base: RunSpec, activation, device: torch.device) -> list[float]:
    """Seconds per chunk to make its tables, write its shard and merge it (REPEATS chunks of
    16 runs, with one decision surface each, as a grid's first chunks have)."""
    from bench.results.store import Store
    from bench.run.execute import outcome_tables  # the runner's own path from chunk to tables

    specs = [RunSpec(**{**base.to_dict(), "seed": s}) for s in range(16)]
    arrays = engine.train_chunk(specs, activation, device, surface_rows=[0])
    times = []
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "results")
        with store.writing():
            for repeat in range(REPEATS):
                ids = [f"{repeat:04d}{i:012d}" for i in range(len(specs))]
                task = Task(specs=specs, run_ids=ids, activation=activation, surface_rows=(0,))
                start = time.perf_counter()
                outcome = outcome_tables(task, arrays)
                store.write_shard(outcome.runs, outcome.curves, outcome.surfaces, outcome.weights)
                times.append(time.perf_counter() - start)
            start = time.perf_counter()
            store.merge()  # a run merges every shard once, at its end
            merge = (time.perf_counter() - start) / REPEATS
    return [t + merge for t in times]


def _startup_seconds() -> list[float]:
    """A fresh Python importing what `nonlinbench run` imports, timed twice."""
    command = [
        sys.executable,
        "-c",
        "import bench.cli.commands, bench.run.runner, bench.run.execute",
    ]
    times = []
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(command, check=False, capture_output=True, timeout=600)
        times.append(time.perf_counter() - start)
    return times


def _warm_worker(device: str, threads: int | None) -> None:
    """What a fresh worker does before its first chunk is done: import, then train one."""
    from bench.run.execute import execute_task

    spec = RunSpec(n_samples=100, depth=1, width=4, epochs=2)
    task = Task([spec], ["0" * 16], BUILTIN_REGISTRY.get(spec.activation))
    execute_task(task, device, threads)


def _pool_start_seconds(device: torch.device, jobs: int, threads: int | None) -> float:
    """Seconds for a fresh pool of `jobs` loky workers to start and train a chunk each."""
    if jobs <= 1 or device.type != "cpu":
        return 0.0
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # `run` starts its own pool
    start = time.perf_counter()
    joblib.Parallel(n_jobs=jobs, backend="loky")(
        joblib.delayed(_warm_worker)(str(device), threads) for _ in range(jobs)
    )
    return time.perf_counter() - start


def _calibrate_in_worker(device: str, threads: int | None) -> tuple[Calibration, Calibration]:
    return calibrate(torch.device(device), threads)


def cache_path() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "nonlinbench" / "calibration.json"


def _cache_key(device: torch.device, jobs: int, threads: int | None) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.node()}|{cpu}|{engine.device_label(device)}|jobs={jobs}|threads={threads}|"
        f"torch={torch.__version__}|engine={engine.ENGINE_VERSION}|prices={PRICES_VERSION}"
    )


def _cached_prices(key: str) -> tuple[Calibration, Calibration] | None:
    try:
        entry = json.loads(cache_path().read_text())[key]
        return Calibration(**entry["fastest"]), Calibration(**entry["typical"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store_prices(key: str, prices: tuple[Calibration, Calibration]) -> None:
    path = cache_path()
    try:
        cache = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        cache = {}
    cache[key] = {"fastest": asdict(prices[0]), "typical": asdict(prices[1])}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache, indent=1))
    except OSError:  # a read-only home: the estimate still stands, it is just not remembered
        pass


def fixed_costs(device: torch.device, jobs: int, threads: int | None) -> tuple[dict, dict]:
    """The prices that do not grow with the grid, (fastest, typical): a fresh Python's start,
    the workers' start, and one report figure."""
    startup = _startup_seconds()
    pool_start = _pool_start_seconds(device, jobs, threads)
    figure = _figure_seconds()
    return (
        {"startup": min(startup), "pool_start": pool_start, "per_figure": min(figure)},
        {"startup": max(startup), "pool_start": pool_start, "per_figure": float(np.median(figure))},
    )


def prices(
    device: torch.device, jobs: int, threads: int | None, recalibrate: bool = False
) -> tuple[tuple[Calibration, Calibration], bool]:
    """(fastest, median) prices for `jobs` workers of `threads` threads, and whether cached.

    On a CPU with several jobs, every worker calibrates at the same time, so the prices
    include what the workers cost each other (shared caches and memory bandwidth).
    """
    key = _cache_key(device, jobs, threads)
    cached = None if recalibrate else _cached_prices(key)
    if cached is not None:
        return cached, True
    fixed = fixed_costs(device, jobs, threads)
    if jobs > 1 and device.type == "cpu":
        measured = joblib.Parallel(n_jobs=jobs, backend="loky")(
            joblib.delayed(_calibrate_in_worker)(str(device), threads) for _ in range(jobs)
        )
        fastest = Calibration(*np.mean([list(asdict(m[0]).values()) for m in measured], axis=0))
        typical = Calibration(*np.mean([list(asdict(m[1]).values()) for m in measured], axis=0))
    else:
        saved = torch.get_num_threads()
        try:
            fastest, typical = calibrate(device, threads)
        finally:
            torch.set_num_threads(saved)
    result = (replace(fastest, **fixed[0]), replace(typical, **fixed[1]))
    _store_prices(key, result)
    return result, False


# `nonlinbench report` in units of one representative figure drawn and saved
# (`Calibration.per_figure`, measured on this machine): a fixed part, a part per activation (the
# rows of its figures and tables) and a part per 1000 runs (the bootstrap intervals). Fitted on a
# loaded 2-core CPU (a figure 0.3 s): seed 14 s, quick 26 s, playground 21 s, default 106 s; the
# per-run part refitted on a quiet one once the explore page was written alongside (report:
# seed 8 s, playground 10 s, theory 11 s, default 24 s; estimated 7, 9, 14 and 28 s).
REPORT_FIXED = 39.0
REPORT_PER_ACTIVATION = 4.0
REPORT_PER_1000_RUNS = 10.0


def report_seconds(plan: Plan, calibration: Calibration) -> float:
    """About how long `nonlinbench report` takes on the plan's grid (figures, tables, page)."""
    units = (
        REPORT_FIXED
        + REPORT_PER_ACTIVATION * plan.activations
        + REPORT_PER_1000_RUNS * plan.total / 1000
    )
    return calibration.per_figure * units


def _figure_seconds() -> list[float]:
    """Seconds to draw and save a representative report figure (2 x 2 panels, each a 100 x 100
    decision surface and 200 test points), after one untimed drawing (imports, fonts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    surface, points = rng.random((100, 100)), rng.random((2, 200))

    def draw() -> float:
        start = time.perf_counter()
        fig, axes = plt.subplots(2, 2, figsize=(6, 6))
        for ax in axes.flat:
            ax.pcolormesh(surface, shading="auto")
            ax.scatter(*points, s=4)
            ax.set_title("panel")
        fig.savefig(io.BytesIO(), format="png", dpi=100)
        plt.close(fig)
        return time.perf_counter() - start

    draw()
    return [draw() for _ in range(REPEATS)]


def estimate(
    plan: Plan,
    device: torch.device,
    jobs: int = 1,
    threads: int | None = None,
    recalibrate: bool = False,
    planning: float = 0.0,
) -> Estimate:
    """The time `nonlinbench run` takes for the plan's tasks with `jobs` workers of `threads`
    threads each: start, planning (`planning` seconds, as `plan` measured its own), training
    and storing."""
    if threads is None and device.type == "cpu":
        threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    (fastest, typical), cached = prices(device, jobs, threads, recalibrate)
    workers = jobs if device.type == "cpu" else 1

    def parts(c: Calibration) -> tuple[tuple[str, float], ...]:
        training = sum(
            c.task_seconds(task, plan.datasets[data_key(task.specs[0])]) for task in plan.tasks
        )
        workers_start = c.pool_start if workers > 1 and len(plan.tasks) > 1 else 0.0
        return (
            ("start", c.startup + workers_start),
            ("planning", planning),
            ("training", training / max(min(workers, len(plan.tasks)), 1)),
            ("storing", len(plan.tasks) * c.per_task),
        )

    low, high = parts(fastest), parts(typical)
    return Estimate(
        low=sum(s for _, s in low),
        high=sum(s for _, s in high),
        cached=cached,
        parts=high,
        report=(report_seconds(plan, fastest), report_seconds(plan, typical)),
    )
