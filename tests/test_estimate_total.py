"""`plan` prices the whole of `run` (start, planning, training, storing) and the report after it,
so that its estimate of the small built-in grids is within a factor of 2 of the time measured."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import bench
from bench.cli import main
from bench.grid.parse import load_grid
from bench.results.store import Store
from bench.run import estimate
from bench.run.estimate import Calibration
from bench.run.plan import make_plan
from bench.run.runner import default_jobs

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parent.parent


def test_the_estimate_adds_start_planning_and_storing_to_training(monkeypatch, tmp_path):
    prices = Calibration(1e-5, 0.0, 0.0, 0.0, startup=5.0, pool_start=4.0, per_task=0.5)
    monkeypatch.setattr(estimate, "prices", lambda *a, **k: ((prices, prices), True))
    # the seed notebook's block alone: 40 runs of 1000 epochs, 4 chunks
    seed = (Path(bench.__file__).parent / "grids" / "seed.toml").read_text()
    (tmp_path / "notebook.toml").write_text(seed[: seed.index("[[block]]")])
    plan = make_plan(load_grid(str(tmp_path / "notebook.toml")), Store(tmp_path / "out"), CPU,
                     max_chunk=10)  # fmt: skip
    guess = estimate.estimate(plan, CPU, jobs=2, threads=1, planning=1.5)
    parts = dict(guess.parts)
    assert parts["start"] == 9.0  # a fresh Python, then the two workers
    assert parts["planning"] == 1.5 and parts["storing"] == 4 * 0.5
    assert parts["training"] == pytest.approx(4 * 1000 * 1e-5 / 2)  # 1000 epochs per chunk
    assert guess.low == guess.high == pytest.approx(sum(parts.values()))
    assert guess.breakdown() == "start 9 s, planning 2 s, training 0 s, storing 2 s"
    alone = dict(estimate.estimate(plan, CPU, jobs=1, threads=1).parts)
    assert alone["start"] == 5.0  # one job trains in the command's own process


def test_the_report_is_priced_by_activations_and_runs_in_figures(tmp_path):
    prices = Calibration(0.0, 0.0, 0.0, 0.0, per_figure=0.25)
    plan = make_plan(load_grid("quick"), Store(tmp_path), CPU)
    assert plan.activations == 12 and plan.total == 96
    units = estimate.REPORT_FIXED + 12 * estimate.REPORT_PER_ACTIVATION
    units += 0.096 * estimate.REPORT_PER_1000_RUNS
    assert estimate.report_seconds(plan, prices) == pytest.approx(0.25 * units)


def test_plan_prints_the_parts_and_the_report(monkeypatch, capsys, tmp_path):
    prices = Calibration(1e-5, 0.0, 0.0, 0.0, startup=5.0, per_task=0.1, per_figure=0.2)
    monkeypatch.setattr(estimate, "prices", lambda *a, **k: ((prices, prices), True))
    empty = str(tmp_path / "results")  # results/seed may hold the grid already
    assert main(["plan", "seed", "--out", empty, "--device", "cpu", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "for `run` on cpu with 1 job(s)" in out
    assert "          start 5 s, planning " in out
    assert "report    " in out and "for `report` afterwards" in out


@pytest.mark.slow  # calibrates this machine (~1 min), then runs quick in a fresh Python
def test_the_estimate_for_quick_is_within_a_factor_of_two_of_the_run(tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["plan", "quick", "--out", str(out)]) == 0
    plan = make_plan(load_grid("quick"), Store(out), CPU)
    guess = estimate.estimate(plan, CPU, jobs=default_jobs(CPU))  # as `run` will
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench", "run", "quick", "--out", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    measured = time.perf_counter() - start
    assert guess.low / 2 <= measured <= guess.high * 2, (guess, measured)
