"""Float32 math of the fused kernel without libm calls in its loops, so LLVM vectorises them:
an exp for arguments <= 0, BCE-with-logits, and elu, selu, gelu, silu, mish, tanh, sigmoid and
softplus forward and backward.

A loop that calls libm's expf or erff per element runs scalar and lost to torch's vectorised
math (fused.FUSED_ACTIVATIONS); these loops compute the same functions as torch's own
vectorised CPU kernels (aten's Vectorized<float>) to about an ulp: a Cephes exp, and for gelu's
erf the Abramowitz & Stegun 7.1.26 form (|error| <= 1.5e-7) that Vectorized<float>::erf uses.
Rows here are (tile,) arrays of samples; Z, A, G: (width, tile) with the first `count` in use.
Float64 keeps libm's functions (fused_act), where the tests ask for 1e-9.

Measured maximum error against float64 truth, as |error| / max(|f|, 1) over 500,000 points of
z in [-30, 30] (tests/test_fused.py checks a 16,000-point version of this):

    forward:   elu 5.9e-8, selu 1.4e-7, gelu 2.6e-7, silu 1.2e-7, mish 1.4e-7, tanh 8.0e-8,
               sigmoid 8.9e-8, softplus 1.3e-7   (torch's float32: up to 9.4e-7, gelu)
    backward:  elu 4.9e-8, selu 1.2e-7, gelu 2.6e-7, silu 9.8e-7, mish 1.1e-6, tanh 1.4e-7,
               sigmoid 8.9e-8, softplus 8.9e-8   (torch's float32: up to 9.8e-7, silu)

that is a few float32 ulps, the size of torch's own float32 rounding and about 100x below the
drift float32 training itself shows (weights agree with the reference to ~1e-4 after 100
epochs; tests/test_fused.py).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Reductions over samples (weight gradients) may be summed in any order, as a BLAS would:
# that is what lets them vectorise. Nothing else is reassociated, and no NaN/inf assumption is
# made (divergence must see them).
REDUCE_MATH = {"reassoc", "contract"}
# Elementwise loops may fuse a multiply and an add (as torch's vectorised kernels do); the
# numpy error model drops the division-by-zero check that would stop them vectorising.
ELEMENT_MATH = dict(fastmath={"contract"}, error_model="numpy")
ERF_P = 0.3275911  # Abramowitz & Stegun 7.1.26: erf(x) = 1 - (a1 u + ... + a5 u^5) exp(-x^2),
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # u = 1/(1 + p x)


@njit(cache=True)  # no fastmath: the range reduction's order of operations matters
def _exp_nonpositive(x, bits, count):
    """x[:count] = exp(x) in place for float32 x <= 0, in loops without calls (so they
    vectorise): x = k ln2 + r with |r| <= ln2 / 2, exp(x) = 2^k p(r), Cephes' expf polynomial
    (~1 ulp); 2^k is built from its bits. Below -87, exp(x) ~ 1e-38 stands in for smaller
    values. In place, because LLVM's overlap check sends a loop reading one array and writing
    another that is the same one to its scalar version (3x slower)."""
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
        x[s] = p * r * r + r + t(1.0)
    for s in range(count):
        x[s] *= two_k[s]


@njit(cache=True, fastmath=REDUCE_MATH, error_model="numpy")  # the loop's divisions: by >= 1
def bce_float32(logits, labels, count, scale, G, bits):
    """fused_kernels._loss for one float32 output with no calls in its loops: log1p(e), e = exp(-|z|) in
    [0, 1], as 2 atanh(e / (2 + e)), a series in u^2 <= 1/9 (7 terms: ~1e-8 relative)."""
    t = logits.dtype.type
    zero, one, two = t(0.0), t(1.0), t(2.0)
    z, e = logits[0], G[0]
    for s in range(count):
        e[s] = -abs(z[s])
    _exp_nonpositive(e, bits, count)
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


# --------------------------------------------------------------------------- gelu and silu


@njit(cache=True, inline="always")
def _gaussian(z, e, bits, count):
    """e[:count] = exp(-z^2 / 2) (its argument rounded as torch's gelu backward rounds it)."""
    t = z.dtype.type
    for s in range(count):
        e[s] = z[s] * z[s] * t(-0.5)
    _exp_nonpositive(e, bits, count)


@njit(cache=True, inline="always")
def _erf_constants(t):
    """1, 1/2, 1 / sqrt 2, then A&S 7.1.26's p and a5 .. a1, in the dtype `t`."""
    a1, a2, a3, a4, a5 = ERF_A
    return t(1.0), t(0.5), t(1.0 / math.sqrt(2.0)), t(ERF_P), t(a5), t(a4), t(a3), t(a2), t(a1)


@njit(cache=True, inline="always")
def _cdf(z, e, c):
    """Phi(z) = (1 + erf(z / sqrt 2)) / 2, erf by A&S 7.1.26 given e = exp(-z^2 / 2) and
    c = _erf_constants."""
    one, half, rsqrt2, p, a5, a4, a3, a2, a1 = c
    v = z * rsqrt2
    u = one / (p * abs(v) + one)
    r = (((a5 * u + a4) * u + a3) * u + a2) * u + a1
    erf = one - r * u * e
    return (one + (erf if v >= one - one else -erf)) * half


@njit(cache=True, **ELEMENT_MATH)
def gelu_float32(Z, A, rows, count, bits):
    """A[:rows] = gelu(Z[:rows]) = z Phi(z), the exact (erf) form."""
    c = _erf_constants(Z.dtype.type)
    for o in range(rows):
        z, a = Z[o], A[o]
        _gaussian(z, a, bits, count)
        for s in range(count):
            a[s] = z[s] * _cdf(z[s], a[s], c)


@njit(cache=True, **ELEMENT_MATH)
def gelu_backward_float32(Z, S, G, rows, count, bits):
    """G[:rows] *= gelu'(Z) = Phi(z) + z phi(z), as torch's backward; S: scratch (width, tile)."""
    t = Z.dtype.type
    beta, c = t(1.0 / math.sqrt(2.0 * math.pi)), _erf_constants(t)
    for o in range(rows):
        z, e, g = Z[o], S[o], G[o]
        _gaussian(z, e, bits, count)
        for s in range(count):
            g[s] = g[s] * (_cdf(z[s], e[s], c) + z[s] * (beta * e[s]))


@njit(cache=True, inline="always")
def _exp_minus_abs(z, e, bits, count):
    """e[:count] = exp(-|z|): silu's exp, always in (0, 1]."""
    for s in range(count):
        e[s] = -abs(z[s])
    _exp_nonpositive(e, bits, count)


@njit(cache=True, **ELEMENT_MATH)
def silu_float32(Z, A, rows, count, bits):
    """A[:rows] = silu(Z[:rows]) = z / (1 + exp(-z)), with exp(-z) = 1 / e for z < 0."""
    t = Z.dtype.type
    zero, one = t(0.0), t(1.0)
    for o in range(rows):
        z, a = Z[o], A[o]
        _exp_minus_abs(z, a, bits, count)
        for s in range(count):
            e = a[s]
            a[s] = (z[s] if z[s] >= zero else z[s] * e) / (one + e)


@njit(cache=True, **ELEMENT_MATH)
def silu_backward_float32(Z, S, G, rows, count, bits):
    """G[:rows] *= silu'(Z) = sig (1 + z (1 - sig)), as torch's backward; S: scratch."""
    t = Z.dtype.type
    zero, one = t(0.0), t(1.0)
    for o in range(rows):
        z, e, g = Z[o], S[o], G[o]
        _exp_minus_abs(z, e, bits, count)
        for s in range(count):
            sig = (one if z[s] >= zero else e[s]) / (one + e[s])
            g[s] = g[s] * sig * (one + z[s] * (one - sig))


@njit(cache=True, **ELEMENT_MATH)
def sigmoid_float32(Z, A, rows, count, bits):
    """A[:rows] = 1 / (1 + exp(-z)), with exp(-z) = 1 / e for z < 0 (e = exp(-|z|))."""
    t = Z.dtype.type
    zero, one = t(0.0), t(1.0)
    for o in range(rows):
        z, a = Z[o], A[o]
        _exp_minus_abs(z, a, bits, count)
        for s in range(count):
            a[s] = (one if z[s] >= zero else a[s]) / (one + a[s])


# Cephes' tanhf: an odd polynomial below 0.625, 1 - 2 e / (1 + e) with e = exp(-2|z|) above.
TANH_P = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
          -3.33332819422e-1)  # fmt: skip


