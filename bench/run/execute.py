"""One task, trained and turned into the tables of a shard (in whatever process runs it).

    task -> engine (arrays) -> tables (schema's columns)

Module-level functions, so joblib (loky) and Dask can ship them to other processes and
machines; a task carries everything needed (specs, the activation's record, CSV data).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import bench
from bench import engine, schema
from bench.run.plan import Task, split_tasks_of


@dataclass
class TaskOutcome:
    """A finished chunk as the tables (schema.TABLES) of a shard."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    surfaces: pd.DataFrame
    weights: pd.DataFrame


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
    for column in schema.names(schema.CURVE_COLUMNS)[2:]:
        curves[column] = np.float32(np.nan)  # the other task's columns stay NaN
    for j, column in enumerate(schema.curve_columns(arrays.n_classes == 0)):
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
                "test_target": s.plane.test_targets,
            }
            for s in arrays.surfaces
        ],
        columns=schema.names(schema.SURFACE_COLUMNS),
    )
    weights = pd.DataFrame(
        {
            "run_id": task.run_ids,
            "layout": json.dumps([[name, list(shape)] for name, shape in arrays.weight_layout]),
            "params": list(arrays.weights),
        },
        columns=schema.names(schema.WEIGHT_COLUMNS),
    )
    return TaskOutcome(runs=runs, curves=curves, surfaces=surfaces, weights=weights)


def failed_outcome(task: Task, device: str | torch.device, error: str) -> TaskOutcome:
    """The rows of a chunk whose runs failed, with the reason in `error`."""
    runs = _run_rows(task)
    runs["affine"] = task.activation.affine
    runs["diverged"] = False
    runs["error"] = error.strip()[:2000]
    empty = pd.DataFrame()
    return _stamped(TaskOutcome(runs=runs, curves=empty, surfaces=empty, weights=empty), device)


def _stamped(outcome: TaskOutcome, device: str | torch.device) -> TaskOutcome:
    """Where and by which versions the chunk was trained."""
    resolved = engine.resolve_device(device) if isinstance(device, str) else device
    outcome.runs["device"] = engine.device_label(resolved)
    outcome.runs["engine_version"] = engine.ENGINE_VERSION
    outcome.runs["nonlinbench_version"] = bench.__version__
    return outcome


def halves(task: Task) -> list[Task]:
    """The task as two of half its models each (one, when it holds one model)."""
    return split_tasks_of(task, max(1, (len(task) + 1) // 2))


def _train(task: Task, device: torch.device) -> TaskOutcome:
    arrays = engine.train_chunk(
        task.specs,
        task.activation,
        device,
        surface_rows=task.surface_rows,
        datasets=task.datasets,
    )
    return outcome_tables(task, arrays)


def _concat(outcomes: list[TaskOutcome]) -> TaskOutcome:
    return TaskOutcome(
        *(pd.concat([getattr(o, f) for o in outcomes], ignore_index=True) for f in
          ("runs", "curves", "surfaces", "weights"))
    )  # fmt: skip


def execute_task(task: Task, device: str, threads: int | None) -> TaskOutcome:
    """Trains one chunk; never raises for a failing run: the error goes into its rows.

    A chunk that runs out of GPU memory is trained again as two halves, once; what still does
    not fit is recorded as failed. Module-level so joblib (loky) and Dask can ship it to other
    processes and machines. When the task names a `started` folder, a file there (named by its
    first run id) tells the runner that this chunk was being trained if the worker is killed.
    """
    if task.started:
        (Path(task.started) / task.run_ids[0]).write_text(str(os.getpid()))
    if threads:
        torch.set_num_threads(threads)
    resolved = engine.resolve_device(device)
    try:
        outcome = _train(task, resolved)
    except torch.cuda.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        first = str(exc).splitlines()[0] if str(exc) else "CUDA out of memory"
        parts = []
        for half in halves(task):
            try:
                parts.append(_train(half, resolved))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                error = f"out of GPU memory training a chunk of {len(task)} models, and again as "
                parts.append(failed_outcome(half, resolved, f"{error}{len(half)}: {first}"))
            except Exception as again:  # noqa: BLE001 - recorded, like any failing group
                parts.append(failed_outcome(half, resolved, f"{type(again).__name__}: {again}"))
        outcome = _concat(parts)
    except Exception as exc:  # a group that raises is recorded as failed, the grid goes on
        return failed_outcome(task, resolved, f"{type(exc).__name__}: {exc}")
    return _stamped(outcome, resolved)
