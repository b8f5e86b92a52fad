"""Elementwise math of the fused kernel (`bench.engine.fused_kernels`): the built-in activations
by integer code, and a float32 BCE-with-logits whose loops vectorise.

Each is written as torch computes it, forward and backward (torch's formulas and constants),
so the fused path matches the generic one to float32 rounding. Tensors here are rows of
samples: Z, A, G: (width, tile) with the first `count` samples in use.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Code per built-in name (bench.activations); the kernel receives the code.
ACT_CODES = {
    "none": 0, "relu": 1, "leaky_relu": 2, "elu": 3, "selu": 4, "gelu": 5,
    "silu": 6, "mish": 7, "tanh": 8, "sigmoid": 9, "softplus": 10, "sin": 11,
}  # fmt: skip
SELU_ALPHA = 1.6732632423543772848170429916717  # torch's constants
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01  # bench.activations' leaky_relu
SOFTPLUS_THRESHOLD = 20.0  # F.softplus's default
# Reductions over samples (weight gradients) may be summed in any order, as a BLAS would:
# that is what lets them vectorise. Nothing else is reassociated, and no NaN/inf assumption is
# made (divergence must see them).
REDUCE_MATH = {"reassoc", "contract"}


@njit(cache=True, inline="always")
def activate(code, Z, A, rows, count):
    """A[:rows] = act(Z[:rows]) on the first `count` samples. The code's branch sits outside the
    loops, so each loop is a plain elementwise loop that LLVM vectorises (ReLU) or unrolls."""
    t = Z.dtype.type
    zero, one, half = t(0.0), t(1.0), t(0.5)
    if code == 0:
        for o in range(rows):
            for s in range(count):
                A[o, s] = Z[o, s]
    elif code == 1:
        for o in range(rows):
            for s in range(count):
                A[o, s] = Z[o, s] if Z[o, s] > zero else zero
    elif code == 2:
        slope = t(LEAKY_SLOPE)
        for o in range(rows):
            for s in range(count):
                A[o, s] = Z[o, s] if Z[o, s] > zero else Z[o, s] * slope
    elif code == 3 or code == 4:
        scale = t(SELU_SCALE) if code == 4 else one
        alpha = t(SELU_ALPHA * SELU_SCALE) if code == 4 else one
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z * scale if z > zero else np.expm1(z) * alpha
    elif code == 5:
        rsqrt2 = t(1.0 / math.sqrt(2.0))
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z * half * (one + math.erf(z * rsqrt2))
    elif code == 6:
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z / (one + np.exp(-z))
    elif code == 7:
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z * np.tanh(np.log1p(np.exp(z)))
    elif code == 8:
        for o in range(rows):
            for s in range(count):
                A[o, s] = np.tanh(Z[o, s])
    elif code == 9:
        for o in range(rows):
            for s in range(count):
                A[o, s] = one / (one + np.exp(-Z[o, s]))
    elif code == 10:
        threshold = t(SOFTPLUS_THRESHOLD)
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z if z > threshold else np.log1p(np.exp(z))
    else:
        for o in range(rows):
            for s in range(count):
                A[o, s] = np.sin(Z[o, s])


@njit(cache=True, inline="always")
def activation_backward(code, Z, A, G, rows, count):
    """G[:rows] *= act'(Z[:rows]), with torch's backward formulas (A = act(Z) where they use
    the result). Z, A, G: (width, tile)."""
    t = Z.dtype.type
    zero, one, half = t(0.0), t(1.0), t(0.5)
    if code == 0:
        return
    if code == 1:
        for o in range(rows):
            for s in range(count):
                G[o, s] = G[o, s] if Z[o, s] > zero else zero
    elif code == 2:
        slope = t(LEAKY_SLOPE)
        for o in range(rows):
            for s in range(count):
                G[o, s] = G[o, s] if Z[o, s] > zero else G[o, s] * slope
    elif code == 3 or code == 4:
        scale = t(SELU_SCALE) if code == 4 else one
        alpha = t(SELU_ALPHA * SELU_SCALE) if code == 4 else one
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                G[o, s] = G[o, s] * scale if z > zero else G[o, s] * alpha * np.exp(z)
    elif code == 5:
        rsqrt2 = t(1.0 / math.sqrt(2.0))
        beta = t(2.0 / math.sqrt(math.pi) / math.sqrt(2.0) * 0.5)  # 1 / sqrt(2 pi)
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                cdf = half * (one + math.erf(z * rsqrt2))
                G[o, s] = G[o, s] * (cdf + z * np.exp(-half * z * z) * beta)
    elif code == 6:
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                sig = one / (one + np.exp(-z))
                G[o, s] = G[o, s] * sig * (one + z * (one - sig))
    elif code == 7:
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                sig = one / (one + np.exp(-z))
                tsp = np.tanh(np.log1p(np.exp(z)))
                G[o, s] = G[o, s] * (tsp + z * sig * (one - tsp * tsp))
    elif code == 8:
        for o in range(rows):
            for s in range(count):
                G[o, s] = G[o, s] * (one - A[o, s] * A[o, s])
    elif code == 9:
        for o in range(rows):
            for s in range(count):
                G[o, s] = G[o, s] * (one - A[o, s]) * A[o, s]
    elif code == 10:
        threshold = t(SOFTPLUS_THRESHOLD)
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                e = np.exp(z)
                G[o, s] = G[o, s] if z > threshold else G[o, s] * e / (e + one)
    else:
        for o in range(rows):
            for s in range(count):
                G[o, s] = G[o, s] * np.cos(Z[o, s])


# --------------------------------------------------------------------------- BCE, float32


@njit(cache=True)  # no fastmath: the range reduction's order of operations matters
def _exp_nonpositive(x, out, bits, count):
    """out[:count] = exp(x) for float32 x <= 0, in loops without calls (so they vectorise):
    x = k ln2 + r with |r| <= ln2 / 2, exp(x) = 2^k p(r), Cephes' expf polynomial (~1 ulp);
    2^k is built from its bits. Below -87, exp(x) ~ 1e-38 stands in for smaller values."""
    t = x.dtype.type
    two_k = bits.view(np.float32)  # (tile,) the same memory: bits (int32) read as floats
    for s in range(count):
        v = max(x[s], t(-87.0))
        k = np.floor(v * t(1.4426950408889634) + t(0.5))
        r = v - k * t(0.693359375) + k * t(2.12194440e-4)
        p = t(1.9875691500e-4) * r + t(1.3981999507e-3)
        p = ((((p * r + t(8.3334519073e-3)) * r + t(4.1665795894e-2)) * r
              + t(1.6666665459e-1)) * r + t(5.0000001201e-1))  # fmt: skip
        bits[s] = (np.int32(k) + np.int32(127)) << np.int32(23)
        out[s] = p * r * r + r + t(1.0)
    for s in range(count):
        out[s] *= two_k[s]


@njit(cache=True, fastmath=REDUCE_MATH)
def bce_float32(logits, labels, count, scale, G, bits):
    """fused_kernels._loss for one float32 output with no calls in its loops: log1p(e), e = exp(-|z|) in
    [0, 1], as 2 atanh(e / (2 + e)), a series in u^2 <= 1/9 (7 terms: ~1e-8 relative)."""
    t = logits.dtype.type
    zero, one, two = t(0.0), t(1.0), t(2.0)
    z, e = logits[0], G[0]
    for s in range(count):
        e[s] = -abs(z[s])
    _exp_nonpositive(e, e, bits, count)
    loss, correct = 0.0, 0.0
    for s in range(count):
        y = t(labels[s])
        u = e[s] / (two + e[s])
        u2 = u * u
        series = one + u2 * (t(1 / 3) + u2 * (t(1 / 5) + u2 * (t(1 / 7) + u2 * (
            t(1 / 9) + u2 * (t(1 / 11) + u2 * t(1 / 13))))))  # fmt: skip
        loss += (max(z[s], zero) - z[s] * y) + two * u * series
        sigmoid = one / (one + e[s])
        sigmoid = sigmoid if z[s] >= zero else e[s] * sigmoid
        correct += 1.0 if (z[s] > zero) == (labels[s] == 1) else 0.0
        e[s] = (sigmoid - y) * scale  # G[0]: the gradient
    return loss, correct
