"""The report on a small synthetic results directory (see report_synthetic.py)."""

from __future__ import annotations

import re
import sys
import types

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import report_synthetic as synthetic  # noqa: E402

from bench.report import build_report  # noqa: E402
from bench.report.summary import FIGURE_FILES, headline, seed_reproduction  # noqa: E402
from bench.report.tables import prepare_runs, ranking_table  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = {"n_resamples": 300}  # fewer bootstrap resamples where intervals are not under test


@pytest.fixture(autouse=True)
def fake_data(monkeypatch):
    """bench.data.make_dataset replaced by the synthetic test points (the report imports
    bench.data through sys.modules, so the fake is what it finds)."""
    module = types.ModuleType("bench.data")
    module.make_dataset = synthetic.fake_make_dataset
    monkeypatch.setitem(sys.modules, "bench.data", module)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The default synthetic grid and its report, built once with the default resampling."""
    root = tmp_path_factory.mktemp("baseline")
    results = synthetic.write_results(root / "results")
    with pytest.MonkeyPatch.context() as patch:
        module = types.ModuleType("bench.data")
        module.make_dataset = synthetic.fake_make_dataset
        patch.setitem(sys.modules, "bench.data", module)
        summary = build_report(results, root / "report", **FAST)
    runs = pd.read_parquet(results / "runs.parquet")
    return {"root": root, "results": results, "summary": summary, "runs": runs}


def table(markdown: str, heading: str) -> pd.DataFrame:
    """The first pipe table after a heading, as strings indexed by its first column."""
    lines = markdown[markdown.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, body = rows[0], rows[2:]  # rows[1] is the |:---| separator
    return pd.DataFrame(body, columns=header).set_index(header[0])


def mean_of(cell: str) -> float:
    """The mean in a '81.2 [79.0, 83.1]' table cell."""
    return float(cell.split()[0])


def headline_of(markdown: str) -> str:
    return markdown[: markdown.index("## Grid")]


def seed_means(runs: pd.DataFrame, by: list[str]) -> pd.Series:
    """The report's convention: per seed, the mean over other axes; then the mean over seeds."""
    ok = runs[runs["error"] == ""]
    return ok.groupby([*by, "seed"])["test_acc"].mean().groupby(by).mean()


# -----------------------------------------------------------------------------


def test_every_figure_is_a_non_empty_png(baseline):
    summary = baseline["summary"]
    assert summary == baseline["root"] / "report" / "summary.md"
    text = summary.read_text()
    for name in FIGURE_FILES:
        path = summary.parent / "figures" / name
        assert path.exists(), name
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE, name
        assert len(data) > 8_000, name
        assert f"](figures/{name})" in text
    assert "Skipped" not in text


def test_summary_names_every_activation(baseline):
    text = baseline["summary"].read_text()
    for activation in synthetic.ACTIVATIONS:
        assert f"| {activation} " in text  # a row of the tables
    for activation in ("relu", "tanh", "my_swish", "none"):
        assert activation in table(text, "### Ranking").index


def test_accuracy_tables_equal_pandas_groupby(baseline):
    text, runs = baseline["summary"].read_text(), baseline["runs"]
    by_dataset = table(text, "### Test accuracy by activation and dataset")
    expected = seed_means(runs[runs["depth"] > 0], ["activation", "dataset"])
    for (activation, dataset), value in expected.items():
        assert mean_of(by_dataset.loc[activation, dataset]) == pytest.approx(100 * value, abs=0.051)

    by_depth = table(text, "### Test accuracy by activation and depth")
    expected = seed_means(runs, ["activation", "depth"])
    for (activation, depth), value in expected.items():
        cell = by_depth.loc[activation, f"depth {depth}"]
        assert mean_of(cell) == pytest.approx(100 * value, abs=0.051)
    assert list(by_depth.index) == list(synthetic.ACTIVATIONS)

    csv = pd.read_csv(baseline["summary"].parent / "tables" / "accuracy_by_activation_depth.csv")
    merged = csv.set_index(["activation", "depth"])["mean"]
    pd.testing.assert_series_equal(
        merged.sort_index(), expected.sort_index(), check_names=False, rtol=1e-12
    )


def test_failure_counts_equal_pandas(baseline):
    text, runs = baseline["summary"].read_text(), baseline["runs"]
    counts = table(text, "### Failed and diverged runs").astype(int)
    grouped = runs.groupby("activation")
    for activation, part in grouped:
        assert counts.loc[activation, "runs"] == len(part)
        assert counts.loc[activation, "failed"] == (part["error"] != "").sum()
        assert counts.loc[activation, "diverged"] == part["diverged"].sum()
    assert counts["failed"].sum() == 1 and counts["diverged"].sum() == 1


