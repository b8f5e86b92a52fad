"""The cost line of a card: time per training step of the candidate against relu.

Both are timed on the engine's generic path (`bench.engine.train_stacked`), the path every
activation can take, on the same chunk: COST_MODELS models of the protocol's circles shape
nearest depth 4, full batch, Adam, on one thread. The two are timed in alternation,
COST_ROUNDS times each, and the fastest round of each is kept: other work on the machine only
ever slows a round down, so the minimum is the least disturbed measurement of both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from bench import engine
from bench.activations.registry import Activation
from bench.data.datasets import data_key, load_data
from bench.engine.reference import output_size
from bench.spec import RunSpec

COST_MODELS = 32  # models in the timed chunk
COST_EPOCHS = 5  # full-batch steps per round
COST_ROUNDS = 7  # rounds per activation, alternating; the fastest is kept


@dataclass(frozen=True)
class Cost:
    seconds_per_step: float  # the candidate's, per step of COST_MODELS models
    relu_seconds_per_step: float
    relative: float  # candidate / relu: 1.0 is as fast as relu, 3.0 three times slower
    path: str  # the engine path both were timed on


def _round(activation: Activation, spec: RunSpec) -> Callable[[], float]:
    """A function timing one round (COST_EPOCHS steps) of COST_MODELS runs of `spec`."""
    specs = [
        RunSpec(**{**spec.__dict__, "seed": s, "epochs": COST_EPOCHS}) for s in range(COST_MODELS)
    ]
    datasets = {data_key(s): load_data(s) for s in specs}
    data = datasets[data_key(specs[0])]
    stacked = engine.stack_data(specs, datasets, "cpu")
    options = engine.TrainOptions.for_runs(specs, torch.float32, "cpu")
    options = replace(options, eval_every=COST_EPOCHS)

    def timed() -> float:
        net = engine.build_stacked(
            specs, activation, data.n_features, output_size(data.n_classes), "cpu"
        )
        start = time.perf_counter()
        engine.train_stacked(net, stacked, options)
        return (time.perf_counter() - start) / COST_EPOCHS

    return timed


def measure_cost(candidate: Activation, relu: Activation, spec: RunSpec) -> Cost:
    """The candidate's and relu's step times on the generic path, and their ratio."""
    ours, theirs = _round(candidate, spec), _round(relu, spec)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = [(ours(), theirs()) for _ in range(COST_ROUNDS)]
    finally:
        torch.set_num_threads(threads)
    best_ours, best_theirs = min(t[0] for t in times), min(t[1] for t in times)
    return Cost(best_ours, best_theirs, best_ours / best_theirs, "generic")
