"""The eager training loop of a stacked program (autograd, one optimizer step per batch): the
engine's generic path, the CUDA-graph path's fallback and the reference for both. Kept apart
from bench.engine.train, which picks a path per chunk, so engine.graphs can fall back to it
without importing the chooser back.
"""

from __future__ import annotations

import torch

from bench.engine.optim import StackedOptimizer
from bench.engine.options import TrainOptions
from bench.engine.reference import batches, eval_epochs, has_diverged, shuffle_order, weight_penalty
from bench.engine.stacked import StackedData, StackedMLP, per_model_loss, per_model_score


@torch.no_grad()
def evaluate(net: StackedMLP, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-model mean loss and accuracy on (X, y): two (models,) tensors."""
    logits = net(X)
    return per_model_loss(logits, y), per_model_score(logits, y)


def minibatch(
    X: torch.Tensor, y: torch.Tensor, order: torch.Tensor | None, batch: slice
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step's samples: X (models, in, batch), y (models, batch). order (models, samples)
    is each model's shuffled sample order for the epoch, None when every model takes the same
    samples in order (a single full batch)."""
    if order is None:
        return X[:, :, batch], y[:, batch]
    idx = order[:, batch]  # (models, batch): each model's own samples
    return X.gather(2, idx[:, None, :].expand(-1, X.shape[1], -1)), y.gather(1, idx)


def train_stacked(
    net: StackedMLP,
    data: StackedData,
    options: TrainOptions,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Trains the stacked models in place, as `options` says; dropout is the network's
    (`StackedMLP.dropout`).

    X: (models, in, samples), y: (models, samples). Returns curves (evaluations, 4, models)
    holding train_loss, test_loss, train_acc, test_acc at `eval_epochs(epochs, eval_every)`,
    and diverged_epoch (models,) int64, 0 if never. Everything stays on the device: no host
    synchronisation inside the loop.
    """
    X_train, y_train, X_test, y_test = data
    models, n_train = X_train.shape[0], X_train.shape[2]
    seeds, epochs, device = options.seeds, options.epochs, X_train.device
    record_at = eval_epochs(epochs, options.eval_every)
    curves = torch.empty(len(record_at), 4, models, device=device)
    alive = torch.ones(models, dtype=torch.bool, device=device)
    diverged_epoch = torch.zeros(models, dtype=torch.int64, device=device)
    opt = StackedOptimizer(net.parameters(), options.optimizer, options.lr, options.momentum)
    slices = batches(n_train, options.batch_size)
    weight_decay, l1, penalised = options.penalties(net.weights[0].dtype)

    # Full batch without dropout: the training forward of epoch e+1 sees exactly the model
    # after epoch e on the whole training set, so train metrics recorded at epoch e are read
    # from it instead of a separate evaluation pass (the same numbers, one forward pass
    # fewer). Only the last epoch's train metrics need their own pass.
    full_batch = len(slices) == 1 and net.dropout is None
    deferred: int | None = None  # curve slot waiting for the next training forward
    initial_loss: torch.Tensor | None = None  # (models,) the first training loss

    def record(slot: int, train: bool) -> None:
        if train:
            curves[slot, 0], curves[slot, 2] = evaluate(net, X_train, y_train)
        curves[slot, 1], curves[slot, 3] = evaluate(net, X_test, y_test)

    record(0, train=not full_batch)
    deferred = 0 if full_batch else None
    slot = 1
    for epoch in range(1, epochs + 1):
        order = shuffle_order(seeds, epoch, n_train) if len(slices) > 1 else None
        for step, batch in enumerate(slices):
            Xb, yb = minibatch(X_train, y_train, order, batch)
            # 1. Forward (with this step's dropout masks) and per-model loss: (models,).
            logits = net.forward(Xb, draw=(seeds, epoch, step))[0]
            loss = per_model_loss(logits, yb)
            if deferred is not None:
                curves[deferred, 0] = loss.detach()
                curves[deferred, 2] = per_model_score(logits.detach(), yb)
                deferred = None
            # 2. A model whose loss diverges (model.has_diverged) is frozen here and flagged.
            if initial_loss is None:
                initial_loss = loss.detach().clone()
            newly = alive & has_diverged(loss.detach(), initial_loss)
            diverged_epoch = torch.where(newly, epoch, diverged_epoch)
            alive = alive & ~newly
            # 3. Sum of per-model losses (plus weight penalties): each model's gradient is its own.
            if penalised:
                loss = loss + weight_penalty(net.weights, weight_decay, l1)
            torch.where(alive, loss, 0.0).sum().backward()
            opt.step(alive)
        if slot < len(record_at) and epoch == record_at[slot]:
            last = epoch == epochs
            record(slot, train=not full_batch or last)
            deferred = slot if full_batch and not last else None
            slot += 1
    return curves, diverged_epoch