def test_ranking_is_best_first_with_relu_as_reference(baseline):
    text = baseline["summary"].read_text()
    ranking = table(text, "### Ranking")
    iqms = [mean_of(v) for v in ranking.iloc[:, 0]]
    assert iqms == sorted(iqms, reverse=True)
    assert ranking.loc["relu", "P(> relu) [95% CI]"] == "reference"
    p_none = float(ranking.loc["none", "P(> relu) [95% CI]"].split()[0])
    assert 0.0 <= p_none < 0.5


def test_headline_numbers_come_from_the_results(baseline):
    text, runs = baseline["summary"].read_text(), baseline["runs"]
    head = headline_of(text)
    circles = runs[(runs["dataset"] == "circles") & (runs["depth"] > 0)]
    none = seed_means(circles[circles["activation"] == "none"], ["depth"])
    relu = seed_means(circles[circles["activation"] == "relu"], ["depth"])
    assert f"{100 * none.min():.1f}%–{100 * none.max():.1f}%" in head
    assert f"With relu, {100 * relu.max():.1f}%" in head
    assert "higher than without" in head
    assert "where chance is 50%" in head
    assert "On blobs, the negative control, every activation is within" in head
    assert "- **circles**: relu" in head


def test_headline_follows_the_results_when_they_change(tmp_path):
    runs = synthetic.make_runs(activations=("none", "relu", "tanh"), datasets=("circles", "blobs"))
    on_circles = (runs["dataset"] == "circles") & (runs["depth"] > 0)
    none, relu = (
        on_circles & (runs["activation"] == "none"),
        on_circles & (runs["activation"] == "relu"),
    )
    # swap the story: on circles, no activation now beats relu by far
    runs.loc[none, "test_acc"] = 0.99 - 0.01 * runs.loc[none, "seed"]
    runs.loc[relu, "test_acc"] = 0.60 + 0.01 * runs.loc[relu, "seed"]
    results = synthetic.write_results(tmp_path / "results", runs)
    head = headline_of(build_report(results, tmp_path / "report", **FAST).read_text())
    assert "lower than without" in head
    assert "higher than without" not in head
    relu_best = seed_means(runs[relu], ["depth"]).max()
    assert f"With relu, {100 * relu_best:.1f}%" in head
    assert "- **circles**: none" in head


def test_headline_without_circles_or_relu_names_the_best():
    runs = prepare_runs(
        synthetic.make_runs(activations=("none", "tanh", "my_swish"), datasets=("spirals4",))
    )
    head = headline(runs, **FAST)
    assert "on spirals4" in head and "With my_swish" in head  # the best stands in for relu
    assert "circles" not in head and "relu" not in head
    assert ranking_table(runs, **FAST).attrs["reference"] == "my_swish"


def test_logistic_regression_clause_with_depth_zero():
    runs = synthetic.make_runs(
        activations=("none", "relu"), datasets=("circles", "blobs"), depths=(0, 2), widths=(10,)
    )
    head = headline(prepare_runs(runs), **FAST)
    assert "logistic regression (depth 0) gets" in head
    assert "a network with 2 hidden layers reaches" in head


def test_single_depth_skips_the_depth_figures_with_a_note(baseline, tmp_path):
    out = tmp_path / "report"
    results = synthetic.write_results(
        tmp_path / "results",
        activations=("none", "relu", "my_swish"),
        datasets=("circles", "spirals4"),
        depths=(2,),
        seeds=(0, 1),
    )
    # an old figure in the output folder must not survive a report that skips it
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "accuracy_vs_depth.png").write_bytes(PNG_SIGNATURE)
    text = build_report(results, out, **FAST).read_text()
    assert not (out / "figures" / "accuracy_vs_depth.png").exists()
    assert not (out / "figures" / "width_depth_heatmaps.png").exists()
    assert "> Skipped: the grid has a single depth (2)" in text
    assert "](figures/accuracy_vs_depth.png)" not in text
    for name in ("decision_boundaries.png", "noise_robustness.png", "ranking.png"):
        assert (out / "figures" / name).exists()


def test_missing_surfaces_skip_the_gallery(baseline, tmp_path):
    # widths 4 and 8: not the seed notebook's configuration either
    results = synthetic.write_results(
        tmp_path / "results", surfaces=False, datasets=("circles",), widths=(4, 8), seeds=(0, 1)
    )
    out = tmp_path / "report"
    text = build_report(results, out, **FAST).read_text()
    assert "> Skipped: no decision surfaces were stored" in text
    assert not (out / "figures" / "decision_boundaries.png").exists()
    assert "## Reproducing the seed notebook" not in text
    assert "## Reproducing the seed notebook" in baseline["summary"].read_text()


