"""The report on a small synthetic results directory (see report_synthetic.py): what summary.md
says, and that every number in it is the results' own. The figures' contents are specified in
test_report_figures.py."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import report_synthetic as synthetic  # noqa: E402

from bench.report import build_report, summaries  # noqa: E402
from bench.report.headline import headline  # noqa: E402
from bench.report.results import Results, linear_control, prepare_runs  # noqa: E402
from bench.report.sections import FIGURE_FILES  # noqa: E402
from bench.report.text import resolve_grid_name, seed_reproduction  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = {"n_resamples": 150}  # fewer bootstrap resamples where intervals are not under test


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The default synthetic grid and its report, built once."""
    root = tmp_path_factory.mktemp("baseline")
    results = synthetic.write_results(root / "results")
    summary = build_report(results, root / "report", **FAST)
    runs = pd.read_parquet(results / "runs.parquet")
    return {"root": root, "results": results, "summary": summary, "runs": runs}


def summarized(runs: pd.DataFrame, curves: pd.DataFrame | None = None):
    """The runs (and their synthetic curves) as loaded results, and their summaries."""
    curves = synthetic.make_curves(runs) if curves is None else curves
    results = Results(Path("unused"), prepare_runs(runs), curves)
    return results, summaries(results, **FAST)


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
    return markdown[: markdown.index("## Figures")]


def seed_means(runs: pd.DataFrame, by: list[str]) -> pd.Series:
    """The report's convention: per seed, the mean over other axes; then the mean over seeds."""
    ok = runs[(runs["error"] == "") & ~runs["diverged"]]  # failed and diverged runs left out
    return ok.groupby([*by, "seed"])["test_acc"].mean().groupby(by).mean()


# -----------------------------------------------------------------------------
# the whole report


