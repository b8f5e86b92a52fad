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
    X:      (models, F, n)       y: (models, n) int64 class labels (the engine's own layout)
    Z, A:   (layers [+ 1], width, tile)   pre- and post-activations of one tile of samples
    curves: (models, E, 4)       train_loss, test_loss, train_acc, test_acc at record_at

The algorithm is `bench.engine.train.train_stacked`'s (and so `bench.model.train_reference`'s)
step for step: mean BCE-with-logits (one output) or cross-entropy, each model's gradient of its
own mean loss, SGD or Adam as torch.optim computes them, the divergence rule of
`bench.model.has_diverged`, and full-batch train metrics read from the next training forward.
One kernel serves every depth, width and built-in activation (an integer code, fused_act).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from bench.engine.fused_act import REDUCE_MATH, activate, activation_backward, bce_float32

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8  # bench.model's (fused.py checks)
DIVERGENCE_FACTOR = 100.0  # bench.model's (fused.py checks)


@njit(cache=True, fastmath=REDUCE_MATH)
def _dot(a, i, b, j, count):
    """sum over s < count of a[i, s] * b[j, s]."""
    total = a.dtype.type(0.0)
    for s in range(count):
        total += a[i, s] * b[j, s]
    return total


@njit(cache=True, fastmath=REDUCE_MATH)
def _dot4(a, i, b, j, count):
    """The four sums a[i] . b[j + k] for k < 4: a's row is loaded once for all four."""
    t = a.dtype.type
    s0, s1, s2, s3 = t(0.0), t(0.0), t(0.0), t(0.0)
    for s in range(count):
        x = a[i, s]
        s0 += x * b[j, s]
        s1 += x * b[j + 1, s]
        s2 += x * b[j + 2, s]
        s3 += x * b[j + 3, s]
    return s0, s1, s2, s3


@njit(cache=True, fastmath=REDUCE_MATH)
def _row_sum(a, i, count):
    total = a.dtype.type(0.0)
    for s in range(count):
        total += a[i, s]
    return total


# --------------------------------------------------------------------------- one tile


@njit(cache=True)
def _forward(theta, sizes, w_off, b_off, code, Z, A, count):
    """Forward of one tile: A[0, :F, :count] holds the inputs; fills Z[l] (pre-activations;
    the last layer's are the logits) and A[l + 1] (post-activations)."""
    layers = len(sizes) - 1
    for layer in range(layers):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        w0, b0 = w_off[layer], b_off[layer]
        z, h = Z[layer], A[layer]
        for o in range(fan_out):
            bias = theta[b0 + o]
            for s in range(count):
                z[o, s] = bias
        # Four inputs per pass over z: one load and store of z per four multiply-adds.
        i = 0
        while i + 4 <= fan_in:
            for o in range(fan_out):
                row = w0 + o * fan_in + i
                wa, wb, wc, wd = theta[row], theta[row + 1], theta[row + 2], theta[row + 3]
                for s in range(count):
                    z[o, s] += wa * h[i, s] + wb * h[i + 1, s] + wc * h[i + 2, s] + wd * h[i + 3, s]
            i += 4
        for rest in range(i, fan_in):
            for o in range(fan_out):
                w = theta[w0 + o * fan_in + rest]
                for s in range(count):
                    z[o, s] += w * h[rest, s]
        if layer < layers - 1:
            activate(code, z, A[layer + 1], fan_out, count)


