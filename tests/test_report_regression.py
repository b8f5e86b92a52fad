"""The report on results with regression runs (n_classes 0): a section of their own, test R^2
beside two yardsticks computed from the data, and classification sections that the regression
runs leave untouched. Synthetic results (report_synthetic.py), built once per module."""

from __future__ import annotations

import filecmp
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import report_synthetic as synthetic  # noqa: E402

from bench.data import ceiling
from bench.data.datasets import make_dataset
from bench.report import build_report, summaries  # noqa: E402
from bench.report.headline import headline  # noqa: E402
from bench.report.regression import finding  # noqa: E402
from bench.report.regression_summaries import block_keys, regression_summaries  # noqa: E402
from bench.report.results import (  # noqa: E402
    Results,
    load_results,
    prepare_runs,
    split_tasks,
)
from bench.report.summary import Tables, _tables  # noqa: E402
from bench.report.yardsticks import with_yardsticks  # noqa: E402

FAST = {"n_resamples": 150}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
R2_CELL = r"-?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]"  # '0.992 [0.990, 0.993]'


def small_classification() -> pd.DataFrame:
    return synthetic.make_runs(
        datasets=("circles",), activations=("none", "relu"), widths=(4,), noises=(0.03,)
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """A report on classification and regression runs together, one on the regression runs
    alone, and the tables section of the classification runs alone (what build_report writes
    for them, without drawing their figures again)."""
    root = tmp_path_factory.mktemp("regression")
    classification, regression = small_classification(), synthetic.make_regression_runs()
    out = {"runs": regression}
    for name, parts in {
        "mixed": (classification, regression),
        "regression": (None, regression),
    }.items():
        results = synthetic.write_mixed_results(root / name / "results", *parts)
        out[name] = build_report(results, root / name / "report", **FAST)
    alone = load_results(synthetic.write_mixed_results(root / "alone", classification, None))
    s = summaries(alone, **FAST)
    out["alone"] = "\n\n".join(_tables(s, Tables(root / "alone" / "tables")))
    out["alone_tables"] = root / "alone" / "tables"
    out["alone_headline"] = headline(alone.runs, s)
    return out


def section(markdown: str, heading: str, end: str = "\n### ") -> str:
    start = markdown.index(heading)
    stop = markdown.find(end, start + len(heading))
    return markdown[start : stop if stop >= 0 else None]


def pipe_table(text: str) -> pd.DataFrame:
    """The first pipe table in ``text``, as strings indexed by its first column."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    return pd.DataFrame(rows[2:], columns=rows[0]).set_index(rows[0][0])


# -----------------------------------------------------------------------------
# the whole report


def test_a_mixed_folder_reports_and_its_classification_tables_are_unchanged(reports):
    mixed = reports["mixed"]
    mixed_text = mixed.read_text()
    for path in sorted(reports["alone_tables"].iterdir()):
        assert filecmp.cmp(path, mixed.parent / "tables" / path.name, shallow=False), path.name
    for heading in ("### Test accuracy by activation and dataset",
                    "### Test accuracy by activation and depth", "### Ranking"):  # fmt: skip
        assert section(reports["alone"], heading).strip() == section(mixed_text, heading).strip()
    # the classification headline is the same; the regression runs add their own bullets
    head = mixed_text[: mixed_text.index("## Figures")]
    assert f"## Findings\n\n{reports['alone_headline']}\n\n" in head
    assert "Regression (test $R^2$" in head
    assert "sine" not in section(mixed_text, "### 2. Test accuracy against depth")
    assert (mixed.parent / "tables" / "regression_r2_vs_depth.csv").exists()
    failures = pd.read_csv(mixed.parent / "tables" / "failures.csv").set_index("activation")
    assert failures["runs"].sum() == len(small_classification()) + len(reports["runs"])


def test_a_regression_only_folder_has_no_classification_section(reports):
    text = reports["regression"].read_text()
    assert "Skipped" not in text and "accuracy against" not in text
    assert "### 1. Regression: fitting a function" in text
    assert "### 2. Regression: the fitted functions" in text
    assert "Test accuracy by" not in text and "Decision boundaries" not in text
    tables = sorted(p.name for p in (reports["regression"].parent / "tables").iterdir())
    assert tables == ["failures.csv", "regression_r2_vs_depth.csv"]


def test_the_gallery_figure_is_written(reports):
    for name in ("mixed", "regression"):
        report = reports[name].parent
        for figure in ("regression_fits.png", "regression_r2_vs_depth.png"):
            assert (report / "figures" / figure).read_bytes()[:8] == PNG_SIGNATURE
    caption = section(reports["mixed"].read_text(), "Regression: the fitted functions")
    assert "every activation at depth 2 (the deepest stored)" in caption


# -----------------------------------------------------------------------------
# the numbers


def test_the_regression_table_quotes_r2_with_intervals_and_both_yardsticks(reports):
    text, runs = reports["mixed"].read_text(), reports["runs"]
    sine = section(text, "On sine", end="\n\nOn ")
    table = pipe_table(sine)
    assert list(table.index) == ["*best possible*", "*best line*", "none", "relu", "tanh"]
    assert list(table.columns) == ["depth 1", "depth 2"]
    best, line = synthetic.regression_yardsticks("sine")
    assert table.loc["*best possible*", "depth 1"] == f"{best:.3f}"
    assert table.loc["*best line*", "depth 2"] == f"{line:.3f}"
    # each seed averaged over the other axes, then the mean over seeds (the report's rule)
    means = runs.groupby(["dataset", "activation", "depth", "seed"])["test_r2"].mean()
    means = means.groupby(["dataset", "activation", "depth"]).mean()
    for activation in ("none", "relu", "tanh"):
        for depth in (1, 2):
            quoted = table.loc[activation, f"depth {depth}"]
            assert pd.Series([quoted]).str.fullmatch(R2_CELL).all(), quoted
            assert float(quoted.split()[0]) == pytest.approx(
                means[("sine", activation, depth)], abs=0.0006
            )
    saddle = pipe_table(section(text, "On saddle", end="\n\n#"))
    assert "*best plane*" in saddle.index  # two inputs: the best affine fit is a plane
    csv = pd.read_csv(reports["mixed"].parent / "tables" / "regression_r2_vs_depth.csv")
    assert {"best_r2", "line_r2", "mean", "low", "high"} <= set(csv.columns)


def test_best_possible_r2_is_one_minus_the_noise_share_of_the_target_variance():
    noise = 0.3
    args = {"n_samples": 4000, "noise": noise, "data_seed": 7, "test_size": 0.25}
    best, line = ceiling.r2_yardsticks("sine", **args)
    # sin(pi x), x uniform on [-1, 1], has variance 1/2; the noise adds noise^2
    assert best == pytest.approx(1 - noise**2 / (0.5 + noise**2), abs=0.02)
    # the same from the data directly
    data = make_dataset("sine", **args)
    x, y = data.coords_test.numpy()[:, 0].astype(float), data.y_test.numpy().astype(float)
    total = ((y - y.mean()) ** 2).sum()
    assert best == pytest.approx(1 - ((y - np.sin(np.pi * x)) ** 2).sum() / total, abs=1e-6)
    slope, intercept = np.polyfit(data.coords_train.numpy()[:, 0], data.y_train.numpy(), 1)
    assert line == pytest.approx(1 - ((y - slope * x - intercept) ** 2).sum() / total, abs=1e-5)
    assert 0.5 < line < best  # a line misses most of a sine's period, not all of it


def test_regression_data_has_no_chance_or_bayes_accuracy():
    assert ceiling.ceiling("sine", 0.1) is None
    assert np.isnan(ceiling.chance_accuracy("sine", n_samples=100, noise=0.1))
    with pytest.raises(ValueError):
        ceiling.estimate("saddle", 0.1)
    runs = prepare_runs(synthetic.make_regression_runs(datasets=("sine",), seeds=(0,)))
    marked = with_yardsticks(runs)
    assert marked[["chance", "ceiling", "of_best"]].isna().all().all()


def test_ties_are_called_ties_and_only_separate_intervals_are_higher():
    runs = pd.concat([small_classification(), synthetic.make_regression_runs()])
    results = Results(Path("unused"), prepare_runs(runs), pd.DataFrame())
    classification, regression = split_tasks(results)
    assert set(classification.runs["dataset"]) == {"circles"}
    rs = regression_summaries(regression, **FAST)
    sentences = {key[0]: finding(rs, key) for key in block_keys(rs)}
    sine, saddle = sentences["sine"], sentences["saddle"]
    assert (
        "equal to the best straight line's" in sine
        and "so a straight line is the most it can fit" in sine
    )
    assert "relu and tanh are tied" in sine or "tanh and relu are tied" in sine
    assert "higher than the linear network" in sine
    assert "At depth 2, tanh is best (" in saddle and "best plane's" in saddle
    # every number quoted is a summary's, rounded as printed
    row = rs.by_depth.query("dataset == 'saddle' and activation == 'tanh' and depth == 2")
    assert f"{row['mean'].iloc[0]:.3f} [{row['low'].iloc[0]:.3f}" in saddle