def test_every_figure_is_written_and_linked(baseline):
    summary = baseline["summary"]
    assert summary == baseline["root"] / "report" / "summary.md"
    text = summary.read_text()
    for name in FIGURE_FILES:
        data = (summary.parent / "figures" / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE, name
        assert f"](figures/{name})" in text
    assert "Skipped" not in text
    tables = sorted(p.name for p in (summary.parent / "tables").iterdir())
    figure_tables = [name.replace(".png", ".csv") for name in FIGURE_FILES]  # each its numbers
    assert tables == sorted(
        [
            "accuracy_by_activation_dataset.csv",
            "accuracy_by_activation_depth.csv",
            "best_possible.csv",
            "convergence.csv",
            "failures.csv",
            "lesson.csv",
            "share_of_best_possible.csv",
            "yardstick_ladder.csv",
            *figure_tables,
        ]
    )


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
    assert list(by_depth.index) == list(synthetic.ACTIVATIONS)  # builtins first, then plugins

    csv = pd.read_csv(baseline["summary"].parent / "tables" / "accuracy_by_activation_depth.csv")
    merged = csv.set_index(["activation", "depth"])["mean"]
    pd.testing.assert_series_equal(
        merged.sort_index(), expected.sort_index(), check_names=False, rtol=1e-12
    )


def test_a_number_quoted_twice_is_the_same_number(baseline):
    """The headline's best activation per dataset and the table quote one interval."""
    text = baseline["summary"].read_text()
    by_dataset = table(text, "### Test accuracy by activation and dataset")
    bullets = re.findall(
        r"- \*\*(\w+)\*\* \([^)]*\): (\w+) is best \(([\d.]+)% \[([\d.]+), ([\d.]+)\]\)", text
    )
    assert len(bullets) == 2  # circles and spirals4; on blobs the activations tie
    for dataset, activation, mean, low, high in bullets:
        assert by_dataset.loc[activation, dataset] == f"{mean} [{low}, {high}]"


def test_failure_counts_equal_pandas(baseline):
    text, runs = baseline["summary"].read_text(), baseline["runs"]
    counts = table(text, "### Failed and diverged runs").astype(int)
    for activation, part in runs.groupby("activation"):
        assert counts.loc[activation, "runs"] == len(part)
        assert counts.loc[activation, "failed"] == (part["error"] != "").sum()
        assert counts.loc[activation, "diverged"] == part["diverged"].sum()
    assert counts["failed"].sum() == 1 and counts["diverged"].sum() == 1


def test_ranking_is_best_first_with_relu_as_reference(baseline):
    ranking = table(baseline["summary"].read_text(), "### Ranking")
    assert set(ranking.index) == set(synthetic.ACTIVATIONS)
    iqms = [mean_of(v) for v in ranking["IQM test accuracy (%) [95% CI]"]]
    assert iqms == sorted(iqms, reverse=True)
    assert ranking.loc["relu", "P(> relu) [95% CI]"] == "reference"
    p_none = float(ranking.loc["none", "P(> relu) [95% CI]"].split()[0])
    assert 0.0 <= p_none < 0.5


def test_headline_numbers_come_from_the_results(baseline):
    text, runs = baseline["summary"].read_text(), baseline["runs"]
    head = headline_of(text)
    hidden = runs[runs["depth"] > 0]
    means = seed_means(hidden, ["dataset", "activation"])
    # the lesson is told on the dataset where the best nonlinear mean is furthest above none's
    gaps = {d: means[d].drop("none").max() - means[d]["none"] for d in means.index.levels[0]}
    dataset = max(gaps, key=gaps.get)
    none, relu = means[dataset]["none"], means[dataset]["relu"]
    assert f"networks with 1–2 hidden layers reach {100 * none:.1f}%" in head
    assert f"test accuracy on {dataset}**" in head
    assert f"With relu, {100 * relu:.1f}%" in head
    assert "higher than without" in head
    assert "(at chance; chance " in head and "; best possible" in head and "at noise" in head
    # on blobs none is below relu's interval, so no dataset is a negative control here
    assert "negative control" not in head
    assert "- **circles** (chance 50%; best possible" in head and "): relu is best (" in head


def test_captions_quote_the_summaries(baseline):
    text = baseline["summary"].read_text()
    assert "*Figure 1. Decision surfaces of networks with 2 hidden layers of 10 units" in text
    assert "At the greatest depth (2), across datasets: relu and my_swish are tied" in text
    assert "falls behind the best possible on the same test points from noise 0.03 to 0.2" in text
    assert "Not compared for robustness: " in text and "at chance on circles" in text
    assert "Without an activation the affine fit explains 1.000 of the logits' variance" in text
    assert "hidden layers; 1 failed and 1 diverged runs left out)" in text
    assert "no count for tanh, my_swish: only piecewise-linear activations" in text


def test_environment_and_reproduce_command(baseline):
    text = baseline["summary"].read_text()
    assert "# nonlinbench report: toy" in text
    assert "nonlinbench run grids/toy.toml && nonlinbench report grids/toy.toml" in text
    assert "torch 2.13.0" in text and "`0123456789abcdef`" in text and "`abc123`" in text


def test_grid_name_comes_from_the_manifest_then_the_caller_then_the_folder():
    folder = Path("results/my-folder")
    assert resolve_grid_name({"grid": {"name": "quick"}}, "other", folder) == "quick"
    assert resolve_grid_name({}, "other", folder) == "other"
    assert resolve_grid_name({}, None, folder) == "my-folder"


def test_same_results_same_report(tmp_path):
    results = synthetic.write_results(
        tmp_path / "results",
        surfaces=False,
        activations=("none", "relu"),
        datasets=("circles",),
        depths=(2,),
        widths=(10,),
        seeds=(0, 1, 2),
    )
    first = build_report(results, tmp_path / "a", **FAST).read_text()
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "a").rglob("*.*")}
    second = build_report(results, tmp_path / "a", **FAST).read_text()
    assert first == second
    assert "[" in headline_of(first)  # with intervals, drawn by seeded bootstraps
    # byte for byte, and an unchanged file is not even rewritten
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == files
    assert any(p.suffix == ".png" for p in files)


# -----------------------------------------------------------------------------
# the headline follows the results


def test_headline_follows_the_results_when_they_change():
    runs = synthetic.make_runs(activations=("none", "relu", "tanh"), datasets=("circles", "blobs"))
    on_circles = (runs["dataset"] == "circles") & (runs["depth"] > 0)
    none = on_circles & (runs["activation"] == "none")
    relu = on_circles & (runs["activation"] == "relu")
    # swap the story: on circles, no activation now beats relu by far
    runs.loc[none, "test_acc"] = 0.99 - 0.01 * runs.loc[none, "seed"]
    runs.loc[relu, "test_acc"] = 0.60 + 0.01 * runs.loc[relu, "seed"]
    results, s = summarized(runs)
    head = headline(results.runs, s)
    # the lesson moves to where a nonlinearity helps (blobs here), never claims it on circles
    assert "on circles**" not in head
    assert re.search(r"- \*\*circles\*\* \([^)]*\): none is best", head)


