"""Theory beside measurement: mean-field predictions computed from the activation itself
(bench.activations.theory) and the report's checks of them (bench.report.theory)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import report_synthetic as synthetic
import torch

from bench.activations.plugins import get_activation
from bench.activations.registry import make_activation
from bench.activations.theory import mean_field, variances
from bench.report.results import prepare_runs, usable
from bench.report.theory import TOLERANCE, gradient_slopes, linear_collapse, verdict


def test_closed_forms_of_the_mean_field_quantities():
    # no activation under PyTorch's init: q* = q*/3 + 1/(3N), chi_1 = sigma_w^2 = 1/3
    none = mean_field(get_activation("none"), "pytorch", 32)
    assert none.q_star == pytest.approx(1 / 64, rel=1e-6)
    assert none.chi_1 == pytest.approx(1 / 3, rel=1e-6)
    # relu under He init sits exactly at the edge: E[relu'(z)^2] = 1/2, sigma_w^2 = 2
    relu = mean_field(get_activation("relu"), "kaiming", 64)
    assert relu.chi_1 == pytest.approx(1.0, abs=1e-4) and relu.log10_slope == pytest.approx(
        0, abs=1e-4
    )
    # relu under PyTorch's init: chi_1 = (1/3)(1/2)
    assert mean_field(get_activation("relu"), "pytorch", 32).chi_1 == pytest.approx(1 / 6, rel=1e-4)
    # tanh near its linear regime (tiny q*): chi_1 close to sigma_w^2 tanh'(0)^2 = 1/3
    tanh = mean_field(get_activation("tanh"), "pytorch", 32)
    assert tanh.q_star < 0.02 and tanh.chi_1 == pytest.approx(1 / 3, rel=0.05)
    assert variances("glorot", 10) == (1.0, 0.1)


def test_any_activation_gets_a_prediction_from_its_own_module():
    # a plugin: 2 * relu has chi_1 four times relu's, so a slope log10(2) steeper per layer
    doubled = make_activation("double_relu", lambda x: 2 * torch.relu(x), source="test")
    relu = mean_field(get_activation("relu"), "kaiming", 32)
    assert mean_field(doubled, "kaiming", 32).log10_slope == pytest.approx(
        relu.log10_slope + math.log10(2), abs=1e-6
    )


def test_the_linear_collapse_counts_every_exception():
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",))
    runs.loc[runs["activation"] == "none", ["linear_fit_r2", "linear_regions"]] = [1.0, 1]
    prepared = prepare_runs(runs)
    collapse = linear_collapse(prepared)
    usable_none = usable(prepared)["activation"] == "none"  # the failed one is not counted
    assert collapse["exceptions"] == 0 and collapse["runs"] == usable_none.sum()
    broken = runs.copy()
    broken.loc[broken.index[broken["activation"] == "none"][:2], "linear_fit_r2"] = 0.97
    assert linear_collapse(prepare_runs(broken))["exceptions"] == 2


def test_measured_slopes_are_per_replicate_fits_against_depth():
    # gradient norms that fall by exactly sqrt(chi_1) of relu under PyTorch's init per layer
    runs = synthetic.make_runs(activations=("relu",), datasets=("circles",), depths=(1, 2, 4),
                               widths=(32,))  # fmt: skip
    runs = runs.assign(grad_norm_init_first=0.1 * (1 / 6) ** (0.5 * (runs["depth"] - 1)))
    slopes = gradient_slopes(prepare_runs(runs), n_resamples=100, seed=0)
    row = slopes.iloc[0]
    assert row["mean"] == pytest.approx(row["predicted"], abs=1e-9)
    assert row["predicted"] == pytest.approx(0.5 * math.log10(1 / 6), abs=1e-6)
    assert verdict(row) == "agrees"
    assert (
        verdict(
            pd.Series({"mean": row["predicted"] - 2 * TOLERANCE, "predicted": row["predicted"]})
        )
        == "departs"
    )
    assert verdict(pd.Series({"mean": np.nan, "predicted": 0.0})) == "no prediction"


def test_zero_bias_regions_are_judged_against_2n_and_random_biases_against_polynomial_growth():
    from bench.report.theory import _region_rows

    rows = pd.DataFrame(
        [
            # zero biases: 2N regions for N = depth x width hidden units
            *({"activation": "relu", "init": "kaiming", "width": 32, "depth": d,
               "mean": 2 * 32 * d * f, "low": np.nan, "high": np.nan, "trained": 300.0}
              for d, f in ((1, 1.0), (2, 0.9), (4, 1.1))),
            # random biases: x5 from depth 1 to 4, far under the x16 of N^2
            *({"activation": "relu", "init": "pytorch", "width": 32, "depth": d, "mean": m,
               "low": np.nan, "high": np.nan, "trained": 900.0}
              for d, m in ((1, 200.0), (2, 500.0), (4, 1000.0))),
        ]
    )  # fmt: skip
    verdicts = {r["prediction"].split(",")[2].strip(): r["verdict"] for r in _region_rows(rows)}
    assert verdicts == {"zero biases (kaiming): the network is positively homogeneous": "agrees",
                        "init pytorch (random biases): at most about N^2 in the number of units N":
                        "agrees"}  # fmt: skip
    rows.loc[rows["init"] == "kaiming", "mean"] *= 2  # 4N: not what zero biases allow
    assert [r["verdict"] for r in _region_rows(rows)][0] == "departs"


def test_a_network_is_dead_when_a_layer_is_exactly_constant_and_only_then():
    from bench.engine.measure import dead_networks
    from bench.engine.stacked import build_stacked
    from bench.spec import RunSpec

    X = torch.randn(2, 2, 50, generator=torch.Generator().manual_seed(0))  # (models, in, n)
    # a layer pushed far below zero: relu outputs exact zeros; leaky_relu a shrunken signal,
    # tanh a saturated one (exactly -1 in float32): neither is a dead ReLU
    for name, expected in (("relu", True), ("leaky_relu", False), ("tanh", False)):
        net = build_stacked([RunSpec(activation=name, depth=3, width=4, seed=s) for s in (0, 1)],
                            get_activation(name), 2, 1, "cpu")  # fmt: skip
        assert not dead_networks(net, X, batch=2).any()  # born alive at these seeds
        with torch.no_grad():
            net.biases[1][0] -= 100.0  # model 0: every unit of layer 2 far below zero
        assert dead_networks(net, X, batch=1).tolist() == [expected, False], name
