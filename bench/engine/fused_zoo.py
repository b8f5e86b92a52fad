"""The activation zoo's parameter-free built-ins in the fused kernel (bench.activations.builtins.ZOO):
forward and backward by code, with torch's formulas and its conventions at the kinks, as torch
2.13 computes them: hardtanh, relu6 and hardsigmoid pass no gradient at their corners,
hardswish's is 0 at -3 and 1 at 3, abs's is 0 at 0 (tests/test_fused.py checks each corner).
celu (alpha 1) is elu and shares elu's code (fused_act).

Z, A, G: (width, tile) with the first `count` samples in use. The piecewise ones have no calls
in their loops, so they vectorise in either dtype; in float32 gaussian, erf and logsigmoid use
fused_math's call-free exp (erf by Abramowitz & Stegun 7.1.26, the form torch's own vectorised
erf uses). Measured maximum error against float64 truth over 500,000 points of [-30, 30], as
|error| / max(|f|, 1): gaussian 5.7e-8 forward and 1.1e-7 backward, erf 5.2e-7 and 1.5e-7,
logsigmoid 1.3e-7 and 8.9e-8, softsign 8.5e-8 and 2.0e-7; the piecewise ones are exact up to
float32 rounding. float64 keeps libm's functions (the 1e-9 float64 tests).
snake calls libm's sin and cos per element in both.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bench.engine.fused_math import ELEMENT_MATH, ERF_A, ERF_P, _exp_nonpositive, _log1p_unit

# torch's hardsigmoid backward multiplies by 1/6 rounded to float32, in float64 too (measured:
# 0.1666666716337204, not 1/6); the float64 check against autograd needs the same constant.
HARDSIGMOID_SLOPE = float(np.float32(1.0) / np.float32(6.0))
ZOO_CODES = {
    "hardswish": 12, "hardsigmoid": 13, "hardtanh": 14, "relu6": 15, "softsign": 17,
    "squared_relu": 18, "abs": 19, "snake": 20, "gaussian": 21, "erf": 22, "logsigmoid": 23,
}  # fmt: skip


@njit(cache=True, **ELEMENT_MATH)
def _neg_square_exp(Z, E, row, count, bits):
    """E[row] = exp(-z^2) for Z's row; float32 through the call-free exp."""
    z, e = Z[row], E[row]
    for s in range(count):
        e[s] = -(z[s] * z[s])
    if Z.itemsize == 4:
        _exp_nonpositive(e, bits, count)
    else:
        for s in range(count):
            e[s] = np.exp(e[s])


@njit(cache=True, **ELEMENT_MATH)
def _exp_minus_abs_row(Z, E, row, count, bits):
    """E[row] = exp(-|z|) for Z's row."""
    z, e = Z[row], E[row]
    for s in range(count):
        e[s] = -abs(z[s])
    if Z.itemsize == 4:
        _exp_nonpositive(e, bits, count)
    else:
        for s in range(count):
            e[s] = np.exp(e[s])


