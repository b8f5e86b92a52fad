"""The report's "Features vs hidden layers" section (bench/report/feature_maps.py): when the runs
vary the feature map, a linear model on quadratic features is set beside a ReLU network on raw
inputs, with the runs' own numbers and words that follow the report's one wording rule; when they
do not, the section is not there."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import report_synthetic as synthetic  # noqa: E402

from bench.report import build_report, summaries  # noqa: E402
from bench.report.feature_maps import LINEAR, build, finding, model_runs  # noqa: E402
from bench.report.figure_kit import Inputs, Skip  # noqa: E402
from bench.report.plotting import activation_styles  # noqa: E402
from bench.report.results import Results, levels, prepare_runs  # noqa: E402
from bench.report.sections import figure_plan  # noqa: E402

FAST = {"n_resamples": 200}
SECTION = "features_vs_hidden_layers.png"
SEEDS = (0, 1, 2, 3, 4)
# Test accuracy per seed. The linear model (none, at depth 0 and at depth 2) is at chance on raw
# inputs and separates the circles on quadratic features; relu does on both. The linear model
# on quadratic features and relu on raw inputs have overlapping intervals: a tie.
ACCURACY = {
    ("raw", "none"): [0.49] * 5,
    ("quadratic", "none"): [0.99, 1.0, 0.98, 1.0, 0.99],
    ("raw", "relu"): [0.98, 0.99, 1.0, 0.97, 0.99],
    ("quadratic", "relu"): [1.0] * 5,
}


def circles_runs(features=("raw", "quadratic"), accuracy=ACCURACY) -> pd.DataFrame:
    """circles at noise 0.03: none at depths 0 and 2, relu at depth 2, five seeds, on each
    feature map; test accuracy from ``accuracy`` (the same at both depths of none)."""
    base = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",), depths=(0, 2),
                               widths=(8,), noises=(0.03,), seeds=SEEDS)  # fmt: skip
    base = base[~((base["activation"] == "relu") & (base["depth"] == 0))]
    base = base.assign(error="", diverged=False)
    copies = []
    for feature in features:
        runs = base.assign(features=feature, run_id=base["run_id"] + feature)
        runs["test_acc"] = [
            accuracy[(feature, activation)][seed]
            for activation, seed in zip(runs["activation"], runs["seed"], strict=True)
        ]
        copies.append(runs)
    return pd.concat(copies, ignore_index=True)


def inputs_of(runs: pd.DataFrame) -> Inputs:
    results = Results(Path("unused"), prepare_runs(runs), synthetic.make_curves(runs))
    s = summaries(results, **FAST)
    styles = activation_styles(levels(runs, "activation"), s.affine)
    return Inputs(results, s, styles, **FAST)


@pytest.fixture(scope="module")
def section():
    inputs = inputs_of(circles_runs())
    return inputs, build(inputs)


def table_rows(text: str) -> dict[str, dict[str, str]]:
    """The section's (single, compact) markdown table as {model: {column: cell}}, for a grid
    of one dataset and noise level."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = dict(zip(header, [c.strip() for c in line.strip("|").split("|")], strict=True))
        rows[cells.pop("model")] = cells
    return rows


def summary_rows(**columns) -> pd.DataFrame:
    """feature_summary rows for one dataset and noise level."""
    n = len(columns["activation"])
    return pd.DataFrame({"dataset": ["circles"] * n, "noise": [0.03] * n, **columns, "n": 5})


# -----------------------------------------------------------------------------
# where the section appears


def test_the_section_follows_the_depth_figure_when_the_feature_map_varies(section):
    inputs, _ = section
    plan = [filename for filename, _, _ in figure_plan(inputs.summaries)]
    assert plan.index(SECTION) == plan.index("accuracy_vs_depth.png") + 1
    assert "accuracy_vs_features.png" not in plan  # the section replaces the generic figure


def test_the_section_is_absent_when_the_feature_map_is_fixed():
    inputs = inputs_of(circles_runs(features=("raw",)))
    assert SECTION not in [filename for filename, _, _ in figure_plan(inputs.summaries)]
    with pytest.raises(Skip, match=r"a single features \(raw\)"):
        build(inputs)


def test_the_linear_model_is_every_affine_network_and_every_depth_0_one():
    runs = prepare_runs(circles_runs())
    relu_at_0 = runs[runs["activation"] == "relu"].head(1).assign(depth=0, run_id="r0")
    kinds = model_runs(pd.concat([runs, relu_at_0], ignore_index=True))
    linear = kinds["activation"] == LINEAR
    assert (linear == ((kinds["depth"] == 0) | kinds["affine"])).all()
    assert set(kinds.loc[~linear, "activation"]) == {"relu"}


