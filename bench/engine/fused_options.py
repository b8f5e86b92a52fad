"""The fused kernel's per-step pieces around forward and backward (`bench.engine.fused_kernels`):
the optimizer step (SGD with momentum, Adam), the weight penalties' gradients, and
`bench.engine.reference`'s counter hashes (mini-batch order, dropout masks) on wrapping int64.

Each follows the torch arithmetic of the generic path (`bench.engine.optim`,
`bench.engine.reference.weight_penalty`, `bench.engine.reference.dropout_scale`) operation for operation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8  # bench.engine.reference's (fused.py checks)
# Per-model options, columns of the kernel's `hyper` (models, HYPER) array.
MOMENTUM, WEIGHT_DECAY, L1, KEEP_SCALE = 0, 1, 2, 3
HYPER = 4


# --------------------------------------------------------------------------- hashes


@njit(cache=True, inline="always")
def _mix(x):
    """bench.engine.reference._mix: three xorshift-multiply rounds on wrapping int64, 48 bits kept."""
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & 0xFFFFFFFFFFFF
    x = ((x ^ (x >> 16)) * 0x846CA68B) & 0xFFFFFFFFFFFF
    return ((x ^ (x >> 16)) * 0x2C1B3C6D) & 0xFFFFFFFFFFFF


@njit(cache=True)
def shuffle(seed, epoch, n, out):
    """out[:] = bench.engine.reference.shuffle_order for one model: the same wrapping int64 hash, sorted
    stably (so ties keep index order, as torch.argsort(stable=True) does)."""
    keys = np.empty(n, np.int64)
    base = np.int64(seed) * 0x9E3779B1 + np.int64(epoch + 1) * 0x85EBCA77
    for k in range(n):
        keys[k] = _mix(base + np.int64(k) * 0xC2B2AE3D)
    out[:] = np.argsort(keys, kind="mergesort")


@njit(cache=True)
def dropout_salt(seed, epoch, step):
    """The part of dropout_scale's hash that one training step shares (wrapping int64)."""
    return (
        np.int64(seed) * 0x9E3779B1
        + np.int64(epoch) * 0x27D4EB2F
        + np.int64(step) * 0x165667B1
        + np.int64(0x5BD1E995)
    )


@njit(cache=True)
def dropout(R, A, M, rows, count, salt, layer, position, threshold, keep_scale):
    """Inverted dropout of one hidden layer on a tile: M = bench.engine.reference.dropout_scale's
    multipliers (keep_scale, or 0 when dropped) of samples position .. position + count of the
    batch, A = R * M. R, A, M: (width, tile). A unit is kept when its 48-bit hash u48 has
    u48 * 2^-48 >= p, that is u48 >= threshold = ceil(p * 2^48) (fused.py computes it)."""
    zero = R.dtype.type(0.0)
    base = salt + np.int64(layer) * 0x1B873593 + np.int64(position) * 0xFD7046C5
    for o in range(rows):
        row = base + np.int64(o) * 0xD3A2646C
        for s in range(count):
            m = keep_scale if _mix(row + np.int64(s) * 0xFD7046C5) >= threshold else zero
            M[o, s] = m
            A[o, s] = R[o, s] * m


@njit(cache=True)
def scale_rows(G, M, rows, count):
    """G[:rows] *= M[:rows]: dropout's backward."""
    for o in range(rows):
        for s in range(count):
            G[o, s] = G[o, s] * M[o, s]


# --------------------------------------------------------------------------- the step


@njit(cache=True)
def penalise(theta, grad, sizes, w_off, weight_decay, l1):
    """grad += weight_decay * W + l1 * sign(W) over every layer's weights (not the biases):
    the gradients of bench.engine.reference.weight_penalty, as autograd computes them."""
    t = theta.dtype.type
    zero, one = t(0.0), t(1.0)
    for layer in range(len(sizes) - 1):
        first = w_off[layer]
        for p in range(first, first + sizes[layer] * sizes[layer + 1]):
            w = theta[p]
            sign = one if w > zero else (-one if w < zero else zero)
            grad[p] = grad[p] + weight_decay * w + l1 * sign


@njit(cache=True, error_model="numpy")  # no division-by-zero check: Adam's loop vectorises
def step(theta, grad, exp_avg, exp_avg_sq, lr, momentum, adam, count):
    """SGD (with momentum) or Adam on one model, as torch.optim's single-tensor path computes
    them; `count` is the step's number (1 first). SGD's momentum buffer is exp_avg: torch.optim.SGD
    with dampening 0, the first step's buffer is the gradient itself."""
    if not adam:
        if momentum == 0:
            for p in range(theta.shape[0]):
                theta[p] -= lr * grad[p]
            return
        for p in range(theta.shape[0]):
            buf = grad[p] if count == 1 else exp_avg[p] * momentum + grad[p]
            exp_avg[p] = buf
            theta[p] -= lr * buf
        return
    t = theta.dtype.type
    beta1, beta2, eps, one = t(ADAM_BETA1), t(ADAM_BETA2), t(ADAM_EPS), t(1.0)
    step_size = lr / t(1.0 - ADAM_BETA1**count)  # corrections in float64, as torch's
    correction2_sqrt = t(math.sqrt(1.0 - ADAM_BETA2**count))
    for p in range(theta.shape[0]):
        g = grad[p]
        exp_avg[p] += (one - beta1) * (g - exp_avg[p])  # torch's lerp for a weight < 0.5
        exp_avg_sq[p] = exp_avg_sq[p] * beta2 + (one - beta2) * g * g
        theta[p] -= step_size * (exp_avg[p] / (np.sqrt(exp_avg_sq[p]) / correction2_sqrt + eps))