def test_seed_notebook_reproduction(tmp_path):
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"))
    results = synthetic.write_results(tmp_path / "results", runs)
    curves = pd.read_parquet(results / "curves.parquet")
    config = runs[(runs["depth"] == 2) & (runs["width"] == 10) & (runs["noise"] == 0.03)]
    relu_ids = config.loc[config["activation"] == "relu", "run_id"]
    at_900 = curves["run_id"].isin(relu_ids) & (curves["epoch"] == 900)
    curves.loc[at_900, "test_acc"] = 0.79 + 0.01 * np.array([-1, 0, 1], dtype=np.float32)
    curves.to_parquet(results / "curves.parquet", index=False)
    text = build_report(results, tmp_path / "report", **FAST).read_text()
    section = text[text.index("## Reproducing the seed notebook") : text.index("## Figures")]
    rows = table(section, "| activation")
    assert "epoch 900" in rows.loc["relu"].iloc[0]
    assert rows.loc["relu", "agreement"].startswith("agrees")
    none_acc = seed_means(config[config["activation"] == "none"], ["activation"]).iloc[0]
    assert f"{100 * none_acc:.1f}%" in rows.loc["none"].iloc[0]

    # the same runs evaluated far from the notebook's 79.0% disagree with it
    curves.loc[at_900, "test_acc"] = 0.95
    text = seed_reproduction(prepare_runs(runs), curves, **FAST)
    assert "differs: 79.0% is outside the interval" in text


def test_seed_notebook_uses_the_final_epoch_when_900_is_not_stored():
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"), eval_every=400)
    text = seed_reproduction(prepare_runs(runs), synthetic.make_curves(runs), **FAST)
    assert "does not store epoch 900" in text
    assert "final epoch (1000)" in text


def test_environment_and_reproduce_command(baseline):
    text = baseline["summary"].read_text()
    assert "nonlinbench run --grid toy && nonlinbench report --grid toy" in text
    assert "torch 2.13.0" in text and "`0123456789abcdef`" in text


def test_same_results_same_report(tmp_path):
    results = synthetic.write_results(
        tmp_path / "results", activations=("none", "relu"), datasets=("circles",), seeds=(0, 1)
    )
    first = build_report(results, tmp_path / "a").read_text()  # the default resampling
    second = build_report(results, tmp_path / "b").read_text()
    assert first == second


def test_gallery_with_the_real_data_generators(tmp_path, monkeypatch):
    monkeypatch.undo()  # the real bench.data, not the fake
    data = pytest.importorskip("bench.data", exc_type=ImportError)
    assert data.make_dataset is not synthetic.fake_make_dataset
    results = synthetic.write_results(
        tmp_path / "results", activations=("none", "relu"), depths=(2,), widths=(10,), seeds=(0,)
    )
    out = tmp_path / "report"
    text = build_report(results, out, **FAST).read_text()
    assert (out / "figures" / "decision_boundaries.png").exists()
    assert "Test points are missing" not in text
    caption = re.search(r"\*Figure 1\. (.*?)\*", text).group(1)
    assert "2 hidden layers of 10 units" in caption


def test_one_activation_and_all_failed_grids_still_report(tmp_path):
    runs = synthetic.make_runs(activations=("relu",), datasets=("circles",), seeds=(0, 1))
    results = synthetic.write_results(tmp_path / "one", runs)
    text = build_report(results, tmp_path / "one-report", **FAST).read_text()
    assert "> Skipped: fewer than two activations share a task" in text
    assert "- **circles**: relu" in text

    runs["error"] = "RuntimeError: out of memory"
    runs = runs.drop(columns=["train_acc", "test_acc", "train_loss", "test_loss", "n_classes"])
    runs.to_parquet(results / "runs.parquet", index=False)
    (results / "curves.parquet").unlink()
    (results / "surfaces.parquet").unlink()
    text = build_report(results, tmp_path / "failed-report", **FAST).read_text()
    assert "Every run failed" in text
    assert "> Skipped: every run failed." in text
    assert "| relu         |     16 |       16 |" in text


def test_test_points_that_cannot_be_made_are_noted(tmp_path, monkeypatch):
    def broken(name, *args, **kwargs):
        raise FileNotFoundError(f"{name} is gone")

    monkeypatch.setattr(sys.modules["bench.data"], "make_dataset", broken)
    results = synthetic.write_results(
        tmp_path / "results",
        activations=("none", "relu"),
        datasets=("circles",),
        depths=(2,),
        widths=(10,),
        noises=(0.03,),
        seeds=(0,),
    )
    out = tmp_path / "report"
    text = build_report(results, out, **FAST).read_text()
    assert "Test points are missing for circles: circles is gone." in text
    assert (out / "figures" / "decision_boundaries.png").exists()
    # of the two runs, one failed and one diverged: no learning curve is left to draw
    assert "> Skipped: no run with hidden layers that neither failed nor diverged" in text


def test_csv_datasets_are_shown_by_their_stem():
    runs = synthetic.make_runs(activations=("none",), datasets=("circles",), seeds=(0,))
    runs["dataset"] = "data/my points.csv"
    prepared = prepare_runs(runs)
    assert set(prepared["dataset"]) == {"my points"}
    assert set(prepared["dataset_source"]) == {"data/my points.csv"}
