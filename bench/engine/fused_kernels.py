"""Numba kernels of the fused CPU path: each model's whole training run in one compiled loop.

Why: at the seed's size (2->10->10->1, 800 samples) a hidden tensor of 256 models streams
through memory about ten times per epoch in the generic path's separate eager kernels, and
autograd adds its own passes. Here one thread trains one model start to finish: a tile of
samples goes forward, through the loss and backward with every intermediate in cache (L2),
the gradients accumulate over tiles, and the optimizer steps; models run in parallel
(`prange`). The innermost loops run over a tile's samples (contiguous), so they vectorise.

Layout (`bench.engine.fused` packs it):

    theta:  (models, P)          every weight and bias, flat: layer l's weight (o, i) sits at
                                 w_off[l] + o * sizes[l] + i, its bias o at b_off[l] + o
    X:      (models, F, n)       y: (models, n) targets in theta's dtype: class indices, or
                                 values (regression); the engine's own layout
    Z, A:   (layers [+ 1], width, tile)   pre- and post-activations of one tile of samples
    curves: (models, E, 4)       train_loss, test_loss, train_acc, test_acc at record_at

The algorithm is `bench.engine.eager.train_stacked`'s (and so `bench.engine.reference.train_reference`'s)
step for step: mean BCE-with-logits (one output), cross-entropy or squared error (regression,
scored by R^2), each model's gradient of its own mean loss (plus its weight penalties), SGD (with momentum) or Adam as torch.optim computes
them, dropout with `bench.engine.reference.dropout_scale`'s masks (fused_options), the divergence rule of
`bench.engine.reference.has_diverged`, and full-batch train metrics read from the next training forward
(without dropout). One kernel serves every depth, width and built-in activation (an integer
code per hidden layer, fused_act: a per-layer stack is an array of codes).

Numba's on-disk cache (cache=True) checks only the source file of each cached function, and
these kernels embed fused_act, fused_math and fused_options: `fused.drop_stale_kernels`
deletes their cached versions when one of those changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from bench.engine import fused_options as opt
from bench.engine.fused_act import activate, activation_backward
from bench.engine.fused_linear import forward_layer, input_grads, weight_grads
from bench.engine.fused_math import bce_float32
from bench.engine.fused_options import ADAM_BETA1, ADAM_BETA2, ADAM_EPS  # noqa: F401 (fused.py)

DIVERGENCE_FACTOR = 100.0  # bench.engine.reference's (fused.py checks)


# --------------------------------------------------------------------------- one tile


@njit(cache=True)
def _forward(theta, sizes, w_off, b_off, codes, Z, A, count, bits, drop):
    """Forward of one tile: A[0, :F, :count] holds the inputs; fills Z[l] (pre-activations;
    the last layer's are the logits) and A[l + 1] (post-activations). drop = (threshold,
    keep_scale, salt, position, R, M): with threshold > 0, dropout (fused_options.dropout)
    follows each hidden activation, R[l] keeps the activations and M[l] the multipliers."""
    layers = len(sizes) - 1
    threshold, keep_scale, salt, position, R, M = drop
    for layer in range(layers):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        w0, b0 = w_off[layer], b_off[layer]
        forward_layer(theta, w0, b0, fan_in, fan_out, A[layer], Z[layer], count)
        z = Z[layer]
        if layer < layers - 1:
            act = R[layer] if threshold > 0 else A[layer + 1]
            activate(codes[layer], z, act, fan_out, count, bits)
            if threshold > 0:
                opt.dropout(act, A[layer + 1], M[layer], fan_out, count, salt, layer, position,
                            threshold, keep_scale)  # fmt: skip


@njit(cache=True)
def _loss(logits, labels, count, scale, G, bits, regression):
    """Sum of the tile's losses and hits (float64; regression: no hits); writes
    d(scale x loss)/d(logits) into G[:out]. logits: (out, tile); labels: (tile,) targets in
    logits' dtype (class indices, or values for regression); bits: (tile,) int32 scratch. One
    output: BCE with logits, (1 - y) z + log(1 + exp(-z)) as torch, or squared error
    (regression); several: cross-entropy through log-softmax."""
    t = logits.dtype.type
    zero, one, two = t(0.0), t(1.0), t(2.0)
    out = logits.shape[0]
    loss, correct = 0.0, 0.0
    if regression:  # (z - y)^2, its gradient 2 (z - y) as autograd's pow backward
        for s in range(count):
            d = logits[0, s] - labels[s]
            loss += d * d
            G[0, s] = two * d * scale
        return loss, correct
    if out == 1 and logits.itemsize == 4:
        return bce_float32(logits, labels, count, scale, G, bits)
    if out == 1:  # float64: libm's exp and log1p (the float64 check wants them exact)
        for s in range(count):
            z = logits[0, s]
            y = labels[s]
            e = np.exp(-abs(z))  # one exp serves the loss and the sigmoid
            loss += (z if z > zero else zero) - z * y + np.log1p(e)
            sigmoid = one / (one + e) if z >= zero else e / (one + e)
            G[0, s] = (sigmoid - y) * scale
            correct += 1.0 if (z > zero) == (y == one) else 0.0
        return loss, correct
    for s in range(count):
        label = np.int64(labels[s])
        best = 0
        for c in range(1, out):
            if logits[c, s] > logits[best, s]:
                best = c
        mx = logits[best, s]
        total = zero
        for c in range(out):
            total += np.exp(logits[c, s] - mx)
        loss += np.log(total) + mx - logits[label, s]
        for c in range(out):
            G[c, s] = np.exp(logits[c, s] - mx) / total * scale
        G[label, s] -= scale
        correct += 1.0 if best == label else 0.0
    return loss, correct


@njit(cache=True, inline="always")
def _score(loss, correct, n, total_ss, regression):
    """Accuracy (hits / n), or for regression R^2 = 1 - SS_res / SS_tot (loss: SS_res)."""
    return 1.0 - loss / total_ss if regression else correct / n


@njit(cache=True, inline="always")
def _total_ss(y, regression):
    """SS_tot = sum (y - mean y)^2 of a target row in its dtype, as bench.engine.reference.r_squared."""
    if not regression:
        return 1.0
    t = y.dtype.type
    mean = t(0.0)
    for s in range(y.shape[0]):
        mean += y[s]
    mean = mean / t(y.shape[0])
    total = t(0.0)
    for s in range(y.shape[0]):
        total += (y[s] - mean) * (y[s] - mean)
    return float(total)


@njit(cache=True)
def _backward(theta, grad, sizes, w_off, b_off, codes, Z, A, G, G_next, count, bits, drop):
    """Backward of one tile: G[:out] holds d(loss)/d(logits); adds d(loss)/d(theta) to grad.
    G and G_next: (width, tile) scratch, swapped layer by layer; drop as in _forward."""
    threshold, R, M = drop[0], drop[4], drop[5]
    for layer in range(len(sizes) - 2, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        w0, b0 = w_off[layer], b_off[layer]
        h = A[layer]
        # 1. Weight and bias gradients: sums over the tile's samples.
        weight_grads(grad, w0, b0, fan_in, fan_out, G, h, count)
        if layer == 0:
            return  # no gradient with respect to the inputs
        # 2. G_next = W^T G.
        input_grads(theta, w0, fan_in, fan_out, G, G_next, count)
        if threshold > 0:
            opt.scale_rows(G_next, M[layer - 1], fan_in, count)
        act = R[layer - 1] if threshold > 0 else h
        activation_backward(codes[layer - 1], Z[layer - 1], act, G_next, fan_in, count, bits)
        G, G_next = G_next, G


@njit(cache=True, inline="always")
def _load(X, y, order, start, count, A0, labels):
    """A0[:F, :count] and labels[:count] = samples order[start : start + count] of (X, y)."""
    for f in range(X.shape[0]):
        for s in range(count):
            A0[f, s] = X[f, order[start + s]]
    for s in range(count):
        labels[s] = y[order[start + s]]


# --------------------------------------------------------------------------- one model


# Inlined into _train_one (measured 3% faster per model than a call: seed network, one thread,
# 18.6 against 19.2 ms); Numba cannot inline a call with *args, so its callers spell them out.
@njit(cache=True, inline="always")
def _evaluate(ev, X, y, total_ss, order, Z, A, G, labels, bits, drop):
    """Mean loss and score (accuracy, or R^2) of one model on all of (X, y), tile by tile. ev:
    (theta, sizes, w_off, b_off, codes, regression); total_ss: y's SS_tot (_total_ss); drop: a
    _forward drop tuple, whose threshold is ignored (evaluation runs the whole network)."""
    theta, sizes, w_off, b_off, codes, regression = ev
    whole = (np.int64(0), drop[1], drop[2], drop[3], drop[4], drop[5])
    n, tile = X.shape[1], Z.shape[2]
    out = sizes[len(sizes) - 1]
    loss, correct = 0.0, 0.0
    for start in range(0, n, tile):
        count = min(tile, n - start)
        _load(X, y, order, start, count, A[0], labels)
        _forward(theta, sizes, w_off, b_off, codes, Z, A, count, bits, whole)
        tile_loss, tile_correct = _loss(
            Z[len(sizes) - 2, :out], labels, count, theta.dtype.type(0.0), G, bits, regression
        )  # scale 0 in theta's dtype: the training call's signature, compiled once
        loss += tile_loss
        correct += tile_correct
    return loss / n, _score(loss, correct, n, total_ss, regression)


@njit(cache=True)
def _train_one(
    theta, sizes, w_off, b_off, codes, X, y, X_test, y_test, lr, hyper, drop_at, seed, adam,
    dropout, regression, epochs, batch_size, record_at, tile, curves,
):  # fmt: skip
    """Trains one model in place; theta (P,), X (F, n), y (n,) targets in theta's dtype,
    codes (hidden layers,) activation codes, hyper (HYPER,) its options (columns of
    fused_options), drop_at its dropout threshold (0: none), dropout whether the chunk has
    dropout, regression: squared error and R^2, curves (E, 4) float64. Returns the epoch at
    which it diverged (0: never). Steps as in eager.train_stacked."""
    t = theta.dtype.type
    n, n_test = X.shape[1], X_test.shape[1]
    layers = len(sizes) - 1
    width, out = np.max(sizes), sizes[layers]
    momentum, weight_decay, l1 = hyper[opt.MOMENTUM], hyper[opt.WEIGHT_DECAY], hyper[opt.L1]
    grad = np.zeros_like(theta)
    exp_avg = np.zeros_like(theta)  # Adam's first moment, or SGD's momentum buffer
    exp_avg_sq = np.zeros_like(theta)
    Z = np.zeros((layers, width, tile), theta.dtype)
    A = np.zeros((layers + 1, width, tile), theta.dtype)
    G = np.zeros((width, tile), theta.dtype)
    G_next = np.zeros((width, tile), theta.dtype)
    labels = np.zeros(tile, theta.dtype)  # the tile's targets
    bits = np.zeros(tile, np.int32)  # scratch of fused_math's float32 exp
    hidden = (layers - 1, width, tile) if drop_at > 0 else (1, 1, 1)
    R, M = np.zeros(hidden, theta.dtype), np.zeros(hidden, theta.dtype)  # dropout's (_forward)
    drop = (drop_at, hyper[opt.KEEP_SCALE], np.int64(0), np.int64(0), R, M)
    order = np.arange(n)  # the samples in stored order; shuffled per epoch for mini-batches
    in_order, test_order = np.arange(n), np.arange(n_test)
    full_batch = batch_size <= 0 or batch_size >= n
    batch = n if full_batch else batch_size
    ss_train, ss_test = _total_ss(y, regression), _total_ss(y_test, regression)

    # Evaluation at epoch 0. Full batch without dropout: the train metrics of the model after
    # epoch e come from epoch e + 1's training forward (`deferred`), as in train_stacked.
    defer = full_batch and not dropout
    ev = (theta, sizes, w_off, b_off, codes, regression)
    curves[0, 1], curves[0, 3] = _evaluate(ev, X_test, y_test, ss_test, test_order, Z, A, G,
                                           labels, bits, drop)  # fmt: skip
    deferred = 0
    if not defer:
        curves[0, 0], curves[0, 2] = _evaluate(ev, X, y, ss_train, in_order, Z, A, G, labels,
                                               bits, drop)  # fmt: skip
        deferred = -1
    slot, step, initial_loss, diverged = 1, 0, t(0.0), 0
    for epoch in range(1, epochs + 1):
        if not full_batch:
            opt.shuffle(seed, epoch, n, order)
        for start in range(0, n, batch):
            size = min(batch, n - start)
            salt = opt.dropout_salt(seed, epoch, start // batch) if drop_at > 0 else 0
            # 1. Forward, loss and backward, tile by tile: gradients of the batch's mean loss.
            scale = t(1.0) / t(size)
            grad[:] = 0.0
            loss, correct = 0.0, 0.0
            for first in range(start, start + size, tile):
                count = min(tile, start + size - first)
                drop = (drop_at, hyper[opt.KEEP_SCALE], salt, np.int64(first - start), R, M)
                _load(X, y, order, first, count, A[0], labels)
                _forward(theta, sizes, w_off, b_off, codes, Z, A, count, bits, drop)
                tile_loss, tile_correct = _loss(
                    Z[layers - 1, :out], labels, count, scale, G, bits, regression
                )
                loss += tile_loss
                correct += tile_correct
                _backward(theta, grad, sizes, w_off, b_off, codes, Z, A, G, G_next, count, bits,
                          drop)  # fmt: skip
            batch_loss = t(loss / size)
            if deferred >= 0:  # the full training set: SS_tot is ss_train
                curves[deferred, 0] = batch_loss
                curves[deferred, 2] = _score(loss, correct, size, ss_train, regression)
                deferred = -1
            # 2. Divergence (bench.engine.reference.has_diverged): the model is frozen here and flagged;
            # its curves go on recording the frozen model, as in train_stacked.
            if epoch == 1 and start == 0:
                initial_loss = batch_loss
            if not np.isfinite(batch_loss) or batch_loss > t(DIVERGENCE_FACTOR) * initial_loss:
                diverged = epoch
                break
            # 3. The weight penalties' gradients and the optimizer step.
            if weight_decay != 0 or l1 != 0:
                opt.penalise(theta, grad, sizes, w_off, weight_decay, l1)
            step += 1
            opt.step(theta, grad, exp_avg, exp_avg_sq, lr, momentum, adam, step)
        if diverged:
            break
        if slot < len(record_at) and epoch == record_at[slot]:
            curves[slot, 1], curves[slot, 3] = _evaluate(ev, X_test, y_test, ss_test, test_order,
                                                         Z, A, G, labels, bits, drop)  # fmt: skip
            if defer and epoch != epochs:
                deferred = slot
            else:
                curves[slot, 0], curves[slot, 2] = _evaluate(ev, X, y, ss_train, in_order, Z, A,
                                                             G, labels, bits, drop)  # fmt: skip
            slot += 1
    if diverged:
        # The frozen model's remaining evaluations, from `slot` on (train_stacked goes on
        # evaluating it; here it is evaluated once).
        train = _evaluate(ev, X, y, ss_train, in_order, Z, A, G, labels, bits, drop)
        test = _evaluate(ev, X_test, y_test, ss_test, test_order, Z, A, G, labels, bits, drop)
        for k in range(slot, len(record_at)):
            curves[k, 0], curves[k, 2] = train
            curves[k, 1], curves[k, 3] = test
    return diverged


# --------------------------------------------------------------------------- entry point


# parallel=True: the prange body becomes a gufunc whose array arguments reach LLVM as not
# aliasing one another, and _train_one inlined there measured 5% faster per model on one thread
# (seed network: 18.6 against 19.5 ms) than the same code in a nogil loop driven by a Python
# thread pool, whose first compile was 14 s shorter (23 against 37 s on two cores,
# bench.engine.warm, which compiles this one at install).
@njit(parallel=True, cache=True)
def train_models(
    theta, X, y, X_test, y_test, lr, hyper, drop_at, seeds, curves, diverged_epoch, sizes,
    w_off, b_off, codes, adam, dropout, regression, epochs, batch_size, record_at, tile,
):  # fmt: skip
    """Trains every model in parallel (they are independent; Numba's threads follow torch's,
    fused.set_threads). Per model (models first): theta (models, P), X (models, F, n), y
    (models, n) targets in theta's dtype (class indices, or values with regression), X_test,
    y_test likewise, lr (models,), hyper (models, HYPER) the per-model options (fused_options'
    columns), drop_at (models,) int64 dropout thresholds, seeds (models,) int64, curves
    (models, E, 4) float64, diverged_epoch (models,) int64. Shared: the layout, codes (hidden
    layers,) int64 activation codes (fused_act.ACT_CODES), adam, dropout (whether the chunk has
    dropout), regression (squared error and R^2), the loop's shape."""
    for m in prange(theta.shape[0]):
        diverged_epoch[m] = _train_one(
            theta[m], sizes, w_off, b_off, codes, X[m], y[m], X_test[m], y_test[m], lr[m],
            hyper[m], drop_at[m], seeds[m], adam, dropout, regression, epochs, batch_size,
            record_at, tile, curves[m],
        )  # fmt: skip
