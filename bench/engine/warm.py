"""Compile the fused kernel before the first run needs it, on two cores at once.

A fresh install has no Numba cache: the first chunk of every worker compiled the whole kernel
(about 47 s on one core of the 2-core reference machine), each worker the same code at the same
time. `python -m bench.engine.warm` (make's install step) compiles it once into the on-disk
cache, split over two processes: this one trains a tiny float32 network through
`train_chunk` (the real path, so exactly the signatures a grid uses), while a second process
compiles the backward half (`_backward` with its layers and activations, the loss, the
optimizer step, the shuffle) with the argument types `fused_kernels.train_models` passes them.
When the first process reaches those, Numba finds them in the cache. If a signature here ever
stops matching the kernel's, the first process compiles it itself: slower, never wrong
(tests/test_warm.py checks that they match).

The same call, made with bytecode writing on, leaves .pyc files for every module a run imports
(make installs with pip's --no-compile, which skips byte-compiling the whole of torch).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time

import numpy as np

PARTS = ("train", "backward")
# What the commands import (the report's plotting and statistics, perf's scikit-learn): imported
# by the install step with bytecode writing on, so each later process reads .pyc files.
COMMAND_MODULES = ("bench.run.runner", "bench.report", "bench.explore", "bench.perf.measure")


def compile_backward_half() -> None:
    """Compiles the kernel's backward half for float32 with train_models' argument types."""
    from bench.engine import fused_kernels as K
    from bench.engine import fused_options as opt

    f32, i64 = np.float32, np.int64
    sizes = np.array([2, 4, 1], i64)
    w_off, b_off = np.array([0, 12], i64), np.array([8, 16], i64)
    codes = np.array([1], i64)
    theta, grad = np.zeros(17, f32), np.zeros(17, f32)
    layers, width, tile = 2, 4, 16
    Z = np.zeros((layers, width, tile), f32)
    A = np.zeros((layers + 1, width, tile), f32)
    G, G_next = np.zeros((width, tile), f32), np.zeros((width, tile), f32)
    labels, bits = np.zeros(tile, f32), np.zeros(tile, np.int32)
    R = np.zeros((1, 1, 1), f32)
    drop = (i64(0), f32(1.0), i64(0), i64(0), R, R)
    K._backward(theta, grad, sizes, w_off, b_off, codes, Z, A, G, G_next, i64(tile), bits, drop)
    K._loss(Z[layers - 1, :1], labels, i64(tile), f32(1.0), G, bits, False)
    opt.step(theta, grad, grad.copy(), grad.copy(), f32(0.1), f32(0.0), True, i64(1))
    opt.shuffle(i64(0), i64(1), i64(tile), np.zeros(tile, i64))


def compile_by_training() -> None:
    """Trains one tiny float32 network on the fused path: compiles (or loads) all of it."""
    from bench.activations.registry import BUILTIN_REGISTRY
    from bench.engine.train import train_chunk
    from bench.spec import RunSpec

    spec = RunSpec(n_samples=40, depth=1, width=2, optimizer="adam", epochs=2, eval_every=1)
    train_chunk([spec], BUILTIN_REGISTRY.get("relu"), "cpu", measure=False)


def warm(part: str | None = None) -> float:
    """Compiles the kernel (part None: both halves, the backward one in a second process, and
    imports COMMAND_MODULES meanwhile); returns the seconds it took. With a warm cache this is
    the time to load it."""
    start = time.perf_counter()
    if part == "backward":
        compile_backward_half()
    elif part == "train":
        compile_by_training()
    else:
        other = subprocess.Popen([sys.executable, "-m", "bench.engine.warm", "--part", "backward"])
        try:
            for name in COMMAND_MODULES:
                importlib.import_module(name)
            compile_by_training()
        finally:
            other.wait()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine.warm", description=__doc__)
    parser.add_argument("--part", choices=PARTS, help="one half only [both, in two processes]")
    args = parser.parse_args(argv)
    try:
        import bench.engine.fused_kernels  # noqa: F401
    except ImportError as exc:  # as bench.engine.fused: the generic path trains without Numba
        print(f"fused kernel not compiled: {exc}; every chunk will train on the generic path")
        return 0
    seconds = warm(args.part)
    if args.part is None:
        print(f"fused kernel compiled (or loaded from Numba's cache) in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
