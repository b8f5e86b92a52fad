"""The text sections of summary.md but the headline: how to read it, the grid, the seed
notebook's reproduction, the environment and the command that reproduces it. Each reads numbers
from :class:`bench.report.summaries.Summaries` and computes none; every comparative word follows
:mod:`bench.report.wording`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pandas as pd

from bench.grid import notebook
from bench.report import convergence, wording
from bench.report.headline import convergence_paragraph
from bench.report.markdown import INTERVALS, fmt, fmt_list, pct, pct_ci
from bench.report.results import levels
from bench.report.summaries import NotebookCells
from bench.schema import AXES, DERIVED_AXES, dataset_properties

CEILING_NOTE = (
    "The best possible accuracy is the Bayes-optimal test accuracy on the dataset's own "
    "distribution: each built-in generator adds Gaussian noise of std `noise` to noise-free "
    "shapes, so the class densities are known and no classifier can score more on average "
    "(estimated to within half a point by `bench/data/ceiling.py`; CSV datasets have none). Chance "
    "is the share of the test set's largest class. The best straight line is the accuracy-best "
    "affine classifier for the same distribution (`bench/data/straight_line.py`): the most a "
    "network without an activation could score. All three are scored on the very test points "
    "of each run, so a score and its yardsticks always share their test set. A band can reach "
    "past the best possible: that line is the Bayes rule's mean over the test sets, and on a "
    "particular small test set a network can match or beat the estimated rule. Every interval "
    "in this report: "
)


def reading_guide() -> str:
    """How the report words its findings: the rules every comparative word follows."""
    return CEILING_NOTE + INTERVALS + " " + wording.RULE + " " + convergence.RULE


def grid_description(runs: pd.DataFrame) -> str:
    """What was run: counts, the values of every axis that varies, and every fixed axis."""
    n_failed, n_diverged = int(runs["failed"].sum()), int(runs["diverged"].sum())
    lines = [
        f"{len(runs)} runs ({n_failed} failed, {n_diverged} diverged; both are left out of "
        "every summary). Axes that vary:",
        "",
    ]
    properties = dataset_properties(runs)
    shown = [a for a in AXES if a not in DERIVED_AXES]  # a stack's layers: its activation label
    for axis in shown:
        values = levels(runs, axis)
        if axis in properties:  # one value per dataset: a property of it, never an axis
            per = runs.groupby("dataset", sort=False)[axis].first()
            each = ", ".join(f"{d} {fmt(v)}" for d, v in per.items())
            lines.append(f"- `{axis}`: set by each dataset, not varied ({each})")
        elif len(values) > 1:
            lines.append(f"- `{axis}`: {fmt_list(values)}")
    fixed = []
    for axis in shown:
        values = levels(runs, axis)
        if len(values) <= 1:
            fixed.append(f"`{axis}` = {fmt(values[0]) if values else 'not recorded'}")
    if fixed:
        lines += ["", "Fixed: " + ", ".join(fixed) + "."]
    return "\n".join(lines)


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
            "agreement": [_linear_verdict(cells.linear), _relu_verdict(cells.relu)],
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
    slack = 100 * notebook.PRINTED_NONE_PRECISION / 2
    rules = (
        f"The rules: the linear network agrees when its interval overlaps the printed range "
        f"widened by {slack:g} point for the notebook's whole percentages "
        f"({100 * low - slack:g}–{100 * high + slack:g}%); ReLU agrees when the printed "
        f"{printed_relu} lies inside its interval. Chance on this test set (its largest class "
        f"share) is {pct(cells.chance)}."
    )
    parts = [
        f"The seed notebook's configuration ({config}) against the numbers the notebook "
        f"printed. {epoch_note} {rules}",
        table.to_markdown(index=False),
        convergence_paragraph(cells.convergence, " in this configuration"),
    ]
    return "\n\n".join(p for p in parts if p)


def _linear_verdict(linear: pd.Series) -> str:
    """Agrees when the interval overlaps the printed range, widened by half its precision."""
    low, high = notebook.PRINTED_NONE_RANGE
    slack = notebook.PRINTED_NONE_PRECISION / 2
    span = (linear["low"], linear["high"])
    if not np.all(np.isfinite(span)):
        span = (linear["mean"], linear["mean"])
    shown = f"{100 * (low - slack):g}–{100 * (high + slack):g}%"
    if span[1] >= low - slack and span[0] <= high + slack:
        return f"agrees: the interval overlaps {shown}"
    return f"differs: the interval lies outside {shown}"


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


def grid_argument(manifest: dict, name: str) -> str:
    """How `nonlinbench run` names this grid: the built-in's name, or the grid file's path
    (manifest["grid"]["source"] is "builtin:NAME" or the path), shell-quoted."""
    source = str((manifest.get("grid") or {}).get("source") or "")
    if source.startswith("builtin:"):
        return shlex.quote(source.removeprefix("builtin:"))
    if source.startswith("file:"):
        source = source.removeprefix("file:")
    return shlex.quote(source or name)


def reproduce(manifest: dict, name: str) -> str:
    """The commands that rerun the grid and rebuild this report."""
    grid = grid_argument(manifest, name)
    return (
        "Rerun the grid (into results/<grid name>) and rebuild this report with:\n\n"
        f"```\nnonlinbench run {grid} && nonlinbench report {grid}\n```"
    )


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
