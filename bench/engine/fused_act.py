"""Elementwise math of the fused kernel (`bench.engine.fused_kernels`): the built-in activations
by integer code, forward and backward (in float32, those built on exp or erf come from
`bench.engine.fused_math`, whose loops vectorise).

Each is written as torch computes it, forward and backward (torch's formulas and constants),
so the fused path matches the generic one to float32 rounding. Tensors here are rows of
samples: Z, A, G: (width, tile) with the first `count` samples in use.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bench.engine.fused_math import (
    elu_backward_float32,
    elu_float32,
    gelu_backward_float32,
    gelu_float32,
    mish_backward_float32,
    mish_float32,
    sigmoid_float32,
    silu_backward_float32,
    silu_float32,
    softplus_backward_float32,
    softplus_float32,
    tanh_float32,
)
from bench.engine.fused_zoo import ZOO_CODES, zoo_backward, zoo_forward

# Code per built-in name (bench.activations.builtins); the kernel receives the code.
ACT_CODES = {
    "none": 0, "relu": 1, "leaky_relu": 2, "elu": 3, "selu": 4, "gelu": 5,
    "silu": 6, "mish": 7, "tanh": 8, "sigmoid": 9, "softplus": 10, "sin": 11,
    "celu": 3,  # celu with alpha 1 (F.celu's default) is elu
    **ZOO_CODES,  # the zoo's parameter-free built-ins (fused_zoo)
}  # fmt: skip
SELU_ALPHA = 1.6732632423543772848170429916717  # torch's constants
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.01  # bench.activations.builtins' leaky_relu
SOFTPLUS_THRESHOLD = 20.0  # F.softplus's default


@njit(cache=True, inline="always")
def activate(code, Z, A, rows, count, bits):
    """A[:rows] = act(Z[:rows]) on the first `count` samples. The code's branch sits outside the
    loops, so each loop is a plain elementwise loop that LLVM vectorises (ReLU) or unrolls.
    bits: (tile,) int32 scratch of fused_math's float32 exp (elu, selu, gelu, silu, mish,
    tanh, sigmoid, softplus: their float32 forms come from there)."""
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
        if Z.itemsize == 4:
            elu_float32(Z, A, rows, count, bits, scale, alpha)
            return
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z * scale if z > zero else np.expm1(z) * alpha
    elif code == 5 and Z.itemsize == 4:
        gelu_float32(Z, A, rows, count, bits)
    elif code == 5:
        rsqrt2 = t(1.0 / math.sqrt(2.0))
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z * half * (one + math.erf(z * rsqrt2))
    elif code == 6 and Z.itemsize == 4:
        silu_float32(Z, A, rows, count, bits)
    elif code == 6:
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z / (one + np.exp(-z))
    elif code == 7 and Z.itemsize == 4:
        mish_float32(Z, A, rows, count, bits)
    elif code == 7:
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z * np.tanh(np.log1p(np.exp(z)))
    elif code == 8 and Z.itemsize == 4:
        tanh_float32(Z, A, rows, count, bits)
    elif code == 8:
        for o in range(rows):
            for s in range(count):
                A[o, s] = np.tanh(Z[o, s])
    elif code == 9 and Z.itemsize == 4:
        sigmoid_float32(Z, A, rows, count, bits)
    elif code == 9:
        for o in range(rows):
            for s in range(count):
                A[o, s] = one / (one + np.exp(-Z[o, s]))
    elif code == 10 and Z.itemsize == 4:
        softplus_float32(Z, A, rows, count, bits, t(SOFTPLUS_THRESHOLD))
    elif code == 10:
        threshold = t(SOFTPLUS_THRESHOLD)
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                A[o, s] = z if z > threshold else np.log1p(np.exp(z))
    elif code == 11:
        for o in range(rows):
            for s in range(count):
                A[o, s] = np.sin(Z[o, s])
    else:
        zoo_forward(code, Z, A, rows, count, bits)


@njit(cache=True, inline="always")
def activation_backward(code, Z, A, G, rows, count, bits):
    """G[:rows] *= act'(Z[:rows]), with torch's backward formulas (A = act(Z) where they use
    the result). Z, A, G: (width, tile). In float32, elu, selu, gelu, silu, mish and softplus
    overwrite A (their scratch: the backward needs only Z)."""
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
        if Z.itemsize == 4:
            elu_backward_float32(Z, A, G, rows, count, bits, scale, alpha)
            return
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                G[o, s] = G[o, s] * scale if z > zero else G[o, s] * alpha * np.exp(z)
    elif code == 5 and Z.itemsize == 4:
        gelu_backward_float32(Z, A, G, rows, count, bits)
    elif code == 6 and Z.itemsize == 4:
        silu_backward_float32(Z, A, G, rows, count, bits)
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
    elif code == 7 and Z.itemsize == 4:
        mish_backward_float32(Z, A, G, rows, count, bits)
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
    elif code == 10 and Z.itemsize == 4:
        softplus_backward_float32(Z, A, G, rows, count, bits, t(SOFTPLUS_THRESHOLD))
    elif code == 10:
        threshold = t(SOFTPLUS_THRESHOLD)
        for o in range(rows):
            for s in range(count):
                z = Z[o, s]
                e = np.exp(z)
                G[o, s] = G[o, s] if z > threshold else G[o, s] * e / (e + one)
    elif code == 11:
        for o in range(rows):
            for s in range(count):
                G[o, s] = G[o, s] * np.cos(Z[o, s])
    else:
        zoo_backward(code, Z, A, G, rows, count, bits)
