"""The linear layers of the fused kernel (`bench.engine.fused_kernels`): one tile's forward
product, and the two backward products, register-blocked over pairs of rows.

Rows are (tile,) arrays of samples; a layer's weight (o, i) sits at theta[w0 + o * fan_in + i]
and its bias o at theta[b0 + o]. Each loop runs over samples, so it vectorises; each pass
handles two output rows and up to four input rows, so one load of an input row serves two
multiply-adds and the bias (forward) or the zeroing (backward) rides on the first pass instead
of a pass of its own. The blocking measured 1.6x faster than one output row per pass (forward
and backward of the seed network, 800 samples, float32).

    forward:   Z[o] = b[o] + sum_i W[o, i] H[i]                          (fan_out, count)
    weights:   dW[o, i] += sum_s G[o, s] H[i, s],  db[o] += sum_s G[o, s]
    inputs:    G_in[i] = sum_o W[o, i] G[o]                              (fan_in, count)

Sums over samples (weight gradients) may be reassociated, as a BLAS would (REDUCE_MATH); the
elementwise sums keep their written order.
"""

from __future__ import annotations

from numba import njit

from bench.engine.fused_math import REDUCE_MATH

# --------------------------------------------------------------------------- forward


@njit(cache=True, inline="always")
def _forward_rows(theta, za, zb, ra, rb, h, i, k, count, init, ba, bb):
    """za (+)= sum_{j<k} theta[ra + j] h[i + j], and zb with rb: k (1, 2 or 4) inputs, two rows
    (zb is za's twin only when rb < 0: then za alone). init: start from the biases ba, bb."""
    if k == 4:
        a0, a1, a2, a3 = theta[ra], theta[ra + 1], theta[ra + 2], theta[ra + 3]
        h0, h1, h2, h3 = h[i], h[i + 1], h[i + 2], h[i + 3]
        if rb < 0:
            if init:
                for s in range(count):
                    za[s] = ba + (a0 * h0[s] + a1 * h1[s] + a2 * h2[s] + a3 * h3[s])
            else:
                for s in range(count):
                    za[s] += a0 * h0[s] + a1 * h1[s] + a2 * h2[s] + a3 * h3[s]
            return
        c0, c1, c2, c3 = theta[rb], theta[rb + 1], theta[rb + 2], theta[rb + 3]
        if init:
            for s in range(count):
                x0, x1, x2, x3 = h0[s], h1[s], h2[s], h3[s]
                za[s] = ba + (a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3)
                zb[s] = bb + (c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3)
        else:
            for s in range(count):
                x0, x1, x2, x3 = h0[s], h1[s], h2[s], h3[s]
                za[s] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                zb[s] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3
    elif k == 2:
        a0, a1 = theta[ra], theta[ra + 1]
        h0, h1 = h[i], h[i + 1]
        if rb < 0:
            if init:
                for s in range(count):
                    za[s] = ba + (a0 * h0[s] + a1 * h1[s])
            else:
                for s in range(count):
                    za[s] += a0 * h0[s] + a1 * h1[s]
            return
        c0, c1 = theta[rb], theta[rb + 1]
        if init:
            for s in range(count):
                x0, x1 = h0[s], h1[s]
                za[s] = ba + (a0 * x0 + a1 * x1)
                zb[s] = bb + (c0 * x0 + c1 * x1)
        else:
            for s in range(count):
                x0, x1 = h0[s], h1[s]
                za[s] += a0 * x0 + a1 * x1
                zb[s] += c0 * x0 + c1 * x1
    else:
        a0 = theta[ra]
        h0 = h[i]
        if rb < 0:
            if init:
                for s in range(count):
                    za[s] = ba + a0 * h0[s]
            else:
                for s in range(count):
                    za[s] += a0 * h0[s]
            return
        c0 = theta[rb]
        if init:
            for s in range(count):
                za[s] = ba + a0 * h0[s]
                zb[s] = bb + c0 * h0[s]
        else:
            for s in range(count):
                za[s] += a0 * h0[s]
                zb[s] += c0 * h0[s]


@njit(cache=True)
def forward_layer(theta, w0, b0, fan_in, fan_out, h, z, count):
    """z[:fan_out, :count] = W h + b for one layer; h: (>= fan_in, tile) its inputs."""
    for o in range(0, fan_out, 2):
        pair = o + 1 < fan_out
        ra = w0 + o * fan_in
        rb = ra + fan_in if pair else -1
        ba = theta[b0 + o]
        bb = theta[b0 + o + 1] if pair else ba
        zb = z[o + 1] if pair else z[o]
        i = 0
        while i < fan_in:
            k = 4 if i + 4 <= fan_in else (2 if i + 2 <= fan_in else 1)
            _forward_rows(theta, z[o], zb, ra + i, rb + i if pair else -1, h, i, k, count,
                          i == 0, ba, bb)  # fmt: skip
            i += k


# --------------------------------------------------------------------------- backward


@njit(cache=True, fastmath=REDUCE_MATH)
def _sums2x4(ga, gb, h0, h1, h2, h3, count):
    """The eight sums ga . h_j and gb . h_j (j < 4) over the first `count` samples."""
    t = ga.dtype.type
    a0, a1, a2, a3 = t(0.0), t(0.0), t(0.0), t(0.0)
    b0, b1, b2, b3 = t(0.0), t(0.0), t(0.0), t(0.0)
    for s in range(count):
        x, y = ga[s], gb[s]
        a0 += x * h0[s]
        a1 += x * h1[s]
        a2 += x * h2[s]
        a3 += x * h3[s]
        b0 += y * h0[s]
        b1 += y * h1[s]
        b2 += y * h2[s]
        b3 += y * h3[s]
    return a0, a1, a2, a3, b0, b1, b2, b3


