"""The text sections of summary.md: the headline, the grid, the seed notebook's reproduction and
the environment. Each reads numbers from :class:`bench.report.summaries.Summaries` and computes
none; every comparative word follows the intervals (see :mod:`bench.report.markdown`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench import notebook
from bench.report.markdown import BETTER, compare, fmt, fmt_list, pct, pct_ci
from bench.report.results import levels, succeeded
from bench.report.summaries import NotebookCells, Summaries
from bench.report.tables import best, cell
from bench.schema import AXES


def grid_description(runs: pd.DataFrame) -> str:
    """What was run: counts, and the values of every axis that varies."""
    n_failed, n_diverged = int(runs["failed"].sum()), int(runs["diverged"].sum())
    lines = [
        f"{len(runs)} runs ({n_failed} failed, {n_diverged} diverged). Axes that vary:",
        "",
    ]
    for axis in AXES:
        values = levels(runs, axis)
        if len(values) > 1:
            lines.append(f"- `{axis}`: {fmt_list(values)}")
    fixed = [f"`{a}` = {fmt(levels(runs, a)[0])}" for a in AXES if len(levels(runs, a)) == 1]
    if fixed:
        lines += ["", "Fixed: " + ", ".join(fixed) + "."]
    return "\n".join(lines)


# -----------------------------------------------------------------------------
# the headline


def headline(runs: pd.DataFrame, s: Summaries) -> str:
    """The main findings: the linear control against logistic regression and a nonlinear
    network, the negative control (blobs), and the best activation per dataset."""
    if succeeded(runs).empty:
        return "Every run failed; there is nothing to summarise."
    paragraphs = [_linear_paragraph(runs, s), _control_paragraph(s), _best_per_dataset(s)]
    return "\n\n".join(p for p in paragraphs if p)


def _linear_paragraph(runs: pd.DataFrame, s: Summaries) -> str:
    """Networks without a nonlinearity against logistic regression and the best nonlinear one,
    on circles (else the dataset where the nonlinearity helps most)."""
    if s.control is None:
        return ""
    datasets = levels(succeeded(runs), "dataset")
    dataset = "circles" if "circles" in datasets else _largest_gap(s)
    if dataset is None:
        return ""
    here = s.by_dataset_depth[s.by_dataset_depth["dataset"] == dataset]
    linear = here[(here["activation"] == s.control) & (here["depth"] > 0)]
    if linear.empty:
        return ""
    best_linear = best(linear)
    chance = s.chance.get(dataset, np.nan)
    depths = sorted(linear["depth"])
    if len(depths) > 1:
        low, high = pct(linear["mean"].min()), pct(linear["mean"].max())
        reach = (
            f"{low} test accuracy at every depth" if low == high else f"{low}–{high} test accuracy"
        )
        text = (
            f"**Without a nonlinearity, networks of every depth ({fmt(depths[0])}–"
            f"{fmt(depths[-1])} hidden layers) reach {reach} on {dataset}** (best: depth "
            f"{fmt(best_linear['depth'])}, {pct_ci(best_linear)}), where chance is {pct(chance, 0)}"
        )
    else:
        text = (
            f"**Without a nonlinearity, a network with {fmt(depths[0])} hidden layers reaches "
            f"{pct_ci(best_linear)} test accuracy on {dataset}**, where chance is {pct(chance, 0)}"
        )
    logistic = cell(s.logistic, dataset=dataset)
    if logistic is not None:
        text += (
            f" and logistic regression (depth 0) gets {pct_ci(logistic)}: the best network "
            f"without an activation does {compare(best_linear, logistic, BETTER)} logistic "
            "regression"
        )
    text += "."
    nonlinear = s.by_dataset[
        (s.by_dataset["dataset"] == dataset) & ~s.by_dataset["activation"].isin(s.affine)
    ]
    other = "relu" if "relu" in set(nonlinear["activation"]) else None
    if other is None and len(nonlinear):
        other = best(nonlinear)["activation"]
    if other is not None:
        best_other = best(here[(here["activation"] == other) & (here["depth"] > 0)])
        if best_other is not None:
            text += (
                f" **With {other}, {pct_ci(best_other)}** (depth {fmt(best_other['depth'])}), "
                f"{compare(best_other, best_linear)} without."
            )
    return text


def _largest_gap(s: Summaries) -> str | None:
    """The dataset where the best nonlinear activation is furthest ahead of the linear control."""
    gaps = {}
    for dataset, part in s.by_dataset.groupby("dataset"):
        linear = part[part["activation"] == s.control]["mean"]
        others = part[~part["activation"].isin(s.affine)]["mean"]
        if len(linear) and len(others):
            gaps[dataset] = others.max() - linear.iloc[0]
    return max(gaps, key=gaps.get) if gaps else None


def _control_paragraph(s: Summaries) -> str:
    """blobs, the negative control: how far every activation is from the best."""
    blobs = s.by_dataset[s.by_dataset["dataset"] == "blobs"]
    if blobs["activation"].nunique() < 2:
        return ""
    top = best(blobs)
    spread = 100 * (top["mean"] - blobs["mean"].min())
    text = (
        f"On blobs, the negative control, every activation is within {spread:.1f} points of the "
        f"best ({top['activation']}, {pct_ci(top)})"
    )
    linear = cell(blobs, activation=s.control)
    if linear is not None and top["activation"] not in s.affine:
        text += (
            f"; without a nonlinearity the network gets {pct_ci(linear)}, "
            f"{compare(linear, top)} the best"
        )
    elif linear is not None:
        text += ", which is the network without a nonlinearity"
    return text + "."


def _best_per_dataset(s: Summaries) -> str:
    """A bullet per dataset: the best activation and where the linear control stands."""
    lines = ["Best activation per dataset (networks with hidden layers, mean over seeds):", ""]
    for dataset in levels(s.by_dataset, "dataset"):
        part = s.by_dataset[s.by_dataset["dataset"] == dataset]
        top = best(part)
        if top is None:
            continue
        line = f"- **{dataset}**: {top['activation']}, {pct_ci(top)}"
        linear = cell(part, activation=s.control)
        if linear is not None and top["activation"] not in s.affine:
            line += f"; {s.control} {pct_ci(linear)}, {compare(linear, top)} the best"
        lines.append(line + ".")
    return "\n".join(lines) if len(lines) > 2 else ""


# -----------------------------------------------------------------------------
# the seed notebook


def seed_reproduction(cells: NotebookCells | None) -> str | None:
    """The seed notebook's configuration against its printed numbers; None if not in the grid."""
    if cells is None:
        return None
    low, high = notebook.PRINTED_NONE_RANGE
    band = f"{100 * low:.0f}–{100 * high:.0f}%"
    printed_relu = pct(notebook.PRINTED_RELU_ACC)
    relu_when = (
        f"epoch {cells.relu_epoch}"
        if cells.relu_epoch is not None
        else f"final epoch ({cells.final_epoch})"
    )
    table = pd.DataFrame(
        {
            "activation": [cells.control, "relu"],
            "this benchmark: test accuracy, mean [95% CI]": [
                f"{pct_ci(cells.linear)}, final epoch ({cells.final_epoch}), "
                f"{int(cells.linear['n'])} seeds",
                f"{pct_ci(cells.relu)}, {relu_when}, {int(cells.relu['n'])} seeds",
            ],
            "seed notebook": [
                f"{band} (chance)",
                f"{printed_relu} at epoch {notebook.PRINTED_RELU_EPOCH} of {cells.final_epoch}",
            ],
            "agreement": [_linear_verdict(cells.linear, band), _relu_verdict(cells.relu)],
        }
    )
    config = ", ".join(f"{k} {fmt(v)}" for k, v in notebook.configuration().items())
    epoch_note = (
        f"ReLU is compared at epoch {cells.relu_epoch} from curves.parquet, as printed by the "
        "notebook."
        if cells.relu_epoch is not None
        else f"curves.parquet does not store epoch {notebook.PRINTED_RELU_EPOCH} for these runs, "
        f"so ReLU is compared at its final epoch ({cells.final_epoch})."
    )
    return (
        f"The seed notebook's configuration ({config}) against the numbers the notebook "
        f"printed. {epoch_note}\n\n" + table.to_markdown(index=False)
    )