@njit(cache=True, **ELEMENT_MATH)
def tanh_float32(Z, A, rows, count, bits):
    """A[:rows] = tanh(Z[:rows]) (Cephes' tanhf, about an ulp; NaN stays NaN)."""
    t = Z.dtype.type
    zero, one, two, edge = t(0.0), t(1.0), t(2.0), t(0.625)
    p0, p1, p2, p3, p4 = t(TANH_P[0]), t(TANH_P[1]), t(TANH_P[2]), t(TANH_P[3]), t(TANH_P[4])
    for o in range(rows):
        z, a = Z[o], A[o]
        for s in range(count):
            a[s] = -two * abs(z[s])
        _exp_nonpositive(a, bits, count)
        for s in range(count):
            x = z[s]
            x2 = x * x
            small = ((((p0 * x2 + p1) * x2 + p2) * x2 + p3) * x2 + p4) * x2 * x + x
            big = one - two * a[s] / (one + a[s])
            a[s] = (big if x >= zero else -big) if abs(x) >= edge else small


@njit(cache=True, **ELEMENT_MATH)
def elu_float32(Z, A, rows, count, bits, scale, alpha):
    """A[:rows] = z scale for z > 0, expm1(z) alpha otherwise (elu; selu with its constants).
    expm1: z + z^2 (1/2! + z/3! + ... + z^9/11!) above -1 (about an ulp), exp(z) - 1 below."""
    t = Z.dtype.type
    zero, one = t(0.0), t(1.0)
    c11, c10, c9, c8 = t(1 / 39916800), t(1 / 3628800), t(1 / 362880), t(1 / 40320)
    c7, c6, c5, c4, c3, c2 = t(1 / 5040), t(1 / 720), t(1 / 120), t(1 / 24), t(1 / 6), t(0.5)
    for o in range(rows):
        z, a = Z[o], A[o]
        for s in range(count):
            a[s] = min(z[s], zero)
        _exp_nonpositive(a, bits, count)
        for s in range(count):
            x = z[s]
            q = (((((((c11 * x + c10) * x + c9) * x + c8) * x + c7) * x + c6) * x + c5) * x
                 + c4) * x + c3  # fmt: skip
            q = q * x + c2
            expm1 = x + x * x * q if x > -one else a[s] - one
            a[s] = x * scale if x > zero else expm1 * alpha


