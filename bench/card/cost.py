"""The cost line of a card: time per training step of the candidate against relu.

Both are timed on the engine's generic path (`bench.engine.train_stacked`), the path every
activation can take, on the same chunk: COST_MODELS models of the protocol's middle shape on
circles, full batch, Adam. relu alone may also take the fused kernel in a real run, so the
card states both the ratio on the same path and the path each trained on in the protocol.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from bench import engine
from bench.data import data_key, load_data
from bench.model import output_size
from bench.registry import Activation
from bench.spec import RunSpec

COST_MODELS = 32  # models in the timed chunk
COST_EPOCHS = 10  # full-batch steps per timing
COST_REPEATS = 2  # the fastest of these is kept (the least disturbed by other work)


@dataclass(frozen=True)
class Cost:
    seconds_per_step: float  # the candidate's, per step of COST_MODELS models
    relu_seconds_per_step: float
    relative: float  # candidate / relu: 1.0 is as fast as relu, 3.0 three times slower
    path: str  # the engine path both were timed on


def step_seconds(activation: Activation, spec: RunSpec) -> float:
    """Seconds per full-batch training step of COST_MODELS runs of `spec` with `activation`."""
    specs = [
        RunSpec(**{**spec.__dict__, "seed": s, "epochs": COST_EPOCHS}) for s in range(COST_MODELS)
    ]
    datasets = {data_key(s): load_data(s) for s in specs}
    data = datasets[data_key(specs[0])]
    X_train, y_train, X_test, y_test = engine.stack_data(specs, datasets, "cpu")
    best = float("inf")
    for _ in range(COST_REPEATS):
        net = engine.build_stacked(
            specs, activation, data.n_features, output_size(data.n_classes), "cpu"
        )
        start = time.perf_counter()
        engine.train_stacked(
            net, X_train, y_train, X_test, y_test,
            optimizer=spec.optimizer,
            lr=torch.full((len(specs),), spec.lr),
            seeds=torch.tensor([s.seed for s in specs]),
            epochs=COST_EPOCHS, eval_every=COST_EPOCHS,
        )  # fmt: skip
        best = min(best, time.perf_counter() - start)
    return best / COST_EPOCHS


def measure_cost(candidate: Activation, relu: Activation, spec: RunSpec) -> Cost:
    """The candidate's and relu's step times on the generic path, and their ratio."""
    ours = step_seconds(candidate, spec)
    theirs = step_seconds(relu, spec)
    return Cost(ours, theirs, ours / theirs, "generic")
