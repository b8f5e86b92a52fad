"""Where one fused training epoch spends its time: each phase of `fused_kernels._train_one`
timed on its own, on one thread, for the seed network (perf.md's "What limits it").

The phases are the kernel's own functions called in compiled loops (no Python in the timed
part): forward, loss, backward and optimizer step over the training set, the test-set
evaluation, and the whole epoch (`_train_one` over many epochs, evaluating every epoch); what
the whole has beyond the parts is loop and bookkeeping overhead.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from numba import njit

from bench.engine import fused
from bench.engine import fused_kernels as K
from bench.engine import fused_options as opt


@njit
def _forwards(reps, theta, sizes, w_off, b_off, codes, Z, A, count, bits, drop):
    for _ in range(reps):
        K._forward(theta, sizes, w_off, b_off, codes, Z, A, count, bits, drop)


@njit
def _losses(reps, logits, labels, count, scale, G, bits):
    total = 0.0
    for _ in range(reps):
        total += K._loss(logits, labels, count, scale, G, bits, False)[0]
    return total


@njit
def _backwards(reps, theta, grad, sizes, w_off, b_off, codes, Z, A, G0, G, G_next, count, bits,
               drop):  # fmt: skip
    for _ in range(reps):
        G[:, :count] = G0[:, :count]  # _backward uses G and G_next as scratch: restore G
        K._backward(theta, grad, sizes, w_off, b_off, codes, Z, A, G, G_next, count, bits, drop)


@njit
def _steps(reps, theta, grad, m, v, lr):
    for k in range(reps):
        opt.step(theta, grad, m, v, lr, lr * 0, False, k + 1)


@njit
def _evaluations(reps, ev, X, y, order, Z, A, G, labels, bits, drop):
    total = 0.0
    for _ in range(reps):
        total += K._evaluate(ev, X, y, 1.0, order, Z, A, G, labels, bits, drop)[0]
    return total


def _best(fn, reps: int, rounds: int = 5) -> float:
    """Seconds per repetition: the fastest of `rounds` timings of fn(reps)."""
    fn(1)  # compile
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(reps)
        times.append((time.perf_counter() - start) / reps)
    return min(times)


def seed_epoch_profile(X_train, y_train, X_test, y_test, net, lr: float = 0.1) -> pd.DataFrame:
    """The phases of one full-batch SGD epoch of one model (net's first), in microseconds, with
    their FLOPs and GFLOP/s. X: (in, samples) float32 tensors, y: (samples,)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    fused.set_threads()
    try:
        return _profile(X_train, y_train, X_test, y_test, net, lr)
    finally:
        torch.set_num_threads(threads)
        fused.set_threads()


def _profile(X_train, y_train, X_test, y_test, net, lr):
    sizes, w_off, b_off = fused.layout(net)
    theta = fused.pack_parameters(net)[0].copy()
    codes = fused.activation_codes(net)
    f32 = np.float32
    Xt, yt = X_train.numpy().astype(f32), y_train.numpy().astype(f32)
    Xe, ye = X_test.numpy().astype(f32), y_test.numpy().astype(f32)
    n, layers, width = Xt.shape[1], len(sizes) - 1, int(sizes.max())
    tile = n  # one tile holds the training set (fused.tile_size does the same here)
    Z = np.zeros((layers, width, tile), f32)
    A = np.zeros((layers + 1, width, tile), f32)
    G, G_next = np.zeros((width, tile), f32), np.zeros((width, tile), f32)
    labels, bits = yt.copy(), np.zeros(tile, np.int32)
    drop = (np.int64(0), f32(1.0), np.int64(0), np.int64(0), np.zeros((1, 1, 1), f32),
            np.zeros((1, 1, 1), f32))  # fmt: skip
    grad, m, v = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    A[0, : Xt.shape[0], :n] = Xt
    out = int(sizes[-1])
    macs = int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))
    first = int(sizes[0] * sizes[1])
    n_test = Xe.shape[1]

    _forwards(1, theta, sizes, w_off, b_off, codes, Z, A, n, bits, drop)
    _losses(1, Z[layers - 1, :out], labels, n, f32(1 / n), G, bits)
    G0 = G.copy()  # the loss's gradient: what each timed backward starts from
    phases = {
        "forward": (
            _best(
                lambda r: _forwards(r, theta, sizes, w_off, b_off, codes, Z, A, n, bits, drop), 2000
            ),
            2 * macs * n,
        ),  # fmt: skip
        "loss (BCE)": (
            _best(lambda r: _losses(r, Z[layers - 1, :out], labels, n, f32(1 / n), G, bits), 2000),
            0,
        ),  # fmt: skip
        "backward": (
            _best(
                lambda r: _backwards(
                    r, theta, grad, sizes, w_off, b_off, codes, Z, A, G0, G, G_next, n, bits, drop
                ),
                2000,
            ),
            2 * macs * n + 2 * (macs - first) * n,
        ),  # fmt: skip
        "optimizer step": (
            _best(lambda r: _steps(r, theta.copy(), grad, m, v, f32(lr)), 20000),
            0,
        ),  # fmt: skip
        "test evaluation": (
            _best(
                lambda r: _evaluations(
                    r,
                    (theta, sizes, w_off, b_off, codes, False),
                    Xe,
                    ye,
                    np.arange(n_test),
                    Z,
                    A,
                    G,
                    labels,
                    bits,
                    drop,
                ),
                2000,
            ),
            2 * macs * n_test,
        ),  # fmt: skip
    }
    record_at = np.arange(0, 201, dtype=np.int64)
    hyper = np.zeros(opt.HYPER, f32)
    hyper[opt.KEEP_SCALE] = 1.0
    epochs = 200

    def whole(reps):
        for _ in range(reps):
            curves = np.zeros((len(record_at), 4))
            K._train_one(theta.copy(), sizes, w_off, b_off, codes, Xt, yt, Xe, ye, f32(lr), hyper,
                         np.int64(0), np.int64(0), False, False, False, epochs, 0, record_at,
                         tile, curves)  # fmt: skip

    total = _best(whole, 1, rounds=3) / epochs
    parts = sum(seconds for seconds, _ in phases.values())
    phases["loops and bookkeeping"] = (max(total - parts, 0.0), 0)
    rows = [
        dict(phase=name, us_per_epoch=seconds * 1e6, share=seconds / total,
             flops=flops, gflops=flops / seconds / 1e9 if flops else float("nan"))
        for name, (seconds, flops) in phases.items()
    ]  # fmt: skip
    rows.append(dict(phase="whole epoch", us_per_epoch=total * 1e6, share=1.0,
                     flops=sum(f for _, f in phases.values()),
                     gflops=sum(f for _, f in phases.values()) / total / 1e9))  # fmt: skip
    return pd.DataFrame(rows)