# -----------------------------------------------------------------------------
# its numbers are the runs'


def test_the_table_quotes_each_model_on_each_feature_map(section):
    inputs, built = section
    rows = table_rows(built.text)
    assert list(rows) == [LINEAR, "relu"]
    # bench.data.features' order, raw first, then the yardsticks of the same test points
    assert list(rows[LINEAR]) == [
        "dataset", "noise", "raw", "quadratic", "chance", "best straight line", "best possible"
    ]  # fmt: skip
    for (feature, activation), values in ACCURACY.items():
        model = LINEAR if activation == "none" else activation
        mean, low, high = (
            float(x) for x in rows[model][feature].strip("]").replace("[", ",").split(",")
        )
        assert mean == pytest.approx(100 * np.mean(values), abs=0.05)
        assert low <= mean <= high
    assert rows[LINEAR]["raw"] == "49.0 [49.0, 49.0]"  # every seed the same: a point
    references = inputs.summaries.yardsticks.iloc[0]
    assert rows[LINEAR]["chance"] == rows["relu"]["chance"] == f"{100 * references['chance']:.1f}"
    assert rows[LINEAR]["best possible"] == f"{100 * references['bayes']:.1f}"
    assert "(depth 0, and none at depth 2)" in built.text
    assert "mean over 5 replicates with 95% intervals" in built.caption
    assert "the best straight line" in built.caption and "the best possible" in built.caption


def test_the_sentence_says_the_linear_model_on_quadratic_features_ties_relu_on_raw_inputs(section):
    _, built = section
    sentence = next(
        p.removeprefix("- ") for p in built.text.splitlines() if p.startswith("- On circles")
    )
    assert sentence.startswith(
        "On circles (noise 0.03) the linear model on quadratic features reaches 99.2% ["
    )
    assert "tied with relu on raw inputs (98.6% [" in sentence
    assert "higher than relu" not in sentence and "lower than relu" not in sentence
    assert sentence.endswith(
        "on raw inputs the linear model gets 49.0% [49.0, 49.0], lower than its score on "
        "quadratic features and at chance (chance 50.0%)."
    )


def test_the_report_carries_the_section_and_its_figure(tmp_path):
    results = synthetic.write_results(tmp_path / "results", circles_runs(), surfaces=False)
    summary = build_report(results, tmp_path / "report", **FAST).read_text()
    assert "### 3. Features vs hidden layers" in summary
    assert "tied with relu on raw inputs" in summary
    assert (tmp_path / "report" / "figures" / SECTION).exists()
    assert not (tmp_path / "report" / "figures" / "accuracy_vs_features.png").exists()


# -----------------------------------------------------------------------------
# its words follow bench/report/wording.py


@pytest.mark.parametrize(
    ("relu_raw", "word"),
    [
        ((0.96, 0.93, 0.99), "tied with relu"),  # the intervals overlap
        ((0.80, 0.78, 0.82), "higher than relu"),  # relu's lies wholly below
        ((0.999, 0.998, 1.0), "lower than relu"),  # relu's lies wholly above
    ],
)
def test_higher_and_lower_only_when_the_intervals_do_not_overlap(relu_raw, word):
    part = summary_rows(
        activation=[LINEAR, LINEAR, "relu"],
        features=["raw", "quadratic", "raw"],
        mean=[0.50, 0.97, relu_raw[0]],
        low=[0.48, 0.95, relu_raw[1]],
        high=[0.52, 0.99, relu_raw[2]],
    )
    sentence = finding(part, "circles (noise 0.03)", chance=0.5)
    assert f"{word} on raw inputs" in sentence
    others = {"tied with relu", "higher than relu", "lower than relu"} - {word}
    assert not any(other in sentence for other in others)
    assert "at chance (chance 50.0%)" in sentence
    assert "best" not in sentence


def test_one_seed_lets_the_means_decide_and_says_so():
    part = summary_rows(
        activation=[LINEAR, LINEAR, "relu"],
        features=["raw", "quadratic", "raw"],
        mean=[0.50, 0.97, 0.96],
        low=[np.nan] * 3,
        high=[np.nan] * 3,
    )
    sentence = finding(part, "circles (noise 0.03)", chance=0.5)
    assert "higher than relu on raw inputs (96.0% (one seed, no interval))" in sentence
    assert sentence.endswith("(one seed, so no interval: the means decide).")