def _linear_verdict(linear: pd.Series, band: str) -> str:
    low, high = notebook.PRINTED_NONE_RANGE
    span = (linear["low"], linear["high"])
    if not np.all(np.isfinite(span)):
        span = (linear["mean"], linear["mean"])
    # the notebook printed whole percentages: anything that prints as 46% lies in "46-54%"
    slack = notebook.PRINTED_NONE_PRECISION / 2
    if low - slack <= span[0] and span[1] <= high + slack:
        return f"agrees: the interval lies within {band}"
    return f"differs: the interval is not within {band}"


def _relu_verdict(relu: pd.Series) -> str:
    if not np.isfinite(relu["low"]):
        return "cannot tell: one seed gives no interval"
    printed = pct(notebook.PRINTED_RELU_ACC)
    if relu["low"] <= notebook.PRINTED_RELU_ACC <= relu["high"]:
        return f"agrees: {printed} is inside the interval"
    return f"differs: {printed} is outside the interval"


# -----------------------------------------------------------------------------
# provenance


def resolve_grid_name(manifest: dict, fallback: str | None, results_dir: Path) -> str:
    """The grid's name as the runner records it (manifest["grid"]["name"]), else ``fallback``,
    else the results folder's name."""
    return (manifest.get("grid") or {}).get("name") or fallback or results_dir.name


def environment(manifest: dict) -> str:
    if not manifest:
        return "No manifest.json was found next to the results."
    versions = manifest.get("versions") or {}
    packages = ", ".join(f"{k} {v}" for k, v in versions.items()) or "unknown"
    lines = [
        f"- versions: {packages}",
        f"- device: {manifest.get('device', 'unknown')}",
        f"- git commit: `{manifest.get('git_commit') or 'unknown'}`",
        f"- grid hash: `{manifest.get('grid_hash') or 'unknown'}`",
        f"- started {manifest.get('started', 'unknown')}, finished {manifest.get('finished', '?')}",
    ]
    if manifest.get("command"):
        command = manifest["command"]
        command = " ".join(command) if isinstance(command, list | tuple) else str(command)
        lines.append(f"- results produced by: `{command}`")
    return "\n".join(lines)