def test_headline_quotes_raw_inputs_only_when_the_feature_map_varies():
    raw = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",), widths=(4,))
    quadratic = raw.assign(features="quadratic", run_id=raw["run_id"] + "q")
    # a linear model on quadratic features separates the circles: pooled with raw, it would
    # lift "without a nonlinearity" far above what a linear model of the data does
    quadratic.loc[quadratic["activation"] == "none", "test_acc"] = 0.99
    results, s = summarized(pd.concat([raw, quadratic], ignore_index=True))
    head = headline(results.runs, s)
    assert "on raw inputs (`features` = raw) unless" in head and "quadratic feature map" in head
    none = raw[(raw["activation"] == "none") & (raw["depth"] > 0)]
    linear = seed_means(none, ["activation"]).iloc[0]
    assert f"reach {100 * linear:.1f}% [" in head
    # the tables quote the same raw-input number (one selection rule), and say what was held
    row = s.by_dataset[s.by_dataset["activation"] == "none"].iloc[0]
    assert row["mean"] == pytest.approx(linear)
    assert "features = raw only" in s.by_dataset.attrs["selection"].note()
    assert "unless" not in headline(prepare_runs(raw), summarized(raw)[1])  # one map: no note


def test_headline_without_circles_or_relu_names_the_best():
    runs = synthetic.make_runs(activations=("none", "tanh", "my_swish"), datasets=("spirals4",))
    results, s = summarized(runs)
    head = headline(results.runs, s)
    assert "on spirals4" in head and "With my_swish" in head  # the best stands in for relu
    assert "circles" not in head and "relu" not in head
    assert s.ranking.attrs["reference"] == "my_swish"


def test_logistic_regression_clause_with_depth_zero():
    runs = synthetic.make_runs(
        activations=("none", "relu"), datasets=("circles", "blobs"), depths=(0, 2), widths=(10,)
    )
    results, s = summarized(runs)
    head = headline(results.runs, s)
    assert "logistic regression (depth 0) gets" in head
    assert "networks with 2 hidden layers reach" in head


def test_the_linear_control_is_any_affine_activation():
    """'No activation' is the runs' `affine` flag, not the name "none"."""
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles", "blobs"))
    runs["activation"] = runs["activation"].replace({"none": "my_linear"})
    results, s = summarized(runs)
    assert s.affine == {"my_linear"} and s.control == "my_linear"
    head = headline(results.runs, s)
    assert "**Without a nonlinearity, networks with 1–2 hidden layers" in head
    assert re.search(r"- \*\*circles\*\* \([^)]*\): relu is best", head)
    assert "; my_linear " in head

    # a nonlinear activation that happens to be called "none" is not the control
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",))
    runs["affine"] = False
    results, s = summarized(runs)
    assert s.affine == frozenset() and s.control is None
    assert "Without a nonlinearity" not in headline(results.runs, s)


def test_results_without_the_affine_column_have_no_linear_control():
    runs = synthetic.make_runs(activations=("none", "relu"), datasets=("circles",), seeds=(0, 1))
    prepared = prepare_runs(runs.drop(columns=["affine"]))
    assert not prepared["affine"].any()
    assert linear_control(prepared) is None


# -----------------------------------------------------------------------------
# the seed notebook


def test_seed_notebook_reproduction():
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"))
    curves = synthetic.make_curves(runs)
    config = runs[(runs["depth"] == 2) & (runs["width"] == 10) & (runs["noise"] == 0.03)]
    relu_ids = config.loc[config["activation"] == "relu", "run_id"]
    at_900 = curves["run_id"].isin(relu_ids) & (curves["epoch"] == 900)
    curves.loc[at_900, "test_acc"] = 0.79 + 0.01 * np.array([-1, 0, 1], dtype=np.float32)
    _, s = summarized(runs, curves)
    rows = table(seed_reproduction(s.notebook), "| activation")
    assert "epoch 900" in rows.loc["relu"].iloc[0]
    assert rows.loc["relu", "agreement"].startswith("agrees")
    none_acc = seed_means(config[config["activation"] == "none"], ["activation"]).iloc[0]
    assert f"{100 * none_acc:.1f}%" in rows.loc["none"].iloc[0]

    # the same runs evaluated far from the notebook's 79.0% disagree with it
    curves.loc[at_900, "test_acc"] = 0.95
    _, s = summarized(runs, curves)
    assert "differs: 79.0% is outside the interval" in seed_reproduction(s.notebook)


