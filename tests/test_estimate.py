"""`plan`'s time estimate: human units, a range, prices cached per machine, a GPU hint."""

import pytest
import torch

from bench.cli import main
from bench.run import estimate
from bench.run.estimate import Calibration, Estimate, human_duration

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(42, "42 s"), (90, "1.5 min"), (420, "7.0 min"), (5400, "1.5 h"), (342790, "4.0 days")],
)
def test_durations_read_in_the_largest_unit(seconds, text):
    assert human_duration(seconds) == text


def test_an_estimate_is_a_range_unless_both_ends_read_the_same():
    assert Estimate(low=300, high=600, cached=False).describe() == "5.0 min to 10 min"
    assert Estimate(low=30, high=30.4, cached=True).describe() == "30 s"


def test_prices_are_measured_once_per_machine_and_setting(monkeypatch):
    calls = []
    fixed = Calibration(1e-4, 1e-9, 1e-8, 1e-7)

    def fake_calibrate(device, threads=None):
        calls.append(threads)
        return fixed, fixed

    monkeypatch.setattr(estimate, "calibrate", fake_calibrate)
    monkeypatch.setattr(estimate, "fixed_costs", lambda *args: ({}, {}))
    assert estimate.prices(CPU, jobs=1, threads=3) == ((fixed, fixed), False)
    assert estimate.prices(CPU, jobs=1, threads=3) == ((fixed, fixed), True)
    estimate.prices(CPU, jobs=1, threads=2)  # another setting: measured
    estimate.prices(CPU, jobs=1, threads=3, recalibrate=True)
    assert calls == [3, 2, 3]


def test_a_long_cpu_grid_suggests_a_gpu(monkeypatch, capsys, tmp_path):
    slow = Calibration(1.0, 1e-3, 1e-3, 1.0)  # absurdly slow prices: hours for any grid
    monkeypatch.setattr(estimate, "prices", lambda *a, **k: ((slow, slow), True))
    # an empty results folder: results/seed may hold the grid already (after make bench)
    empty = str(tmp_path / "results")
    assert main(["plan", "seed", "--out", empty, "--device", "cpu", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "prices cached for this machine" in out
    assert "days" in out and "meant for a GPU" in out and "--device cuda" in out