@njit(cache=True)
def _loss(logits, labels, count, scale, G, bits):
    """Sum of the tile's losses and hits (float64); writes d(scale x loss)/d(logits) into
    G[:out]. logits: (out, tile); labels: (tile,) int64; bits: (tile,) int32 scratch. One
    output: BCE with logits, (1 - y) z + log(1 + exp(-z)) as torch; several: cross-entropy
    through log-softmax."""
    t = logits.dtype.type
    zero, one = t(0.0), t(1.0)
    out = logits.shape[0]
    loss, correct = 0.0, 0.0
    if out == 1 and logits.itemsize == 4:
        return bce_float32(logits, labels, count, scale, G, bits)
    if out == 1:  # float64: libm's exp and log1p (the float64 check wants them exact)
        for s in range(count):
            z = logits[0, s]
            y = t(labels[s])
            e = np.exp(-abs(z))  # one exp serves the loss and the sigmoid
            loss += (z if z > zero else zero) - z * y + np.log1p(e)
            sigmoid = one / (one + e) if z >= zero else e / (one + e)
            G[0, s] = (sigmoid - y) * scale
            correct += 1.0 if (z > zero) == (labels[s] == 1) else 0.0
        return loss, correct
    for s in range(count):
        best = 0
        for c in range(1, out):
            if logits[c, s] > logits[best, s]:
                best = c
        mx = logits[best, s]
        total = zero
        for c in range(out):
            total += np.exp(logits[c, s] - mx)
        loss += np.log(total) + mx - logits[labels[s], s]
        for c in range(out):
            G[c, s] = np.exp(logits[c, s] - mx) / total * scale
        G[labels[s], s] -= scale
        correct += 1.0 if best == labels[s] else 0.0
    return loss, correct