@njit(cache=True, **ELEMENT_MATH)
def zoo_forward(code, Z, A, rows, count, bits):
    """A[:rows] = act(Z[:rows]) for a ZOO_CODES code."""
    t = Z.dtype.type
    zero, one, three, six = t(0.0), t(1.0), t(3.0), t(6.0)
    for o in range(rows):
        z, a = Z[o], A[o]
        if code == 12:  # hardswish: x relu6(x + 3) / 6
            for s in range(count):
                a[s] = z[s] * min(max(z[s] + three, zero), six) / six
        elif code == 13:  # hardsigmoid: relu6(x + 3) / 6
            for s in range(count):
                a[s] = min(max(z[s] + three, zero), six) / six
        elif code == 14:  # hardtanh
            for s in range(count):
                a[s] = min(max(z[s], -one), one)
        elif code == 15:  # relu6
            for s in range(count):
                a[s] = min(max(z[s], zero), six)
        elif code == 17:  # softsign: x / (1 + |x|)
            for s in range(count):
                a[s] = z[s] / (abs(z[s]) + one)
        elif code == 18:  # squared_relu
            for s in range(count):
                r = max(z[s], zero)
                a[s] = r * r
        elif code == 19:  # abs
            for s in range(count):
                a[s] = abs(z[s])
        elif code == 20:  # snake: x + sin(x)^2
            for s in range(count):
                sine = np.sin(z[s])
                a[s] = z[s] + sine * sine
        elif code == 21:  # gaussian: exp(-x^2)
            _neg_square_exp(Z, A, o, count, bits)
        elif code == 22:  # erf
            if Z.itemsize == 4:
                _neg_square_exp(Z, A, o, count, bits)
                p, a1, a2, a3, a4, a5 = t(ERF_P), t(ERF_A[0]), t(ERF_A[1]), t(ERF_A[2]), \
                    t(ERF_A[3]), t(ERF_A[4])  # fmt: skip
                for s in range(count):
                    x = abs(z[s])
                    u = one / (p * x + one)
                    r = ((((a5 * u + a4) * u + a3) * u + a2) * u + a1) * u
                    v = one - r * a[s]
                    a[s] = v if z[s] >= zero else -v
            else:
                for s in range(count):
                    a[s] = math.erf(z[s])
        else:  # 23, logsigmoid: min(x, 0) - log1p(exp(-|x|))
            _exp_minus_abs_row(Z, A, o, count, bits)
            if Z.itemsize == 4:
                for s in range(count):
                    a[s] = min(z[s], zero) - _log1p_unit(a[s], t)
            else:
                for s in range(count):
                    a[s] = min(z[s], zero) - np.log1p(a[s])


@njit(cache=True, **ELEMENT_MATH)
def zoo_backward(code, Z, S, G, rows, count, bits):
    """G[:rows] *= act'(Z[:rows]) as torch's backward computes it; S: (width, tile) scratch
    (the forward's output row, overwritten)."""
    t = Z.dtype.type
    zero, one, two, three, six = t(0.0), t(1.0), t(2.0), t(3.0), t(6.0)
    half = t(0.5)
    for o in range(rows):
        z, e, g = Z[o], S[o], G[o]
        if code == 12:  # hardswish: 0 up to -3, x / 3 + 1/2 strictly inside, 1 from 3 on
            for s in range(count):
                x = z[s]
                g[s] = zero if x <= -three else (g[s] * (x / three + half) if x < three else g[s])
        elif code == 13:  # hardsigmoid: 1/6 strictly inside (-3, 3), torch's float32 1/6
            sixth = t(HARDSIGMOID_SLOPE)
            for s in range(count):
                g[s] = g[s] * sixth if (z[s] > -three) and (z[s] < three) else zero
        elif code == 14:  # hardtanh: 1 strictly inside (-1, 1)
            for s in range(count):
                g[s] = g[s] if (z[s] > -one) and (z[s] < one) else zero
        elif code == 15:  # relu6: 1 strictly inside (0, 6)
            for s in range(count):
                g[s] = g[s] if (z[s] > zero) and (z[s] < six) else zero
        elif code == 17:  # softsign: 1 / (1 + |x|)^2
            for s in range(count):
                d = abs(z[s]) + one
                g[s] = g[s] / (d * d)
        elif code == 18:  # squared_relu: 2 max(x, 0)
            for s in range(count):
                g[s] = g[s] * (two * max(z[s], zero))
        elif code == 19:  # abs: sign(x), 0 at 0
            for s in range(count):
                x = z[s]
                g[s] = g[s] if x > zero else (-g[s] if x < zero else zero)
        elif code == 20:  # snake: 1 + 2 sin(x) cos(x)
            for s in range(count):
                g[s] = g[s] + two * np.sin(z[s]) * g[s] * np.cos(z[s])
        elif code == 21:  # gaussian: -2 x exp(-x^2)
            _neg_square_exp(Z, S, o, count, bits)
            for s in range(count):
                g[s] = g[s] * (-two * z[s]) * e[s]
        elif code == 22:  # erf: 2 / sqrt(pi) exp(-x^2)
            _neg_square_exp(Z, S, o, count, bits)
            c = t(2.0 / math.sqrt(math.pi))
            for s in range(count):
                g[s] = g[s] * (c * e[s])
        else:  # 23, logsigmoid: sigmoid(-x) = 1 / (1 + e) for x < 0, e / (1 + e) otherwise
            _exp_minus_abs_row(Z, S, o, count, bits)
            for s in range(count):
                g[s] = g[s] * ((one if z[s] < zero else e[s]) / (one + e[s]))