def test_seed_notebook_uses_the_final_epoch_when_900_is_not_stored():
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"), eval_every=400)
    _, s = summarized(runs)
    text = seed_reproduction(s.notebook)
    assert "does not store epoch 900" in text
    assert "final epoch (1000)" in text


def test_no_seed_notebook_section_without_its_configuration():
    runs = synthetic.make_runs(datasets=("circles",), activations=("none", "relu"), widths=(4, 8))
    _, s = summarized(runs)
    assert s.notebook is None and seed_reproduction(s.notebook) is None


# -----------------------------------------------------------------------------
# what the results lack is skipped with a note


def test_single_depth_skips_the_depth_figures_with_a_note(tmp_path):
    out = tmp_path / "report"
    results = synthetic.write_results(
        tmp_path / "results",
        surfaces=False,
        activations=("none", "relu"),
        datasets=("circles",),
        depths=(2,),
        widths=(10,),
        seeds=(0, 1),
    )
    # an old figure in the output folder must not survive a report that skips it
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "accuracy_vs_depth.png").write_bytes(PNG_SIGNATURE)
    text = build_report(results, out, **FAST).read_text()
    assert not (out / "figures" / "accuracy_vs_depth.png").exists()
    assert not (out / "figures" / "width_depth_heatmaps.png").exists()
    assert "> Skipped: the grid has a single depth (2), so there is no depth axis to plot." in text
    assert "> Skipped: the networks with hidden layers have a single depth (2)" in text
    assert "> Skipped: no decision surfaces were stored" in text
    assert "](figures/accuracy_vs_depth.png)" not in text
    assert "Not drawn, for lack of data or of a depth axis: linear regions against depth" in text
    for name in ("noise_robustness.png", "ranking.png", "mechanism.png"):
        assert (out / "figures" / name).exists()


def test_one_activation_and_all_failed_grids_still_report(tmp_path):
    runs = synthetic.make_runs(
        activations=("relu",), datasets=("circles",), seeds=(0, 1), widths=(10,), noises=(0.03,)
    )
    results = synthetic.write_results(tmp_path / "one", runs, surfaces=False)
    text = build_report(results, tmp_path / "one-report", **FAST).read_text()
    assert "> Skipped: fewer than two activations share a task" in text
    assert "): relu is best (" in text

    runs["error"] = "RuntimeError: out of memory"
    runs = runs.drop(columns=["train_acc", "test_acc", "train_loss", "test_loss", "n_classes"])
    runs.to_parquet(results / "runs.parquet", index=False)
    (results / "curves.parquet").unlink()
    text = build_report(results, tmp_path / "failed-report", **FAST).read_text()
    assert "Every run failed or diverged" in text
    assert text.count("> Skipped: every run failed or diverged.") == len(FIGURE_FILES)
    assert "| relu         |      4 |        4 |" in text


def test_learning_curves_are_skipped_when_no_run_is_left_to_draw():
    runs = synthetic.make_runs(
        activations=("none", "relu"), datasets=("circles",), depths=(2,), widths=(10,),
        noises=(0.03,), seeds=(0,),
    )  # fmt: skip
    # of the two runs, one failed and one diverged
    assert runs["error"].ne("").sum() == 1 and runs["diverged"].sum() == 1
    _, s = summarized(runs)
    assert s.curves.empty


def test_csv_datasets_are_shown_by_the_name_the_grid_gave_them():
    # one name everywhere: the report, export --where and the explore page
    runs = synthetic.make_runs(activations=("none",), datasets=("circles",), seeds=(0,))
    runs["dataset"] = "data/my points.csv"
    prepared = prepare_runs(runs)
    assert set(prepared["dataset"]) == set(prepared["dataset_source"]) == {"data/my points.csv"}


def test_a_dataset_where_the_linear_network_ties_the_top_is_the_negative_control():
    runs = synthetic.make_runs(activations=("none", "relu", "tanh"), datasets=("circles", "blobs"))
    blobs = (runs["dataset"] == "blobs") & (runs["depth"] > 0)
    # on blobs every network scores the same: a straight boundary suffices
    runs.loc[blobs, "test_acc"] = 0.98 + 0.002 * runs.loc[blobs, "seed"]
    results, s = summarized(runs)
    head = headline(results.runs, s)
    assert "On blobs (chance" in head and "the negative control (a straight boundary" in head
    assert "the network without a nonlinearity is among them" in head