@njit(cache=True)
def _backward(theta, grad, sizes, w_off, b_off, code, Z, A, G, G_next, count):
    """Backward of one tile: G[:out] holds d(loss)/d(logits); adds d(loss)/d(theta) to grad.
    G and G_next: (width, tile) scratch, swapped layer by layer."""
    for layer in range(len(sizes) - 2, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        w0, b0 = w_off[layer], b_off[layer]
        h = A[layer]
        # 1. Weight and bias gradients: sums over the tile's samples.
        for o in range(fan_out):
            row = w0 + o * fan_in
            grad[b0 + o] += _row_sum(G, o, count)
            i = 0
            while i + 4 <= fan_in:
                g0, g1, g2, g3 = _dot4(G, o, h, i, count)
                grad[row + i] += g0
                grad[row + i + 1] += g1
                grad[row + i + 2] += g2
                grad[row + i + 3] += g3
                i += 4
            for rest in range(i, fan_in):
                grad[row + rest] += _dot(G, o, h, rest, count)
        if layer == 0:
            return  # no gradient with respect to the inputs
        # 2. G_next = W^T G, four outputs per pass over G_next.
        for i in range(fan_in):
            for s in range(count):
                G_next[i, s] = 0.0
        o = 0
        while o + 4 <= fan_out:
            for i in range(fan_in):
                row = w0 + o * fan_in + i
                wa, wb = theta[row], theta[row + fan_in]
                wc, wd = theta[row + 2 * fan_in], theta[row + 3 * fan_in]
                for s in range(count):
                    G_next[i, s] += (
                        wa * G[o, s] + wb * G[o + 1, s] + wc * G[o + 2, s] + wd * G[o + 3, s]
                    )
            o += 4
        for rest in range(o, fan_out):
            for i in range(fan_in):
                w = theta[w0 + rest * fan_in + i]
                for s in range(count):
                    G_next[i, s] += w * G[rest, s]
        activation_backward(code, Z[layer - 1], h, G_next, fan_in, count)
        G, G_next = G_next, G


@njit(cache=True)
def _load(X, y, order, start, count, A0, labels):
    """A0[:F, :count] and labels[:count] = samples order[start : start + count] of (X, y)."""
    for f in range(X.shape[0]):
        for s in range(count):
            A0[f, s] = X[f, order[start + s]]
    for s in range(count):
        labels[s] = y[order[start + s]]


@njit(cache=True)
def _shuffle(seed, epoch, n, out):
    """out[:] = bench.model.shuffle_order for one model: the same wrapping int64 hash, sorted
    stably (so ties keep index order, as torch.argsort(stable=True) does)."""
    keys = np.empty(n, np.int64)
    for k in range(n):
        x = (
            np.int64(seed) * 0x9E3779B1
            + np.int64(epoch + 1) * 0x85EBCA77
            + np.int64(k) * 0xC2B2AE3D
        )
        x = ((x ^ (x >> 16)) * 0x7FEB352D) & 0xFFFFFFFFFFFF
        x = ((x ^ (x >> 16)) * 0x846CA68B) & 0xFFFFFFFFFFFF
        x = ((x ^ (x >> 16)) * 0x2C1B3C6D) & 0xFFFFFFFFFFFF
        keys[k] = x
    out[:] = np.argsort(keys, kind="mergesort")


# --------------------------------------------------------------------------- one model


@njit(cache=True)
def _evaluate(theta, sizes, w_off, b_off, code, X, y, order, Z, A, G, labels, bits):
    """Mean loss and accuracy of one model on all of (X, y), tile by tile."""
    n, tile = X.shape[1], Z.shape[2]
    out = sizes[len(sizes) - 1]
    loss, correct = 0.0, 0.0
    for start in range(0, n, tile):
        count = min(tile, n - start)
        _load(X, y, order, start, count, A[0], labels)
        _forward(theta, sizes, w_off, b_off, code, Z, A, count)
        tile_loss, tile_correct = _loss(Z[len(sizes) - 2, :out], labels, count, 0.0, G, bits)
        loss += tile_loss
        correct += tile_correct
    return loss / n, correct / n


@njit(cache=True)
def _step(theta, grad, exp_avg, exp_avg_sq, lr, adam, step):
    """SGD or Adam on one model, as torch.optim's single-tensor path computes them."""
    if not adam:
        for p in range(theta.shape[0]):
            theta[p] -= lr * grad[p]
        return
    t = theta.dtype.type
    beta1, beta2, eps, one = t(ADAM_BETA1), t(ADAM_BETA2), t(ADAM_EPS), t(1.0)
    step_size = lr / t(1.0 - ADAM_BETA1**step)  # corrections in float64, as torch's
    correction2_sqrt = t(math.sqrt(1.0 - ADAM_BETA2**step))
    for p in range(theta.shape[0]):
        g = grad[p]
        exp_avg[p] += (one - beta1) * (g - exp_avg[p])  # torch's lerp for a weight < 0.5
        exp_avg_sq[p] = exp_avg_sq[p] * beta2 + (one - beta2) * g * g
        theta[p] -= step_size * (exp_avg[p] / (np.sqrt(exp_avg_sq[p]) / correction2_sqrt + eps))


@njit(cache=True)
def _train_one(
    theta, sizes, w_off, b_off, code, X, y, X_test, y_test, lr, seed, adam, epochs,
    batch_size, record_at, tile, curves,
):  # fmt: skip
    """Trains one model in place; theta (P,), X (F, n), curves (E, 4) float64. Returns the
    epoch at which it diverged (0: never). Steps as in train.train_stacked."""
    t = theta.dtype.type
    n, n_test = X.shape[1], X_test.shape[1]
    layers = len(sizes) - 1
    width, out = np.max(sizes), sizes[layers]
    grad = np.zeros_like(theta)
    exp_avg = np.zeros_like(theta)
    exp_avg_sq = np.zeros_like(theta)
    Z = np.zeros((layers, width, tile), theta.dtype)
    A = np.zeros((layers + 1, width, tile), theta.dtype)
    G = np.zeros((width, tile), theta.dtype)
    G_next = np.zeros((width, tile), theta.dtype)
    labels = np.zeros(tile, np.int64)
    bits = np.zeros(tile, np.int32)  # scratch of _exp_nonpositive
    order = np.arange(n)  # the samples in stored order; shuffled per epoch for mini-batches
    in_order, test_order = np.arange(n), np.arange(n_test)
    full_batch = batch_size <= 0 or batch_size >= n
    batch = n if full_batch else batch_size

    # Evaluation at epoch 0. Full batch: the train metrics of the model after epoch e come
    # from epoch e + 1's training forward (`deferred`), as in train_stacked.
    ev = (theta, sizes, w_off, b_off, code)
    curves[0, 1], curves[0, 3] = _evaluate(*ev, X_test, y_test, test_order, Z, A, G, labels, bits)
    deferred = 0
    if not full_batch:
        curves[0, 0], curves[0, 2] = _evaluate(*ev, X, y, in_order, Z, A, G, labels, bits)
        deferred = -1
    slot, step, initial_loss = 1, 0, t(0.0)
    for epoch in range(1, epochs + 1):
        if not full_batch:
            _shuffle(seed, epoch, n, order)
        for start in range(0, n, batch):
            size = min(batch, n - start)
            # 1. Forward, loss and backward, tile by tile: gradients of the batch's mean loss.
            scale = t(1.0) / t(size)
            grad[:] = 0.0
            loss, correct = 0.0, 0.0
            for first in range(start, start + size, tile):
                count = min(tile, start + size - first)
                _load(X, y, order, first, count, A[0], labels)
                _forward(theta, sizes, w_off, b_off, code, Z, A, count)
                tile_loss, tile_correct = _loss(Z[layers - 1, :out], labels, count, scale, G, bits)
                loss += tile_loss
                correct += tile_correct
                _backward(theta, grad, sizes, w_off, b_off, code, Z, A, G, G_next, count)
            batch_loss = t(loss / size)
            if deferred >= 0:
                curves[deferred, 0], curves[deferred, 2] = batch_loss, correct / size
                deferred = -1
            # 2. Divergence (bench.model.has_diverged): the model is frozen here and flagged;
            # its curves go on recording the frozen model, as in train_stacked.
            if epoch == 1 and start == 0:
                initial_loss = batch_loss
            if not np.isfinite(batch_loss) or batch_loss > t(DIVERGENCE_FACTOR) * initial_loss:
                _record_frozen(ev, X, y, X_test, y_test, in_order, test_order, Z, A, G, labels,
                               bits, record_at, slot, curves)  # fmt: skip
                return epoch
            # 3. The optimizer step.
            step += 1
            _step(theta, grad, exp_avg, exp_avg_sq, lr, adam, step)
        if slot < len(record_at) and epoch == record_at[slot]:
            curves[slot, 1], curves[slot, 3] = _evaluate(
                *ev, X_test, y_test, test_order, Z, A, G, labels, bits
            )
            if full_batch and epoch != epochs:
                deferred = slot
            else:
                curves[slot, 0], curves[slot, 2] = _evaluate(
                    *ev, X, y, in_order, Z, A, G, labels, bits
                )
            slot += 1
    return 0


@njit(cache=True)
def _record_frozen(
    ev, X, y, X_test, y_test, in_order, test_order, Z, A, G, labels, bits, record_at, slot,
    curves,
):  # fmt: skip
    """A diverged model's remaining evaluations, from `slot` on: the frozen model's metrics
    (train_stacked goes on evaluating it; here it is evaluated once)."""
    train = _evaluate(*ev, X, y, in_order, Z, A, G, labels, bits)
    test = _evaluate(*ev, X_test, y_test, test_order, Z, A, G, labels, bits)
    for k in range(slot, len(record_at)):
        curves[k, 0], curves[k, 2] = train
        curves[k, 1], curves[k, 3] = test


# --------------------------------------------------------------------------- entry point


@njit(parallel=True, cache=True)
def train_models(
    theta, sizes, w_off, b_off, code, X, y, X_test, y_test, lr, seeds, adam, epochs,
    batch_size, record_at, tile, curves, diverged_epoch,
):  # fmt: skip
    """Trains every model in parallel (they are independent). theta (models, P), X (models,
    F, n), y (models, n), lr (models,), seeds (models,) int64, curves (models, E, 4) float64,
    diverged_epoch (models,) int64."""
    for m in prange(theta.shape[0]):
        diverged_epoch[m] = _train_one(
            theta[m], sizes, w_off, b_off, code, X[m], y[m], X_test[m], y_test[m], lr[m],
            seeds[m], adam, epochs, batch_size, record_at, tile, curves[m],
        )  # fmt: skip
