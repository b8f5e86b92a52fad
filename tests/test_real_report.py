"""The report on real data: per dataset and data sample, the linear and strong references on
the same test points as the runs; a dataset's own rows are never an axis."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

import bench  # noqa: E402
from bench.data import references  # noqa: E402
from bench.explore.cells import grid_layout  # noqa: E402
from bench.report import build_report  # noqa: E402
from bench.schema import dataset_properties  # noqa: E402

GRID = """
name = "tiny-real"
[grid]
dataset = ["iris", "diabetes"]
data_seed = [42, 43]
activation = ["none", "relu"]
depth = [0, 1]
width = 8
optimizer = "adam"
lr = 0.02
epochs = 30
eval_every = 10
seed = 0
[[exclude]]
depth = 0
activation = "relu"
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    (root / "tiny.toml").write_text(GRID)
    bench.run_grid(str(root / "tiny.toml"), out=str(root / "results"), quiet=True, jobs=1)
    summary = build_report(root / "results", root / "report", n_resamples=100)
    runs = pd.read_parquet(root / "results" / "runs.parquet")
    return summary, runs


def test_each_data_samples_references_are_reported_on_its_own_split(report):
    summary, runs = report
    text = summary.read_text()
    assert "## How much does nonlinearity matter on real data?" in text
    section = text[text.index("Each data sample's references") : text.index("## Findings")]
    for (dataset, data_seed), _ in runs.groupby(["dataset", "data_seed"]):
        found = references.references(dataset, n_samples=int(runs.loc[runs["dataset"] == dataset,
                                      "n_samples"].iloc[0]), noise=0.0, data_seed=int(data_seed))  # fmt: skip
        score = found.linear.score
        cell = f"{score:.3f}" if dataset == "diabetes" else f"{100 * score:.1f}%"
        assert any(line.startswith(f"| {dataset}") and f" {data_seed} " in line and cell in line
                   for line in section.splitlines()), (dataset, data_seed, cell)  # fmt: skip
    real = text[text.index("## How much") : text.index("## Findings")]
    assert "tuned standard model" in real and "best possible" not in real.replace(
        "Where no best possible is known", ""
    )  # named for what they are


def test_a_datasets_rows_are_a_property_not_an_axis(report):
    summary, runs = report
    assert runs.groupby("dataset")["n_samples"].nunique().max() == 1
    assert runs["n_samples"].nunique() == 2  # iris 150, diabetes 442
    assert dataset_properties(runs) == ["n_samples"]
    figures = {p.name for p in (summary.parent / "figures").iterdir()}
    assert not any("n_samples" in name for name in figures)
    for table in (summary.parent / "tables").iterdir():
        assert "n_samples" not in pd.read_csv(table).columns, table.name
    assert "`n_samples`: set by each dataset, not varied" in summary.read_text()
    assert "n_samples" not in grid_layout(runs).axes


def test_an_exported_network_takes_the_datas_own_units(report, tmp_path):
    import numpy as np
    import torch

    from bench.activations.registry import BUILTIN_REGISTRY
    from bench.results.export import export_run

    summary, runs = report
    results = summary.parent.parent / "results"
    for dataset in ("iris", "diabetes"):
        row = runs[(runs["dataset"] == dataset) & (runs["activation"] == "relu")].iloc[0]
        exported = export_run(results, tmp_path / f"{dataset}.pt", registry=BUILTIN_REGISTRY,
                              run=row["run_id"])  # fmt: skip
        assert exported.recomputed == pytest.approx(exported.stored, abs=1e-5)
        saved = np.load(tmp_path / f"{dataset}.test.npz")
        if dataset == "iris":  # centimetres, not standardised units
            assert 4.0 < saved["X_test"][:, 0].mean() < 7.0
        else:  # disease progression, in its own units
            assert saved["y_test"].mean() > 50
            predicted = torch.jit.load(str(tmp_path / f"{dataset}.pt"))(
                torch.from_numpy(saved["X_test"])
            )
            assert float(predicted.mean()) > 50
