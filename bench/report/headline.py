"""The headline of summary.md: the linear control against a nonlinear network, the negative
control, the top of every dataset beside its yardsticks, and where training had not converged.

Every number comes from :class:`bench.report.summaries.Summaries`; every comparative word follows
:mod:`bench.report.wording`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.convergence import unconverged
from bench.report.markdown import BETTER, compare, fmt, pct, pct_ci
from bench.report.results import levels, usable
from bench.report.summaries import Summaries, headline_inputs
from bench.report.tables import cell
from bench.report.wording import chance_status, top_group, top_phrase


def headline(runs: pd.DataFrame, s: Summaries) -> str:
    """The main findings, each a paragraph; an empty grid says so."""
    if usable(runs).empty:
        return "Every run failed or diverged; there is nothing to summarise."
    paragraphs = [
        _inputs_note(runs),
        _linear_paragraph(runs, s),
        _control_paragraph(s),
        _top_per_dataset(s),
        convergence_paragraph(s.convergence),
    ]
    return "\n\n".join(p for p in paragraphs if p)


def _inputs_note(runs: pd.DataFrame) -> str:
    """When the runs vary the feature map: which inputs the headline's accuracies are on (its
    summaries are those of headline_summaries)."""
    reference = headline_inputs(runs)
    if reference is None:
        return ""
    others = [m for m in levels(usable(runs), "features") if m != reference]
    inputs = "raw inputs" if reference == "raw" else f"{reference} features"
    if len(others) == 1:
        maps = f"the {others[0]} feature map, which puts a nonlinearity in the inputs, so a "
        maps += "linear model on it"
    else:
        maps = f"the feature maps {', '.join(others[:-1])} and {others[-1]}, which put a "
        maps += "nonlinearity in the inputs, so a linear model on them"
    return (
        f"*Every accuracy in this report is on {inputs} (`features` = {reference}) unless it "
        f"compares feature maps: the grid also runs {maps} is not a linear model of the data; "
        'section "Features vs hidden layers" compares the two.*'
    )


def yardsticks(s: Summaries, dataset: str) -> str:
    """'chance 50%; best possible 100.0%, 86.7%, 70.0% at noise 0.03, 0.1, 0.2': the best possible
    on the same test points, per noise level (never averaged over them); unknown for a CSV
    dataset."""
    chance = s.chance.get(dataset, np.nan)
    rows = s.yardsticks[s.yardsticks["dataset"] == dataset] if len(s.yardsticks) else None
    if rows is None or rows.empty or not np.isfinite(rows["bayes"].to_numpy(float)).any():
        return f"chance {pct(chance, 0)}, best possible unknown"
    best = ", ".join(pct(v) for v in rows["bayes"])
    if len(rows) == 1:
        return f"chance {pct(chance, 0)}, best possible {best} on these test points"
    noises = ", ".join(fmt(v) for v in rows["noise"])
    return f"chance {pct(chance, 0)}; best possible {best} at noise {noises}"


def of_best(s: Summaries, dataset: str, activation: str) -> str:
    """', 96% [94, 98] of the best possible' (per test set, then averaged; '' without one)."""
    row = cell(s.of_best, dataset=dataset, activation=activation)
    if row is None or not np.isfinite(row["mean"]):
        return ""
    values = [f"{100 * row[k]:.0f}" for k in ("mean", "low", "high")]
    interval = f" [{values[1]}, {values[2]}]" if np.isfinite(row["low"]) else ""
    return f", {values[0]}%{interval} of the best possible"


def _linear_paragraph(runs: pd.DataFrame, s: Summaries) -> str:
    """Networks without a nonlinearity against logistic regression and a nonlinear one, on
    circles (else the dataset where the nonlinearity helps most)."""
    if s.control is None:
        return ""
    dataset = _largest_gap(s)
    linear = cell(s.by_dataset, dataset=dataset, activation=s.control) if dataset else None
    if linear is None:
        return ""
    depths = s.by_dataset_depth
    depths = depths[(depths["dataset"] == dataset) & (depths["activation"] == s.control)]
    depths = sorted(d for d in depths["depth"] if d > 0)
    layers = (
        f"{fmt(depths[0])}–{fmt(depths[-1])} hidden layers"
        if len(depths) > 1
        else f"{fmt(depths[0])} hidden layer{'' if depths[0] == 1 else 's'}"
    )
    status = chance_status(linear["mean"], linear["low"], s.chance.get(dataset, np.nan))
    text = (
        f"**Without a nonlinearity, networks with {layers} reach {pct_ci(linear)} test accuracy "
        f"on {dataset}** ({status}; {yardsticks(s, dataset)})"
    )
    logistic = cell(s.logistic, dataset=dataset)
    if logistic is not None:
        text += (
            f", and logistic regression (depth 0) gets {pct_ci(logistic)}: the networks without "
            f"an activation do {compare(linear, logistic, BETTER)} logistic regression"
        )
    text += "."
    text += _control_explained(s, dataset, linear)
    nonlinear = s.by_dataset[
        (s.by_dataset["dataset"] == dataset) & ~s.by_dataset["activation"].isin(s.affine)
    ]
    other = "relu" if "relu" in set(nonlinear["activation"]) else None
    if other is None and len(nonlinear):
        other = nonlinear.sort_values("mean", ascending=False).iloc[0]["activation"]
    row = cell(nonlinear, activation=other) if other else None
    if row is not None:
        text += (
            f" **With {other}{_layers_if_other(s, dataset, other, depths)}, {pct_ci(row)}**"
            f"{of_best(s, dataset, other)}, {compare(row, linear)} without."
        )
    return text


def _layers_if_other(s: Summaries, dataset: str, activation: str, control_depths: list) -> str:
    """' (2 hidden layers)' when the activation's networks have other depths than the
    control's (a stack's depth is its own), else ''."""
    runs = s.by_dataset.attrs["selection"].runs
    mine = levels(runs[(runs["dataset"] == dataset) & (runs["activation"] == activation)], "depth")
    if not mine or sorted(mine) == sorted(control_depths):
        return ""
    if len(mine) == 1:
        return f" ({fmt(mine[0])} hidden layer{'' if mine[0] == 1 else 's'})"
    return f" ({fmt(mine[0])}–{fmt(mine[-1])} hidden layers)"


def _control_explained(s: Summaries, dataset: str, linear: pd.Series) -> str:
    """Why the control scores below chance, and why its interval is one point, when it does."""
    facts = s.control_facts.get(dataset)
    if facts is None:
        return ""
    text = ""
    if facts.below_chance:
        line = linear.get("line", np.nan)
        text += (
            " Its mean sits under chance although a straight line could do better: its layers "
            f"collapse to one affine map, and on {dataset} the affine map of least "
            "cross-entropy is nearly flat, so its small tilt follows how the training points "
            'fell rather than the shape, and misses on the test points (section "Why the '
            'network without an activation fails")'
            + (
                f"; the best straight line, which training does not find, scores {pct(line)} on "
                "the same test points."
                if np.isfinite(line)
                else "."
            )
        )
    if facts.same_every_seed and facts.converged:
        point = linear["low"] == linear["high"]
        text += (
            (" Its interval is a single point because every" if point else " Every")
            + " initialisation seed reached the same test accuracy on the same data: the "
            "cross-entropy of an affine map is convex, so training from any seed ends at the "
            "same affine map."
        )
    return text


def _largest_gap(s: Summaries) -> str | None:
    """The dataset where the highest nonlinear mean is furthest above the linear control."""
    gaps = {}
    for dataset, part in s.by_dataset.groupby("dataset"):
        linear = part[part["activation"] == s.control]["mean"]
        others = part[~part["activation"].isin(s.affine)]["mean"]
        if len(linear) and len(others):
            gaps[dataset] = others.max() - linear.iloc[0]
    return max(gaps, key=gaps.get) if gaps else None


def _control_paragraph(s: Summaries) -> str:
    """The negative control, found from the numbers: a dataset where the network without a
    nonlinearity is well above chance and tied with the top, so a straight boundary suffices
    (the closest such); how far apart the activations are there. None: no paragraph."""
    best = None
    for dataset in levels(s.by_dataset, "dataset"):
        part = s.by_dataset[s.by_dataset["dataset"] == dataset]
        linear = cell(part, activation=s.control)
        top = top_group(part)
        if linear is None or top is None or part["activation"].nunique() < 2:
            continue
        status = chance_status(linear["mean"], linear["low"], s.chance.get(dataset, np.nan))
        gap = part["mean"].max() - linear["mean"]
        tied = s.control in top.names
        if tied and status == "well above chance" and (best is None or gap < best[0]):
            best = (gap, dataset, part, linear)
    if best is None:
        return ""
    _, dataset, part, linear = best
    top = top_group(part)
    leader = top.rows.iloc[0]
    spread = 100 * (leader["mean"] - part["mean"].min())
    text = (
        f"On {dataset} ({yardsticks(s, dataset)}), the negative control (a straight boundary "
        "suffices: the network without a nonlinearity is tied with the top), every activation's "
        "mean is within "
        f"{spread:.1f} points of the highest, and {top_phrase(top, pct_ci)}"
    )
    if s.control in top.names:
        text += "; the network without a nonlinearity is among them"
    else:
        text += (
            f"; without a nonlinearity the network gets {pct_ci(linear)}, "
            f"{compare(linear, leader)} {leader['activation']}"
        )
    return text + "."


def _top_per_dataset(s: Summaries) -> str:
    """A bullet per dataset: its yardsticks, the best activation or the tied group, and where
    the linear control stands."""
    lines = [
        "Per dataset (networks with hidden layers, mean over replicates; the share of the best "
        "possible is computed per test set): the best activation, or the activations tied at "
        "the top, beside chance and the best possible accuracy on the same test points:",
        "",
    ]
    for dataset in levels(s.by_dataset, "dataset"):
        part = s.by_dataset[s.by_dataset["dataset"] == dataset]
        top = top_group(part)
        if top is None:
            continue
        line = (
            f"- **{dataset}** ({yardsticks(s, dataset)}): {top_phrase(top, pct_ci)}"
            f"{of_best(s, dataset, top.names[0])}"
        )
        linear = cell(part, activation=s.control)
        if linear is not None and s.control not in top.names:
            status = chance_status(linear["mean"], linear["low"], s.chance.get(dataset, np.nan))
            line += f"; {s.control} {pct_ci(linear)}, {status}"
        lines.append(line + ".")
    if len(lines) <= 2:
        return ""
    return "\n".join(lines)


def convergence_paragraph(table: pd.DataFrame, where: str = "") -> str:
    """Where most runs had not converged (see bench.report.convergence), by dataset."""
    rows = unconverged(table)
    if rows.empty:
        return ""
    if "dataset" not in rows:
        rows = rows.assign(dataset="")
    parts = []
    for dataset, part in rows.groupby("dataset", sort=False):
        names = ", ".join(
            f"{r.activation} ({r.not_converged} of {r.runs} runs)" for r in part.itertuples()
        )
        rate = part["median_rate"]
        rates = (
            f"{rate.min():.3f}"
            if rate.min() == rate.max()
            else f"{rate.min():.3f}–{rate.max():.3f}"
        )
        on = f"on {dataset}, " if dataset else ""
        parts.append(
            f"{on}{names} had not converged at epoch {int(part['epochs'].max())}: the training "
            f"loss was still falling by a median {rates} nats per 100 epochs"
        )
    return f"**Training had not converged everywhere{where}:** " + "; ".join(parts) + "."
