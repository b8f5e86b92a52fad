"""The CUDA path: `train_stacked`'s epoch captured once as a CUDA graph and replayed.

Why: on a GPU a seed-sized chunk is launch-bound. One epoch of `train_stacked` is about a
hundred small kernels (forward, loss, backward, the optimizer, the divergence check), each a
few microseconds of work behind tens of microseconds of Python and launch; a CUDA graph
replays the whole epoch with one launch.

How: every quantity that changes from epoch to epoch lives on the device, so one captured
epoch serves them all:

    epoch           a 0-d int64 tensor, incremented inside the graph; the mini-batch order
                    (`bench.engine.reference.shuffle_order`) and the dropout masks (`dropout_scale`) are
                    computed from it on the device
    optimizer       StackedOptimizer(capturable=True): the step count on the device, the
                    momentum buffers allocated up front
    divergence      `alive`, `diverged_epoch` and the first loss, updated in place
    train metrics   the last training forward's loss and score, in static buffers

Steps: (1) epoch 1 runs eagerly on a side stream (it sets the first loss, and warms up the
allocator and autograd as capture requires); (2) one epoch is captured, and the test (and,
without deferred metrics, train) evaluations are captured as graphs of their own; (3) the
graphs replay for epochs 2..E, and the host only copies static buffers into the curves at the
evaluation epochs. The arithmetic is `train_stacked`'s, operation for operation; with
capture=False the same step functions run eagerly (any device), which is how the CPU tests
check them against train_stacked and the reference loop.

`use_graphs` picks this path on CUDA (NONLINBENCH_GRAPHS=0 turns it off). If capture fails
(an activation or a driver that cannot be captured) the chunk is retrained by train_stacked
from its initial parameters, and the reason is kept in `LAST_FALLBACK`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from bench.engine.eager import minibatch, train_stacked
from bench.engine.optim import StackedOptimizer
from bench.engine.options import TrainOptions
from bench.engine.reference import batches, eval_epochs, has_diverged, shuffle_order, weight_penalty
from bench.engine.stacked import StackedData, StackedMLP, per_model_loss, per_model_score

ENV = "NONLINBENCH_GRAPHS"  # 1 (default): capture on CUDA; 0: train_stacked's eager loop
LAST_FALLBACK: list[str] = []  # why the last chunks fell back to the eager loop


def use_graphs(device: torch.device) -> bool:
    """Whether train_chunk trains on `device` with captured epochs (CUDA, unless turned off)."""
    return device.type == "cuda" and os.environ.get(ENV, "1") != "0"


@dataclass
class _State:
    """Everything one epoch reads and writes, at fixed addresses (a captured graph's)."""

    net: StackedMLP
    opt: StackedOptimizer
    epoch: torch.Tensor  # () int64: the epoch being trained
    alive: torch.Tensor  # (models,) bool
    diverged_epoch: torch.Tensor  # (models,) int64, 0: never
    initial_loss: torch.Tensor  # (models,) the first training loss
    train_loss: torch.Tensor  # (models,) the last training forward's loss (full batch)
    train_score: torch.Tensor  # (models,) and score
    test_loss: torch.Tensor  # (models,) the last evaluation's, on the test set
    test_score: torch.Tensor
    eval_loss: torch.Tensor  # (models,) the last evaluation's, on the training set
    eval_score: torch.Tensor


def _epoch(state: _State, X: torch.Tensor, y: torch.Tensor, slices: list[slice], seeds,
           weight_decay, l1, penalised: bool) -> None:  # fmt: skip
    """One training epoch, train_stacked's inner loop with the epoch on the device."""
    net, n_train = state.net, X.shape[2]
    order = shuffle_order(seeds, state.epoch, n_train) if len(slices) > 1 else None
    for step, batch in enumerate(slices):
        Xb, yb = minibatch(X, y, order, batch)
        logits = net.forward(Xb, draw=(seeds, state.epoch, step))[0]
        loss = per_model_loss(logits, yb)
        state.train_loss.copy_(loss.detach())
        state.train_score.copy_(per_model_score(logits.detach(), yb))
        newly = state.alive & has_diverged(loss.detach(), state.initial_loss)
        state.diverged_epoch.copy_(torch.where(newly, state.epoch, state.diverged_epoch))
        state.alive.copy_(state.alive & ~newly)
        if penalised:
            loss = loss + weight_penalty(net.weights, weight_decay, l1)
        torch.where(state.alive, loss, 0.0).sum().backward()
        state.opt.step(state.alive)
    state.epoch += 1


@torch.no_grad()
def _evaluate(net: StackedMLP, X, y, loss_out: torch.Tensor, score_out: torch.Tensor) -> None:
    logits = net(X)
    loss_out.copy_(per_model_loss(logits, y))
    score_out.copy_(per_model_score(logits, y))


def train_graphed(
    net: StackedMLP,
    data: StackedData,
    options: TrainOptions,
    capture: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`eager.train_stacked`'s contract (same arguments, same results) with one epoch captured
    as a CUDA graph and replayed; capture=None: on CUDA. Falls back to train_stacked (from the
    initial parameters) when capture fails."""

    device = data.X_train.device
    capture = device.type == "cuda" if capture is None else capture
    args = (net, data, options)
    initial = [p.detach().clone() for p in net.parameters()]
    try:
        return _train(*args, capture=capture)
    except torch.cuda.OutOfMemoryError:
        raise  # the runner's to handle (bench.run.execute retries the chunk as halves)
    except RuntimeError as exc:  # capture refused: train the chunk again, eagerly
        if not capture:
            raise
        LAST_FALLBACK.append(f"{type(exc).__name__}: {exc}"[:500])
        with torch.no_grad():
            for p, p0 in zip(net.parameters(), initial, strict=True):
                p.copy_(p0)
                p.grad = None
        return train_stacked(*args)


def _train(net: StackedMLP, data: StackedData, options: TrainOptions, capture: bool):
    X_train, y_train, X_test, y_test = data
    models, n_train = X_train.shape[0], X_train.shape[2]
    seeds, epochs, device = options.seeds, options.epochs, X_train.device
    record_at = eval_epochs(epochs, options.eval_every)
    curves = torch.empty(len(record_at), 4, models, device=device)
    slices = batches(n_train, options.batch_size)
    weight_decay, l1, penalised = options.penalties(net.weights[0].dtype)
    zeros = torch.zeros(models, dtype=net.weights[0].dtype, device=device)
    full_batch = len(slices) == 1 and net.dropout is None  # deferred train metrics, as there

    def buffer(like=zeros):
        return torch.zeros_like(like)

    state = _State(
        net=net,
        opt=StackedOptimizer(
            net.parameters(), options.optimizer, options.lr, options.momentum, capturable=True
        ),
        epoch=torch.ones((), dtype=torch.int64, device=device),
        alive=torch.ones(models, dtype=torch.bool, device=device),
        diverged_epoch=torch.zeros(models, dtype=torch.int64, device=device),
        initial_loss=buffer(),
        train_loss=buffer(),
        train_score=torch.zeros(models, device=device),
        test_loss=buffer(),
        test_score=torch.zeros(models, device=device),
        eval_loss=buffer(),
        eval_score=torch.zeros(models, device=device),
    )
    epoch_args = (X_train, y_train, slices, seeds, weight_decay, l1, penalised)

    def record_test(slot: int) -> None:
        curves[slot, 1], curves[slot, 3] = state.test_loss, state.test_score

    def record_train(slot: int) -> None:
        curves[slot, 0], curves[slot, 2] = state.eval_loss, state.eval_score

    def test_eval() -> None:
        _evaluate(net, X_test, y_test, state.test_loss, state.test_score)

    def train_eval() -> None:
        _evaluate(net, X_train, y_train, state.eval_loss, state.eval_score)

    # 1. Epoch 0's evaluations and epoch 1, eagerly (epoch 1 sets the first loss).
    test_eval()
    record_test(0)
    if not full_batch:
        train_eval()
        record_train(0)
    with torch.no_grad():  # the first loss: epoch 1's first forward, as train_stacked's
        logits = net.forward(_first_batch(X_train, slices, seeds), draw=(seeds, 1, 0))[0]
        state.initial_loss.copy_(per_model_loss(logits, _first_labels(y_train, slices, seeds)))
    run_epoch, run_test, run_train = _runners(state, epoch_args, test_eval, train_eval, capture)
    deferred: int | None = 0 if full_batch else None
    slot = 1
    for epoch in range(1, epochs + 1):
        run_epoch()
        if deferred is not None:  # the model after epoch e, read from epoch e + 1's forward
            curves[deferred, 0], curves[deferred, 2] = state.train_loss, state.train_score
            deferred = None
        if slot < len(record_at) and epoch == record_at[slot]:
            last = epoch == epochs
            run_test()
            record_test(slot)
            if not full_batch or last:
                run_train()
                record_train(slot)
            deferred = slot if full_batch and not last else None
            slot += 1
    return curves, state.diverged_epoch


def _first_batch(X: torch.Tensor, slices: list[slice], seeds: torch.Tensor) -> torch.Tensor:
    """The inputs of epoch 1's first step (in each model's shuffled order for mini-batches)."""
    if len(slices) == 1:
        return X[:, :, slices[0]]
    idx = shuffle_order(seeds, 1, X.shape[2])[:, slices[0]]
    return X.gather(2, idx[:, None, :].expand(-1, X.shape[1], -1))


def _first_labels(y: torch.Tensor, slices: list[slice], seeds: torch.Tensor) -> torch.Tensor:
    if len(slices) == 1:
        return y[:, slices[0]]
    return y.gather(1, shuffle_order(seeds, 1, y.shape[1])[:, slices[0]])


def _runners(state, epoch_args, test_eval, train_eval, capture: bool):
    """(one epoch, test evaluation, train evaluation) as callables: graph replays when
    capturing (after eager warm-up epochs on a side stream), else the eager functions."""

    def eager_epoch() -> None:
        _epoch(state, *epoch_args)

    if not capture:
        return eager_epoch, test_eval, train_eval
    # Warm-up: capture wants the allocator and autograd's buffers made on a side stream.
    # Epoch 1 is trained here, eagerly; capture then records epoch 2's work (and replays it
    # for epoch 2 onward), so the first replay is epoch 2.
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        eager_epoch()
    torch.cuda.current_stream().wait_stream(stream)
    graphs = []
    for fn in (eager_epoch, test_eval, train_eval):  # recorded, not run: replays run them
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        graphs.append(graph)
    first = [True]

    def replay_epoch() -> None:
        if first[0]:  # epoch 1 was trained during warm-up
            first[0] = False
            return
        graphs[0].replay()

    return replay_epoch, graphs[1].replay, graphs[2].replay
