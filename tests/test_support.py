"""The report's one selection rule: every comparison on common support (bench.report.support).

Each test hand-makes a results frame where pooling every run of a cell would say something the
runs do not, and checks that the rule does not.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from bench.report.results import prepare_runs
from bench.report.support import select
from bench.report.tables import summarize

FAST = {"n_resamples": 200}


def frame(rows: list[dict], seeds=(0, 1, 2), data_seeds=(42, 43)) -> pd.DataFrame:
    """One run per row and replicate (data_seed x seed), with the defaults of the other axes."""
    defaults = {
        "dataset": "circles", "noise": 0.1, "features": "raw", "depth": 2, "width": 8,
        "dropout": 0.0, "activation": "relu", "test_acc": 0.9, "error": "", "diverged": False,
        "affine": False, "n_classes": 2,
    }  # fmt: skip
    runs = []
    for i, row in enumerate(rows):
        for data_seed, seed in itertools.product(data_seeds, seeds):
            runs.append(
                {**defaults, **row, "seed": seed, "data_seed": data_seed,
                 "run_id": f"{i}-{data_seed}-{seed}"}
            )  # fmt: skip
    return prepare_runs(pd.DataFrame(runs))


def means(summary: pd.DataFrame, *keys: str) -> dict:
    return {tuple(r[k] for k in keys): round(r["mean"], 6) for _, r in summary.iterrows()}


def test_a_feature_map_slice_is_never_pooled_with_raw_inputs():
    # none on raw inputs is at chance at every depth; a quadratic-features slice exists for
    # none at depth 2 only and separates the data: pooled, none would zig-zag with depth
    rows = [{"activation": "none", "affine": True, "depth": d, "test_acc": 0.46} for d in (1, 2, 4)]
    rows += [{"activation": "relu", "depth": d, "test_acc": 0.95} for d in (1, 2, 4)]
    rows += [{"activation": "none", "affine": True, "depth": 2, "features": "quadratic",
              "test_acc": 0.99}]  # fmt: skip
    runs = frame(rows)
    by_depth = summarize(runs, ["activation", "depth"], **FAST)
    none = {d: m for (a, d), m in means(by_depth, "activation", "depth").items() if a == "none"}
    assert none == {1: 0.46, 2: 0.46, 4: 0.46}  # one affine map at every depth
    selection = by_depth.attrs["selection"]
    assert selection.held == {"features": "raw"}
    assert selection.left_out == ((6, "with features = quadratic (features is held at raw)"),)
    assert "Left out: 6 runs with features = quadratic" in selection.note()
    # compared in its own right, the feature map is kept
    by_features = summarize(runs, ["activation", "features"], where=lambda r: r[r["depth"] == 2])
    assert means(by_features, "activation", "features")[("none", "quadratic")] == 0.99


def test_a_setting_one_cell_never_ran_is_left_out_of_every_cell():
    # relu ran with dropout 0 and 0.2, none only with dropout 0; dropout 0.2 ruins relu here.
    # Pooled, relu (0.925 and 0.3 -> 0.61) would read lower than none (0.8): the rule compares
    # both at dropout 0, where relu is higher.
    rows = [
        {"activation": "none", "affine": True, "test_acc": 0.8},
        {"activation": "relu", "test_acc": 0.925},
        {"activation": "relu", "dropout": 0.2, "test_acc": 0.3},
    ]
    runs = frame(rows)
    pooled = runs.groupby("activation")["test_acc"].mean()
    assert pooled["relu"] < pooled["none"]
    summary = summarize(runs, ["activation"], **FAST)
    assert means(summary, "activation") == {("none",): 0.8, ("relu",): 0.925}
    selection = summary.attrs["selection"]
    assert selection.left_out == ((6, "with dropout = 0.2: not run for every compared cell"),)
    assert selection.averaged == {}  # only dropout 0 is left: nothing is averaged over


def test_depth_zero_matches_any_activation_width_and_dropout():
    # logistic regression (depth 0) was run once, at width 4; the networks at widths 4, 8, 32.
    # Width cannot matter without a hidden layer, so no width is dropped.
    rows = [{"activation": "none", "affine": True, "depth": 0, "width": 4, "test_acc": 0.5}]
    rows += [
        {"activation": a, "depth": d, "width": w, "test_acc": 0.6 + 0.01 * w}
        for a in ("none", "relu") for d in (1, 2) for w in (4, 8, 32)
    ]  # fmt: skip
    runs = frame(rows)
    summary = summarize(runs, ["activation", "depth"], **FAST)
    selection = summary.attrs["selection"]
    assert len(selection.runs) == len(runs) and not selection.left_out
    assert selection.averaged == {"width": [4, 8, 32]}
    assert "width (3 values: 4, 8, 32)" in selection.note()


def test_each_facet_has_its_own_support_and_a_facet_with_none_is_skipped_with_its_reason():
    rows = [
        # circles: both activations at noise 0.1 and 0.2
        *({"activation": a, "noise": n} for a in ("none", "relu") for n in (0.1, 0.2)),
        # moons: none only at noise 0.1, relu only at noise 0.2: nothing shared
        {"dataset": "moons", "activation": "none", "noise": 0.1},
        {"dataset": "moons", "activation": "relu", "noise": 0.2},
    ]
    selection = select(frame(rows), ["activation"], ["dataset"])
    assert set(selection.runs["dataset"]) == {"circles"}
    assert selection.averaged == {"noise": [0.1, 0.2]}
    assert selection.skipped == (
        "dataset = moons: no setting of noise is shared by every compared cell",
    )
    assert "Skipped: dataset = moons" in selection.note()


def test_an_axis_constant_inside_every_cell_describes_it_and_is_not_averaged():
    # stacks: each activation label has its own depth and width (like a layers grid)
    rows = [
        {"activation": "none", "affine": True, "depth": 1, "width": 8},
        {"activation": "[16 relu, 8 tanh]", "depth": 2, "width": 16},
    ]
    selection = select(frame(rows), ["activation"])
    assert len(selection.runs) == 12 and selection.averaged == {} and not selection.left_out


def test_failed_and_diverged_runs_and_missing_metrics_are_not_usable():
    runs = frame([{"activation": "relu"}, {"activation": "none", "affine": True}])
    runs.loc[runs.index[0], "error"] = "boom"
    runs = prepare_runs(runs.drop(columns=["failed"]))
    runs.loc[runs.index[1], "diverged"] = True
    runs.loc[runs.index[2], "test_acc"] = np.nan
    selection = select(runs, ["activation"])
    assert len(selection.runs) == len(runs) - 3


def test_intervals_resample_data_samples_then_seeds():
    # two data samples whose test sets differ by 10 points: seeds within each agree closely.
    # Resampling the 10 replicates as independent would give a narrow interval; the two-level
    # bootstrap knows there are two test sets.
    rows = [{"activation": "relu"}]
    runs = frame(rows, seeds=(0, 1, 2, 3, 4))
    runs["test_acc"] = np.where(runs["data_seed"] == 42, 0.85, 0.95) + 0.001 * runs["seed"]
    summary = summarize(runs, ["activation"], n_resamples=2000)
    row = summary.iloc[0]
    assert row["mean"] == pytest.approx(0.902)
    assert row["low"] < 0.87 and row["high"] > 0.93  # spans both test sets' levels
    independent = runs["test_acc"].std(ddof=1) / np.sqrt(10) * 1.96
    assert row["high"] - row["low"] > 2 * independent