@njit(cache=True, **ELEMENT_MATH)
def elu_backward_float32(Z, S, G, rows, count, bits, scale, alpha):
    """G[:rows] *= scale for z > 0, alpha exp(z) otherwise, as torch's backward; S: scratch."""
    t = Z.dtype.type
    zero = t(0.0)
    for o in range(rows):
        z, e, g = Z[o], S[o], G[o]
        for s in range(count):
            e[s] = min(z[s], zero)
        _exp_nonpositive(e, bits, count)
        for s in range(count):
            g[s] = g[s] * scale if z[s] > zero else g[s] * alpha * e[s]


# --------------------------------------------------------------------------- softplus and mish


@njit(cache=True, inline="always")
def _log1p_unit(e, t):
    """log1p(e) for e in [0, 1], no calls: 2 atanh(u), u = e / (2 + e) <= 1/3, by its series
    to u^13 (the first term left out is 2 u^15 / 15 <= 1e-8, below float32's half ulp); t:
    the dtype."""
    one, two = t(1.0), t(2.0)
    u = e / (two + e)
    u2 = u * u
    series = one + u2 * (t(1 / 3) + u2 * (t(1 / 5) + u2 * (t(1 / 7) + u2 * (
        t(1 / 9) + u2 * (t(1 / 11) + u2 * t(1 / 13))))))  # fmt: skip
    return two * u * series


@njit(cache=True, **ELEMENT_MATH)
def softplus_float32(Z, A, rows, count, bits, threshold):
    """A[:rows] = softplus(Z) = z above `threshold` (F.softplus's), else log1p(exp(z)) =
    max(z, 0) + log1p(e) with e = exp(-|z|)."""
    t = Z.dtype.type
    zero = t(0.0)
    for o in range(rows):
        z, a = Z[o], A[o]
        _exp_minus_abs(z, a, bits, count)
        for s in range(count):
            x = z[s]
            a[s] = x if x > threshold else max(x, zero) + _log1p_unit(a[s], t)


@njit(cache=True, **ELEMENT_MATH)
def softplus_backward_float32(Z, S, G, rows, count, bits, threshold):
    """G[:rows] *= softplus'(Z) = sigmoid(z) (1 above `threshold`), as torch's backward."""
    t = Z.dtype.type
    zero, one = t(0.0), t(1.0)
    for o in range(rows):
        z, e, g = Z[o], S[o], G[o]
        _exp_minus_abs(z, e, bits, count)
        for s in range(count):
            sig = (one if z[s] >= zero else e[s]) / (one + e[s])
            g[s] = g[s] if z[s] > threshold else g[s] * sig


@njit(cache=True, inline="always")
def _tanh_softplus(x, e, t):
    """tanh(log1p(exp(x))) from e = exp(-|x|), without cancellation: with w = 1 + exp(x),
    (w^2 - 1) / (w^2 + 1) is e (2 + e) / (e (2 + e) + 2) for x <= 0 and
    (1 + 2 e) / (1 + 2 e + 2 e^2) for x > 0; t: the dtype."""
    one, two = t(1.0), t(2.0)
    if x <= t(0.0):
        num = e * (two + e)
        return num / (num + two)
    num = one + two * e
    return num / (num + two * e * e)


@njit(cache=True, **ELEMENT_MATH)
def mish_float32(Z, A, rows, count, bits):
    """A[:rows] = mish(Z) = z tanh(softplus(z))."""
    t = Z.dtype.type
    for o in range(rows):
        z, a = Z[o], A[o]
        _exp_minus_abs(z, a, bits, count)
        for s in range(count):
            a[s] = z[s] * _tanh_softplus(z[s], a[s], t)


@njit(cache=True, **ELEMENT_MATH)
def mish_backward_float32(Z, S, G, rows, count, bits):
    """G[:rows] *= mish'(Z) = tsp + z sigmoid(z) (1 - tsp^2), tsp = tanh(softplus(z)), as
    torch's backward."""
    t = Z.dtype.type
    zero, one = t(0.0), t(1.0)
    for o in range(rows):
        z, e, g = Z[o], S[o], G[o]
        _exp_minus_abs(z, e, bits, count)
        for s in range(count):
            x = z[s]
            sig = (one if x >= zero else e[s]) / (one + e[s])
            tsp = _tanh_softplus(x, e[s], t)
            g[s] = g[s] * (tsp + x * sig * (one - tsp * tsp))
