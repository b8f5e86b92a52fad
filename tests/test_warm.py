"""The install step's kernel warm-up: its backward half compiles what training uses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from bench.engine import fused_kernels as K
from bench.engine import fused_options as opt
from bench.engine import warm


def _float32_signatures(dispatcher) -> list:
    return [s for s in dispatcher.signatures if getattr(s[0], "dtype", None) != np.float64]


def test_the_backward_half_compiles_the_signatures_training_uses():
    # Training after the backward half must find every float32 signature already there: one each.
    # A second one would mean the warm-up compiled a signature the kernel never calls.
    warm.compile_backward_half()
    warm.compile_by_training()
    for dispatcher in (K._backward, K._loss, opt.step, opt.shuffle):
        assert len(_float32_signatures(dispatcher)) == 1, dispatcher.py_func.__name__


def test_the_install_step_runs_both_halves_and_says_so():
    done = subprocess.run(
        [sys.executable, "-m", "bench.engine.warm"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "fused kernel compiled" in done.stdout


def test_without_numba_the_install_step_says_so_and_succeeds(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bench.engine.fused_kernels", None)  # import fails
    assert warm.main([]) == 0
    assert "every chunk will train on the generic path" in capsys.readouterr().out
