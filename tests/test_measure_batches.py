"""Specification of the grid measures in point batches (bench.engine.measure): a network too
large to measure on all 10,000 grid points at once is measured a batch of points at a time,
with the same linear_fit_r2, linear_regions and decision surfaces."""

from __future__ import annotations

import torch

from bench.activations.registry import BUILTIN_REGISTRY
from bench.data.datasets import data_key, load_data
from bench.engine import measure
from bench.engine.reference import output_size
from bench.engine.stacked import build_stacked
from bench.spec import RunSpec

CPU = torch.device("cpu")


def measured(monkeypatch, measure_bytes: int, activation: str = "relu"):
    """grid_measures and grid_regions of four small networks (two datasets) under a budget."""
    monkeypatch.setattr(measure, "MEASURE_BYTES", measure_bytes)
    specs = [
        RunSpec(dataset=name, n_samples=100, activation=activation, depth=3, width=8, seed=seed)
        for name in ("circles", "moons")
        for seed in (0, 1)
    ]
    datasets = {data_key(s): load_data(s) for s in specs}
    first = datasets[data_key(specs[0])]
    torch.manual_seed(0)
    record = BUILTIN_REGISTRY.get(activation)
    net = build_stacked(specs, record, first.n_features, output_size(first.n_classes), CPU)
    planes = {key: measure.data_plane(data) for key, data in datasets.items()}
    batch = measure.measure_batch_size(len(specs), 3, 8)
    grid = measure.grid_measures(net, specs, planes, [0, 3], batch)
    return grid, measure.grid_regions(net, specs, planes, batch), batch


def test_a_model_too_large_for_the_budget_is_measured_in_point_batches(monkeypatch):
    # one model keeps 3 floats x 24 units per point: 288 bytes, so 2,000 points fit 576,000
    per_point = measure.measure_bytes_per_point(3, 8)
    monkeypatch.setattr(measure, "MEASURE_BYTES", 2000 * per_point)
    assert measure.measure_batch_size(4, 3, 8) == 1
    assert measure.measure_point_batch(3, 8) == 2000
    monkeypatch.setattr(measure, "MEASURE_BYTES", 64 << 20)
    assert measure.measure_point_batch(3, 8) == 100 * 100  # all of them
    assert measure.measure_point_batch(64, 4096) == 21  # 64 MiB / 3 MiB per point


def test_point_batches_give_the_same_measures_as_the_whole_plane(monkeypatch):
    whole, whole_init, batch = measured(monkeypatch, 64 << 20)
    assert batch == 4 and measure.measure_point_batch(3, 8) == 100 * 100
    # 997 points per batch: eleven batches, the last one short
    batched, batched_init, batch = measured(
        monkeypatch, 997 * measure.measure_bytes_per_point(3, 8)
    )
    assert batch == 1 and measure.measure_point_batch(3, 8) == 997
    assert torch.equal(batched.regions, whole.regions) and (whole.regions > 1).all()
    assert torch.equal(batched_init, whole_init)
    # the same points' logits, to float32 rounding (BLAS may block a shorter product otherwise)
    torch.testing.assert_close(batched.r2, whole.r2, rtol=0, atol=1e-6)
    assert (whole.r2 < 1).all()  # curved: a constant would agree trivially
    assert batched.probs.keys() == whole.probs.keys() == {0, 3}
    for row in (0, 3):
        torch.testing.assert_close(batched.probs[row], whole.probs[row], rtol=0, atol=1e-6)
        assert torch.equal(batched.preds[row], whole.preds[row])


def test_patterns_are_counted_over_all_points_not_summed_over_batches(monkeypatch):
    # two batches see many of the same regions: a per-batch count would exceed the whole one
    whole, _, _ = measured(monkeypatch, 64 << 20)
    halves, _, _ = measured(monkeypatch, 5000 * measure.measure_bytes_per_point(3, 8))
    assert torch.equal(halves.regions, whole.regions)


def test_the_predicted_measures_memory_is_bounded_by_the_budget_and_the_codes():
    points = 100 * 100
    huge = measure.measure_peak_bytes(4, 64, 4096)
    codes = 8 * (64 * 4096 // 64) * points  # one model's packed patterns of all points
    assert huge == 21 * measure.measure_bytes_per_point(64, 4096) + 2 * codes
    assert huge < (64 << 20) + 2 * codes < 1 << 30  # was 29 GiB on all points at once
    small = measure.measure_peak_bytes(10, 2, 16)  # all ten models, on all points together
    assert small == 10 * points * (4 * 32 * 3 + 2 * 8)
