"""How long a plan will take: prices measured on this machine, cached, and a range.

`calibrate` times small representative chunks three times each. The fastest of the three
prices an unloaded machine (other processes only ever slow a measurement down), the median a
typical one; `estimate` applies both to every task, so `plan` shows a range. Prices are cached
per machine, device, thread and job count, torch and engine version, so `plan` answers at once
after its first call (`--recalibrate` measures again).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import joblib
import numpy as np
import torch

from bench import engine
from bench.data import Dataset, data_key, load_data
from bench.plan import Plan, Task, run_work
from bench.registry import BUILTIN_REGISTRY
from bench.spec import RunSpec

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

    def describe(self) -> str:
        low, high = human_duration(self.low), human_duration(self.high)
        return low if low == high else f"{low} to {high}"


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
    return fastest, typical


def _calibrate_in_worker(device: str, threads: int | None) -> tuple[Calibration, Calibration]:
    return calibrate(torch.device(device), threads)


def cache_path() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "nonlinbench" / "calibration.json"


def _cache_key(device: torch.device, jobs: int, threads: int | None) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.node()}|{cpu}|{engine.device_label(device)}|jobs={jobs}|threads={threads}|"
        f"torch={torch.__version__}|engine={engine.ENGINE_VERSION}"
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
    if jobs > 1 and device.type == "cpu":
        measured = joblib.Parallel(n_jobs=jobs, backend="loky")(
            joblib.delayed(_calibrate_in_worker)(str(device), threads) for _ in range(jobs)
        )
        fastest = Calibration(*np.mean([list(asdict(m[0]).values()) for m in measured], axis=0))
        typical = Calibration(*np.mean([list(asdict(m[1]).values()) for m in measured], axis=0))
        result = (fastest, typical)
    else:
        saved = torch.get_num_threads()
        try:
            result = calibrate(device, threads)
        finally:
            torch.set_num_threads(saved)
    _store_prices(key, result)
    return result, False


def estimate(
    plan: Plan,
    device: torch.device,
    jobs: int = 1,
    threads: int | None = None,
    recalibrate: bool = False,
) -> Estimate:
    """The time to train the plan's tasks with `jobs` workers of `threads` threads each."""
    if threads is None and device.type == "cpu":
        threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    (fastest, typical), cached = prices(device, jobs, threads, recalibrate)

    def total(c: Calibration) -> float:
        seconds = sum(
            c.task_seconds(task, plan.datasets[data_key(task.specs[0])]) for task in plan.tasks
        )
        return seconds / max(jobs, 1)

    return Estimate(low=total(fastest), high=total(typical), cached=cached)