@njit(cache=True, fastmath=REDUCE_MATH)
def _sums2x1(ga, gb, h0, count):
    """ga . h0 and gb . h0."""
    t = ga.dtype.type
    a, b = t(0.0), t(0.0)
    for s in range(count):
        a += ga[s] * h0[s]
        b += gb[s] * h0[s]
    return a, b


@njit(cache=True, fastmath=REDUCE_MATH)
def _sums1x4(ga, h0, h1, h2, h3, count):
    """ga . h_j (j < 4)."""
    t = ga.dtype.type
    a0, a1, a2, a3 = t(0.0), t(0.0), t(0.0), t(0.0)
    for s in range(count):
        x = ga[s]
        a0 += x * h0[s]
        a1 += x * h1[s]
        a2 += x * h2[s]
        a3 += x * h3[s]
    return a0, a1, a2, a3


@njit(cache=True, fastmath=REDUCE_MATH)
def _sums2(ga, gb, count):
    """The sums of ga and of gb."""
    t = ga.dtype.type
    a, b = t(0.0), t(0.0)
    for s in range(count):
        a += ga[s]
        b += gb[s]
    return a, b


@njit(cache=True, fastmath=REDUCE_MATH)
def _sum1x1(ga, h0, count):
    """ga . h0."""
    total = ga.dtype.type(0.0)
    for s in range(count):
        total += ga[s] * h0[s]
    return total


@njit(cache=True)
def weight_grads(grad, w0, b0, fan_in, fan_out, G, h, count):
    """grad[W] += G h^T and grad[b] += G 1 for one layer over a tile; G: (>= fan_out, tile)
    d(loss)/d(z), h: (>= fan_in, tile) the layer's inputs."""
    for o in range(0, fan_out, 2):
        pair = o + 1 < fan_out
        ga = G[o]
        gb = G[o + 1] if pair else G[o]
        ra, rb = w0 + o * fan_in, w0 + (o + 1) * fan_in
        if pair:
            da, db = _sums2(ga, gb, count)
            grad[b0 + o] += da
            grad[b0 + o + 1] += db
        else:
            da, _ = _sums2(ga, ga, count)
            grad[b0 + o] += da
        i = 0
        while i + 4 <= fan_in:
            if pair:
                a0, a1, a2, a3, c0, c1, c2, c3 = _sums2x4(ga, gb, h[i], h[i + 1], h[i + 2],
                                                          h[i + 3], count)  # fmt: skip
                grad[rb + i] += c0
                grad[rb + i + 1] += c1
                grad[rb + i + 2] += c2
                grad[rb + i + 3] += c3
            else:
                a0, a1, a2, a3 = _sums1x4(ga, h[i], h[i + 1], h[i + 2], h[i + 3], count)
            grad[ra + i] += a0
            grad[ra + i + 1] += a1
            grad[ra + i + 2] += a2
            grad[ra + i + 3] += a3
            i += 4
        for j in range(i, fan_in):
            if pair:
                a, c = _sums2x1(ga, gb, h[j], count)
                grad[rb + j] += c
            else:
                a = _sum1x1(ga, h[j], count)
            grad[ra + j] += a


@njit(cache=True, inline="always")
def _input_rows(theta, out_a, out_b, pair, G, o, k, wa, wb, fan_in, count, init):
    """out_a (+)= sum_{j<k} W[o + j, ia] G[o + j] with W's column at theta[wa + j fan_in], and
    out_b with column wb (when pair); k is 4 or 1."""
    if k == 4:
        g0, g1, g2, g3 = G[o], G[o + 1], G[o + 2], G[o + 3]
        a0, a1 = theta[wa], theta[wa + fan_in]
        a2, a3 = theta[wa + 2 * fan_in], theta[wa + 3 * fan_in]
        if not pair:
            if init:
                for s in range(count):
                    out_a[s] = a0 * g0[s] + a1 * g1[s] + a2 * g2[s] + a3 * g3[s]
            else:
                for s in range(count):
                    out_a[s] += a0 * g0[s] + a1 * g1[s] + a2 * g2[s] + a3 * g3[s]
            return
        c0, c1 = theta[wb], theta[wb + fan_in]
        c2, c3 = theta[wb + 2 * fan_in], theta[wb + 3 * fan_in]
        if init:
            for s in range(count):
                x0, x1, x2, x3 = g0[s], g1[s], g2[s], g3[s]
                out_a[s] = a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                out_b[s] = c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3
        else:
            for s in range(count):
                x0, x1, x2, x3 = g0[s], g1[s], g2[s], g3[s]
                out_a[s] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                out_b[s] += c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3
    else:
        g0 = G[o]
        a0 = theta[wa]
        c0 = theta[wb] if pair else a0
        if not pair:
            if init:
                for s in range(count):
                    out_a[s] = a0 * g0[s]
            else:
                for s in range(count):
                    out_a[s] += a0 * g0[s]
            return
        if init:
            for s in range(count):
                out_a[s] = a0 * g0[s]
                out_b[s] = c0 * g0[s]
        else:
            for s in range(count):
                out_a[s] += a0 * g0[s]
                out_b[s] += c0 * g0[s]


@njit(cache=True)
def input_grads(theta, w0, fan_in, fan_out, G, G_in, count):
    """G_in[:fan_in, :count] = W^T G for one layer (the gradient with respect to its inputs)."""
    for i in range(0, fan_in, 2):
        pair = i + 1 < fan_in
        out_b = G_in[i + 1] if pair else G_in[i]
        o = 0
        while o < fan_out:
            k = 4 if o + 4 <= fan_out else 1
            wa = w0 + o * fan_in + i
            _input_rows(theta, G_in[i], out_b, pair, G, o, k, wa, wa + 1, fan_in, count, o == 0)
            o += k
