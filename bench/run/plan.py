"""Planning a grid: which runs are still to train, in which chunks, and how long it will take.

    grid -> specs + run ids -> skip stored -> groups -> chunks (tasks)

A task carries everything a worker needs (the specs, the activation's record, which rows keep
a decision surface), so workers look nothing up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from bench import engine
from bench.activations.registry import Activation
from bench.data.datasets import Dataset, DatasetError, data_key, is_csv
from bench.engine.reference import LayerStack
from bench.grid.parse import MAX_RUNS, Grid, GridError, dataset_fingerprints, run_ids
from bench.results.store import Store
from bench.schema import SURFACE_CELL
from bench.spec import RunSpec


@dataclass
class Task:
    """One chunk: runs of one group that train together as one stacked program."""

    specs: list[RunSpec]
    run_ids: list[str]
    activation: Activation  # travels with the task, so workers know plugin activations
    surface_rows: tuple[int, ...] = ()  # positions whose decision surface is stored
    # CSV data as read (and hashed) at planning, by data_key: a worker trains on exactly what
    # the run ids name, even if the file changes meanwhile. Built-in data is regenerated.
    datasets: dict[tuple, Dataset] = field(default_factory=dict)
    cost: float = 0.0  # relative cost, for ordering and estimates
    # A folder where the worker notes that it began this task (bench.run.execute), so the runner
    # knows which chunks a killed worker pool held; "" for none.
    started: str = ""

    def __len__(self) -> int:
        return len(self.specs)


@dataclass
class Plan:
    grid: Grid
    total: int  # runs in the grid
    stored: int  # already stored, skipped
    groups: int  # groups among the runs still to train
    tasks: list[Task] = field(default_factory=list)
    datasets: dict[tuple, Dataset] = field(default_factory=dict)  # by data_key
    # Each block's run ids, in the order of grid.all_blocks() (a run in two blocks is in both).
    block_ids: list[list[str]] = field(default_factory=list)
    # Distinct activation labels among the runs: the report's rows, which with the number of
    # runs price `nonlinbench report` (bench.run.estimate.report_seconds).
    activations: int = 0

    @property
    def pending(self) -> int:
        return sum(len(t) for t in self.tasks)


def surface_runs(specs: list[RunSpec], ids: list[str]) -> set[str]:
    """One run per setting of every axis that changes the learned function (schema.SURFACE_CELL:
    all but the seeds and what is only recorded), the first in grid order: so every cell that
    a report or the explore page can show has its own decision surface."""
    chosen: dict[tuple, str] = {}
    for spec, rid in zip(specs, ids, strict=True):
        chosen.setdefault(tuple(getattr(spec, axis) for axis in SURFACE_CELL), rid)
    return set(chosen.values())


def run_work(spec: RunSpec, data: Dataset) -> tuple[float, float]:
    """The work of training one model: (multiply-adds, unit activations), each x samples x epochs.

    Small widths are bound by the elementwise work per unit (activation forward and backward,
    bias, loss), large ones by the matmuls; `calibrate` measures the price of each.
    """
    stack = LayerStack.of(data.n_features, data.n_classes, spec.depth, spec.width)
    samples = len(data.X_train) + len(data.X_test) / max(spec.eval_every, 1)
    return spec.epochs * samples * stack.multiply_adds, spec.epochs * samples * stack.units


# An elementwise unit activation (forward, backward, bias, loss) measured about as dear as 32
# multiply-adds on small networks; only the order of tasks depends on it.
UNIT_COST_IN_MACS = 32


def run_cost(spec: RunSpec, data: Dataset) -> float:
    """A single number proportional to a run's work, for ordering tasks largest first."""
    macs, units = run_work(spec, data)
    return macs + UNIT_COST_IN_MACS * units


def make_plan(
    grid: Grid,
    store: Store,
    device: torch.device,
    *,
    fresh: bool = False,
    max_chunk: int | None = None,
    max_runs: int = MAX_RUNS,
) -> Plan:
    """Counts the grid (refusing one above `max_runs` before making any run), skips what is
    stored, loads each dataset once (every data problem is found here, before training) and
    cuts the rest into tasks."""
    grid.check_size(max_runs)
    specs, membership = grid.membership()
    fingerprints = dataset_fingerprints(specs)
    ids = run_ids(specs, fingerprints)
    stored = set() if fresh else store.stored_ids()
    with_surface = surface_runs(specs, ids)
    pending = [i for i, rid in enumerate(ids) if rid not in stored]
    try:
        datasets, chunks, n_groups = engine.chunk_indices(
            [specs[i] for i in pending], device, max_chunk
        )
    except DatasetError as exc:
        raise GridError(f"grid {grid.source}: {exc}") from None
    for (name, *_), data in datasets.items():
        if data.fingerprint != fingerprints[name]:
            raise GridError(
                f"grid {grid.source}: dataset file {name} changed while the grid was being "
                "planned; run the command again"
            )
    tasks = []
    for chunk in chunks:
        part = [pending[k] for k in chunk]
        spec0 = specs[part[0]]
        tasks.append(
            Task(
                specs=[specs[i] for i in part],
                run_ids=[ids[i] for i in part],
                activation=grid.activations[spec0.activation],
                surface_rows=tuple(row for row, i in enumerate(part) if ids[i] in with_surface),
                datasets={
                    key: datasets[key]
                    for key in {data_key(specs[i]) for i in part}
                    if is_csv(key[0])
                },
                cost=run_cost(spec0, datasets[data_key(spec0)]) * len(part),
            )
        )
    block_ids: list[list[str]] = [[] for _ in grid.all_blocks()]
    for rid, held_by in zip(ids, membership, strict=True):
        for b in held_by:
            block_ids[b].append(rid)
    tasks.sort(key=lambda t: -t.cost)  # largest first: better load balance across workers
    return Plan(
        grid=grid,
        total=len(specs),
        stored=sum(rid in stored for rid in ids),
        groups=n_groups,
        tasks=tasks,
        datasets=datasets,
        block_ids=block_ids,
        activations=len({s.activation for s in specs}),
    )


def split_tasks_of(task: Task, max_models: int) -> list[Task]:
    """The task cut into pieces of at most `max_models` runs, in order."""
    pieces = []
    for start in range(0, len(task), max_models):
        stop = min(start + max_models, len(task))
        specs = task.specs[start:stop]
        keys = {data_key(s) for s in specs}
        pieces.append(
            Task(
                specs=specs,
                run_ids=task.run_ids[start:stop],
                activation=task.activation,
                surface_rows=tuple(r - start for r in task.surface_rows if start <= r < stop),
                datasets={k: v for k, v in task.datasets.items() if k in keys},
                cost=task.cost * len(specs) / max(len(task), 1),
                started=task.started,
            )
        )
    return pieces


def split_tasks(plan: Plan, max_models: int) -> Plan:
    """The plan with every task of more than `max_models` runs cut into pieces of at most that
    many (a smaller chunk needs less memory: bench.run.memory), largest first again."""
    tasks = [piece for task in plan.tasks for piece in split_tasks_of(task, max_models)]
    tasks.sort(key=lambda t: -t.cost)
    return replace(plan, tasks=tasks)
