"""A grid's studies in the report: the main block is the body, every further block a section
titled by its question, read on common support (bench.report.blocks)."""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import report_synthetic as synthetic  # noqa: E402

from bench.report import build_report  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")
FAST = {"n_resamples": 150}
QUESTION = "Can a linear model on quadratic features do what hidden layers do?"


@pytest.fixture(scope="module")
def two_blocks(tmp_path_factory):
    """A main block (none, relu, tanh on circles and blobs, raw inputs) and a features block
    (none and relu on circles, raw and quadratic; its raw runs are the main block's)."""
    root = tmp_path_factory.mktemp("blocks")
    main = synthetic.make_runs(
        activations=("none", "relu", "tanh"), datasets=("circles", "blobs"), widths=(10,)
    )
    raw = main[(main["dataset"] == "circles") & main["activation"].isin(["none", "relu"])]
    quadratic = raw.assign(features="quadratic", run_id=raw["run_id"] + "q")
    # a linear model on quadratic features separates circles
    quadratic.loc[quadratic["activation"] == "none", "test_acc"] = 0.97
    runs = pd.concat([main, quadratic], ignore_index=True)
    results = synthetic.write_results(root / "results", runs)
    manifest = json.loads((results / "manifest.json").read_text())
    manifest["blocks"] = [
        {"name": "main", "question": "Which activations?", "runs": len(main),
         "run_ids": list(main["run_id"])},
        {"name": "features", "question": QUESTION, "runs": 2 * len(raw),
         "run_ids": [*raw["run_id"], *quadratic["run_id"]]},
    ]  # fmt: skip
    (results / "manifest.json").write_text(json.dumps(manifest))
    summary = build_report(results, root / "report", **FAST)
    return {"text": summary.read_text(), "folder": summary.parent, "main": main, "q": quadratic}


def test_a_further_block_gets_a_section_titled_by_its_question(two_blocks):
    text = two_blocks["text"]
    assert f". {QUESTION}\n" in text
    assert (two_blocks["folder"] / "figures" / "block_features.png").exists()
    table = pd.read_csv(two_blocks["folder"] / "tables" / "block_features.csv")
    assert set(table["features"]) == {"raw", "quadratic"}
    # a model is its activation and depth: "none, depth 1"
    none = table[table["model"].str.startswith("none, depth") & (table["features"] == "quadratic")]
    assert len(none) == 2 and none["mean"].tolist() == pytest.approx([0.97, 0.97])
    section = text[text.index(f". {QUESTION}\n") :]
    assert "none, depth 1 with features quadratic 97.0%" in section
    assert "higher than with raw" in section


def test_the_main_block_is_the_body_and_never_sees_the_further_blocks_runs(two_blocks):
    text = two_blocks["text"]
    # the quadratic slice is not in the main analysis: no feature-map section, no note
    assert "Features vs hidden layers" not in text and "unless it compares feature maps" not in text
    by_depth = pd.read_csv(two_blocks["folder"] / "tables" / "accuracy_vs_depth.csv")
    main = two_blocks["main"]
    none = main[(main["dataset"] == "circles") & (main["activation"] == "none")]
    expected = none.groupby("depth")["test_acc"].mean()
    got = by_depth[(by_depth["dataset"] == "circles") & (by_depth["activation"] == "none")]
    for depth, value in expected.items():
        assert got.loc[got["depth"] == depth, "mean"].item() == pytest.approx(value)
