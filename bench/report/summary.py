"""Assemble a report from a results directory: figures, tables and summary.md.

Nothing here is a finding: every number and every comparative word in summary.md is computed from
the results. Comparisons say "higher than" or "lower than" only when the two 95% intervals do not
overlap, and "no different from" when they do. The only literal numbers are the seed notebook's
printed results, quoted for the reproduction check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bench.report import figures
from bench.report.tables import (
    AXES,
    N_RESAMPLES,
    SEED_AXES,
    SEED_CONFIG,
    Results,
    accuracy_at_epoch,
    activation_order,
    cell,
    chance_level,
    failure_counts,
    hidden,
    levels,
    load_results,
    load_test_points,
    ok,
    ranking_table,
    seed_config_runs,
    select_gallery,
    summarize,
    task_axes,
)

DPI = 120
RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}

# The seed notebook's printed results (circles, noise 0.03, 2 hidden layers of 10 units, SGD, lr
# 0.1, 1000 epochs): without an activation, 46-54% test accuracy, i.e. chance; with ReLU, 79.0%
# test accuracy at epoch 900 of 1000.
NOTEBOOK_NONE_RANGE = (0.46, 0.54)
NOTEBOOK_NONE_PRECISION = 0.01  # printed as whole percentages
NOTEBOOK_RELU_ACC = 0.790
NOTEBOOK_RELU_EPOCH = 900

FIGURE_FILES = (
    "decision_boundaries.png",
    "accuracy_vs_depth.png",
    "width_depth_heatmaps.png",
    "noise_robustness.png",
    "learning_curves.png",
    "mechanism.png",
    "ranking.png",
)


# -----------------------------------------------------------------------------
# formatting and comparisons


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.8123 -> '81.2%' ('n/a' for NaN)."""
    return "n/a" if not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def pct_ci(row) -> str:
    """'81.2% [79.0, 83.1]' from a row with mean, low, high (the interval omitted if unknown)."""
    if row is None or not np.isfinite(row["mean"]):
        return "n/a"
    if not (np.isfinite(row["low"]) and np.isfinite(row["high"])):
        return f"{pct(row['mean'])} (one seed, no interval)"
    return f"{pct(row['mean'])} [{100 * row['low']:.1f}, {100 * row['high']:.1f}]"


def table_cell(row) -> str:
    """'81.2 [79.0, 83.1]' (percent) for a markdown table; '–' when there is no value."""
    if row is None or not np.isfinite(row["mean"]):
        return "–"
    if not (np.isfinite(row["low"]) and np.isfinite(row["high"])):
        return f"{100 * row['mean']:.1f}"
    return f"{100 * row['mean']:.1f} [{100 * row['low']:.1f}, {100 * row['high']:.1f}]"


def compare(a, b, words=("higher than", "lower than", "no different from")) -> str:
    """'higher than', 'lower than' or 'no different from' (or the given ``words``): a against b,
    by whether their 95% intervals overlap.

    With an interval missing (one seed) the means decide, and the phrase says so.
    """
    higher, lower, same = words
    if all(np.isfinite([a["low"], a["high"], b["low"], b["high"]])):
        if a["low"] > b["high"]:
            return higher
        if a["high"] < b["low"]:
            return lower
        return same
    if a["mean"] == b["mean"]:
        return same
    word = higher if a["mean"] > b["mean"] else lower
    return f"{word} (one seed, no interval)"


def _values(values) -> str:
    values = list(values)
    return ", ".join(_fmt(v) for v in values)


def _fmt(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def _best(summary: pd.DataFrame) -> pd.Series | None:
    summary = summary[np.isfinite(summary["mean"].astype(float))]
    return summary.loc[summary["mean"].astype(float).idxmax()] if len(summary) else None


# -----------------------------------------------------------------------------
# text sections


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
            lines.append(f"- `{axis}`: {_values(values)}")
    fixed = [f"`{a}` = {_fmt(levels(runs, a)[0])}" for a in AXES if len(levels(runs, a)) == 1]
    if fixed:
        lines += ["", "Fixed: " + ", ".join(fixed) + "."]
    return "\n".join(lines)


def headline(runs: pd.DataFrame, *, n_resamples: int = N_RESAMPLES, seed: int = 0) -> str:
    """The main findings, each number and comparison computed from the runs."""
    runs = ok(runs)
    if runs.empty:
        return "Every run failed; there is nothing to summarise."
    by_dataset = summarize(
        hidden(runs), ["dataset", "activation"], n_resamples=n_resamples, seed=seed
    )
    by_depth = summarize(
        runs, ["dataset", "activation", "depth"], n_resamples=n_resamples, seed=seed
    )
    paragraphs = [
        _linear_paragraph(runs, by_dataset, by_depth, n_resamples, seed),
        _control_paragraph(by_dataset),
        _best_per_dataset(by_dataset),
    ]
    return "\n\n".join(p for p in paragraphs if p)


def _linear_paragraph(runs, by_dataset, by_depth, n_resamples, seed) -> str:
    """Networks without an activation against logistic regression and the best nonlinear one."""
    activations = set(runs["activation"])
    if "none" not in activations:
        return ""
    datasets = levels(runs, "dataset")
    dataset = "circles" if "circles" in datasets else _largest_gap(by_dataset)
    if dataset is None:
        return ""
    here = by_depth[by_depth["dataset"] == dataset]
    linear = here[(here["activation"] == "none") & (here["depth"] > 0)]
    if linear.empty:
        return ""
    best_linear = _best(linear)
    chance = chance_level(runs[runs["dataset"] == dataset])
    depths = sorted(linear["depth"])
    if len(depths) > 1:
        low, high = pct(linear["mean"].min()), pct(linear["mean"].max())
        reach = (
            f"{low} test accuracy at every depth" if low == high else f"{low}–{high} test accuracy"
        )
        text = (
            f"**Without a nonlinearity, networks of every depth ({_fmt(depths[0])}–"
            f"{_fmt(depths[-1])} hidden layers) reach {reach} on {dataset}** (best: depth "
            f"{_fmt(best_linear['depth'])}, {pct_ci(best_linear)}), where chance is {pct(chance, 0)}"
        )
    else:
        text = (
            f"**Without a nonlinearity, a network with {_fmt(depths[0])} hidden layers reaches "
            f"{pct_ci(best_linear)} test accuracy on {dataset}**, where chance is {pct(chance, 0)}"
        )
    logistic_runs = runs[(runs["dataset"] == dataset) & (runs["depth"] == 0)]
    if len(logistic_runs):
        logistic = summarize(logistic_runs, [], n_resamples=n_resamples, seed=seed).iloc[0]
        text += (
            f" and logistic regression (depth 0) gets {pct_ci(logistic)}: the best network "
            f"without an activation does {compare(best_linear, logistic, _DOES)} logistic "
            "regression"
        )
    text += "."
    nonlinear = by_dataset[
        (by_dataset["dataset"] == dataset) & (by_dataset["activation"] != "none")
    ]
    other = "relu" if "relu" in set(nonlinear["activation"]) else None
    if other is None and len(nonlinear):
        other = _best(nonlinear)["activation"]
    if other is not None:
        rows = here[(here["activation"] == other) & (here["depth"] > 0)]
        best_other = _best(rows)
        if best_other is not None:
            text += (
                f" **With {other}, {pct_ci(best_other)}** (depth {_fmt(best_other['depth'])}), "
                f"{compare(best_other, best_linear)} without."
            )
    return text


_DOES = ("better than", "worse than", "no better than")


def _largest_gap(by_dataset: pd.DataFrame) -> str | None:
    """The dataset where the best activation is furthest ahead of none."""
    gaps = {}
    for dataset, part in by_dataset.groupby("dataset"):
        linear = part[part["activation"] == "none"]["mean"]
        others = part[part["activation"] != "none"]["mean"]
        if len(linear) and len(others):
            gaps[dataset] = others.max() - linear.iloc[0]
    return max(gaps, key=gaps.get) if gaps else None


def _control_paragraph(by_dataset: pd.DataFrame) -> str:
    """blobs, the negative control: how far every activation is from the best."""
    blobs = by_dataset[by_dataset["dataset"] == "blobs"]
    if blobs["activation"].nunique() < 2:
        return ""
    best = _best(blobs)
    spread = 100 * (best["mean"] - blobs["mean"].min())
    text = (
        f"On blobs, the negative control, every activation is within {spread:.1f} points of the "
        f"best ({best['activation']}, {pct_ci(best)})"
    )
    linear = cell(blobs, activation="none")
    if linear is not None and best["activation"] != "none":
        text += (
            f"; without a nonlinearity the network gets {pct_ci(linear)}, "
            f"{compare(linear, best)} the best"
        )
    elif linear is not None:
        text += ", which is the network without a nonlinearity"
    return text + "."


def _best_per_dataset(by_dataset: pd.DataFrame) -> str:
    """A bullet per dataset: the best activation and where none stands against it."""
    lines = ["Best activation per dataset (networks with hidden layers, mean over seeds):", ""]
    for dataset in levels(by_dataset, "dataset"):
        part = by_dataset[by_dataset["dataset"] == dataset]
        best = _best(part)
        if best is None:
            continue
        line = f"- **{dataset}**: {best['activation']}, {pct_ci(best)}"
        linear = cell(part, activation="none")
        if linear is not None and best["activation"] != "none":
            line += f"; none {pct_ci(linear)}, {compare(linear, best)} the best"
        lines.append(line + ".")
    return "\n".join(lines) if len(lines) > 2 else ""


def seed_reproduction(
    runs: pd.DataFrame, curves: pd.DataFrame, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> str | None:
    """The seed notebook's configuration against its printed numbers; None if not in the grid."""
    config = seed_config_runs(ok(runs))
    linear = config[config["activation"] == "none"]
    relu = config[config["activation"] == "relu"]
    if linear.empty or relu.empty:
        return None
    none_ci = summarize(linear, [], n_resamples=n_resamples, seed=seed).iloc[0]
    relu_at, epoch = accuracy_at_epoch(relu, curves, NOTEBOOK_RELU_EPOCH)
    relu_ci = summarize(relu_at, [], n_resamples=n_resamples, seed=seed).iloc[0]
    final = int(relu["epochs"].max())
    relu_when = f"epoch {epoch}" if epoch is not None else f"final epoch ({final})"

    lo, hi = NOTEBOOK_NONE_RANGE
    none_span = (none_ci["low"], none_ci["high"])
    if not np.all(np.isfinite(none_span)):
        none_span = (none_ci["mean"], none_ci["mean"])
    # the notebook printed whole percentages: anything that prints as 46% lies in "46-54%"
    slack = NOTEBOOK_NONE_PRECISION / 2
    none_agrees = lo - slack <= none_span[0] and none_span[1] <= hi + slack
    band = f"{100 * lo:.0f}–{100 * hi:.0f}%"
    none_verdict = (
        f"agrees: the interval lies within {band}"
        if none_agrees
        else f"differs: the interval is not within {band}"
    )
    if np.isfinite(relu_ci["low"]):
        inside = relu_ci["low"] <= NOTEBOOK_RELU_ACC <= relu_ci["high"]
        relu_verdict = (
            f"agrees: {pct(NOTEBOOK_RELU_ACC)} is inside the interval"
            if inside
            else f"differs: {pct(NOTEBOOK_RELU_ACC)} is outside the interval"
        )
    else:
        relu_verdict = "cannot tell: one seed gives no interval"

    n_none, n_relu = int(none_ci["n"]), int(relu_ci["n"])
    table = pd.DataFrame(
        {
            "activation": ["none", "relu"],
            "this benchmark: test accuracy, mean [95% CI]": [
                f"{pct_ci(none_ci)}, final epoch ({final}), {n_none} seeds",
                f"{pct_ci(relu_ci)}, {relu_when}, {n_relu} seeds",
            ],
            "seed notebook": [
                f"{band} (chance)",
                f"{pct(NOTEBOOK_RELU_ACC)} at epoch {NOTEBOOK_RELU_EPOCH} of {final}",
            ],
            "agreement": [none_verdict, relu_verdict],
        }
    )
    config_text = ", ".join(f"{k} {_fmt(v)}" for k, v in SEED_CONFIG.items())
    epoch_note = (
        f"ReLU is compared at epoch {epoch} from curves.parquet, as printed by the notebook."
        if epoch is not None
        else f"curves.parquet does not store epoch {NOTEBOOK_RELU_EPOCH} for these runs, so ReLU "
        f"is compared at its final epoch ({final})."
    )
    return (
        f"The seed notebook's configuration ({config_text}) against the numbers the notebook "
        f"printed. {epoch_note}\n\n" + table.to_markdown(index=False)
    )


def _grid_name(manifest: dict, grid_name: str | None, results_dir: Path) -> str:
    grid = manifest.get("grid")
    for candidate in (
        manifest.get("grid_name"),
        grid.get("name") if isinstance(grid, dict) else None,
        grid if isinstance(grid, str) else None,
        grid_name,
    ):
        if candidate:
            return str(candidate)
    return results_dir.name


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


# -----------------------------------------------------------------------------
# tables


def accuracy_table(
    runs: pd.DataFrame, column: str, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test accuracy by activation x ``column``: the tidy summary and its markdown-ready pivot."""
    summary = summarize(ok(runs), ["activation", column], n_resamples=n_resamples, seed=seed)
    rows, columns = activation_order(summary["activation"]), levels(summary, column)
    pivot = pd.DataFrame(index=pd.Index(rows, name="activation"))
    for value in columns:
        label = f"depth {_fmt(value)}" if column == "depth" else _fmt(value)
        pivot[label] = [table_cell(cell(summary, activation=a, **{column: value})) for a in rows]
    return summary, pivot


def ranking_markdown(ranking: pd.DataFrame) -> str:
    reference = ranking.attrs.get("reference", "relu")
    table = pd.DataFrame(
        {
            "activation": ranking["activation"],
            "IQM test accuracy (%) [95% CI]": [
                table_cell({"mean": r.iqm, "low": r.iqm_low, "high": r.iqm_high})
                for r in ranking.itertuples()
            ],
            f"P(> {reference}) [95% CI]": [
                "reference"
                if r.activation == reference
                else _probability(r.p_improve, r.p_low, r.p_high)
                for r in ranking.itertuples()
            ],
            "tasks": ranking["n_tasks"],
            "seeds": ranking["n_replicates"],
        }
    )
    return table.to_markdown(index=False)


def _probability(p: float, low: float, high: float) -> str:
    if not np.isfinite(p):
        return "–"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{p:.2f}"
    return f"{p:.2f} [{low:.2f}, {high:.2f}]"


# -----------------------------------------------------------------------------
# figures


class Skip(Exception):
    """Raised by a figure builder when the results lack what the figure needs."""


@dataclass
class _Context:
    """Settings and shared results handed to every figure builder."""

    n_resamples: int
    seed: int
    ranking: pd.DataFrame | None = None


@dataclass
class Built:
    figure: Figure
    caption: str


def _single(runs: pd.DataFrame, axis: str, what: str, who: str = "the grid has") -> None:
    """Skip a figure whose axis has fewer than two values in ``runs``."""
    values = levels(runs, axis)
    if len(values) < 2:
        shown = _fmt(values[0]) if values else "none"
        raise Skip(f"{who} a single {axis} ({shown}), so there is no {what} to plot.")


def _seed_phrase(runs: pd.DataFrame) -> str:
    axes = [a for a in SEED_AXES if a in runs]
    n = ok(runs).groupby(axes).ngroups if axes else 1
    return f"{n} seed{'s' if n != 1 else ''}"


def _gallery(results: Results, ctx: _Context) -> Built:
    surfaces = results.surfaces
    if surfaces is None or surfaces.empty:
        raise Skip("no decision surfaces were stored (surfaces.parquet is absent or empty).")
    selected, choice = select_gallery(surfaces, results.runs)
    points, problems = load_test_points(selected)
    figure = figures.plot_decision_gallery(selected, points)
    noises = {d: choice["noise"][d] for d in levels(selected, "dataset")}
    if len(set(noises.values())) == 1:
        noise = f"noise {_fmt(next(iter(noises.values())))}"
    else:
        noise = "the lowest stored noise: " + ", ".join(f"{d} {_fmt(n)}" for d, n in noises.items())
    caption = (
        f"Decision surfaces of networks with {choice['depth']} hidden layers of "
        f"{choice['width']} units, one seed per panel, at {noise}, "
        "with the test points on top. Two-class panels shade the probability of class 1 from "
        "blue (class 0) to orange (class 1), with the 50% boundary in black; multi-class panels "
        "colour the predicted class, paler where the network is less sure. The corner shows "
        "the run's test accuracy."
    )
    if problems:
        caption += " Test points are missing for " + "; ".join(problems) + "."
    return Built(figure, caption)


def _accuracy_vs_depth(results: Results, ctx: _Context) -> Built:
    runs = ok(results.runs)
    _single(runs, "depth", "depth axis")
    fig = figures.plot_accuracy_vs_depth(runs, n_resamples=ctx.n_resamples, seed=ctx.seed)
    deepest = max(levels(runs, "depth"))
    at_deepest = summarize(
        runs[runs["depth"] == deepest], ["activation"], n_resamples=ctx.n_resamples, seed=ctx.seed
    )
    best = _best(at_deepest)
    if best is None:
        raise Skip(f"no run at the greatest depth ({_fmt(deepest)}) succeeded.")
    caption = (
        f"Test accuracy against depth, one panel per dataset: mean over {_seed_phrase(runs)} "
        "(each seed first averaged over the other axes) with 95% bootstrap intervals over seeds; "
        "the dotted line is chance. Depth 0 is logistic regression. At the greatest depth "
        f"({_fmt(deepest)}), {best['activation']} is best across datasets ({pct_ci(best)})"
    )
    linear = cell(at_deepest, activation="none")
    if linear is not None and best["activation"] != "none":
        caption += f" and none gets {pct_ci(linear)}"
    return Built(fig, caption + ".")


def _heatmaps(results: Results, ctx: _Context) -> Built:
    runs = hidden(ok(results.runs))
    who = "the networks with hidden layers have"
    _single(runs, "depth", "width x depth map", who)
    _single(runs, "width", "width x depth map", who)
    fig = figures.plot_width_depth_heatmaps(runs)
    caption = (
        "Mean test accuracy (%) for every width and depth, one map per activation, averaged over "
        "datasets, noise levels, seeds and the other axes, on one colour scale (networks with "
        "hidden layers)."
    )
    return Built(fig, caption)


def _noise(results: Results, ctx: _Context) -> Built:
    runs = ok(results.runs)
    _single(runs, "noise", "noise axis")
    fig = figures.plot_noise_robustness(runs, n_resamples=ctx.n_resamples, seed=ctx.seed)
    noises = levels(runs, "noise")
    drops = summarize(
        hidden(runs[runs["noise"].isin([noises[0], noises[-1]])]),
        ["activation", "noise"],
        n_resamples=ctx.n_resamples,
        seed=ctx.seed,
    )
    wide = drops.pivot_table(index="activation", columns="noise", values="mean")
    loss = (wide[noises[0]] - wide[noises[-1]]).dropna()
    caption = (
        f"Test accuracy against input noise, one panel per dataset, mean over "
        f"{_seed_phrase(runs)} with 95% bootstrap intervals (networks with hidden layers)."
    )
    if len(loss):
        caption += (
            f" From noise {_fmt(noises[0])} to {_fmt(noises[-1])}, averaged over datasets, "
            f"{loss.idxmin()} loses least ({100 * loss.min():.1f} points) and {loss.idxmax()} "
            f"most ({100 * loss.max():.1f} points)."
        )
    return Built(fig, caption)


def _learning_curves(results: Results, ctx: _Context) -> Built:
    curves, runs = results.curves, results.runs
    if curves.empty or "test_loss" not in curves:
        raise Skip("curves.parquet is absent or empty.")
    if figures.learning_curve_runs(curves, runs).empty:
        raise Skip("no run with hidden layers that neither failed nor diverged has a curve.")
    fig = figures.plot_learning_curves(curves, runs, n_resamples=ctx.n_resamples, seed=ctx.seed)
    left_out = hidden(runs)
    caption = (
        f"Test loss against epoch, one panel per dataset, mean over {_seed_phrase(runs)} with "
        "95% bootstrap bands (networks with hidden layers; "
        f"{int(left_out['diverged'].sum())} diverged and {int(left_out['failed'].sum())} failed "
        "runs left out)."
    )
    if len(levels(runs, "epochs")) > 1:
        caption += " Runs with different epoch budgets are pooled at each epoch they reach."
    return Built(fig, caption)


def _mechanism(results: Results, ctx: _Context) -> Built:
    runs = ok(results.runs)
    kwargs = {"n_resamples": ctx.n_resamples, "seed": ctx.seed}
    several_depths = len(levels(hidden(runs), "depth")) > 1
    panels: list[tuple[Callable, str]] = []
    skipped = []

    def has(metric: str, frame: pd.DataFrame) -> bool:
        return metric in frame and np.isfinite(frame[metric].astype(float)).any()

    if has("linear_regions", runs) and len(levels(runs, "depth")) > 1:
        panels.append((figures.plot_linear_regions, "linear regions against depth (log scale)"))
    else:
        skipped.append("linear regions against depth")
    if has("linear_fit_r2", hidden(runs)):
        panels.append((figures.plot_linear_fit_r2, "the $R^2$ of an affine fit to the logits"))
    else:
        skipped.append("linear-fit $R^2$")
    for function, metric, text in (
        (figures.plot_dead_units, "dead_unit_frac", "dead hidden units after training"),
        (figures.plot_grad_norm_init, "grad_norm_init_first", "first-layer gradient norm at "
         "initialisation (log scale)"),
    ):  # fmt: skip
        if has(metric, hidden(runs)) and several_depths:
            panels.append((function, f"{text} against depth"))
        else:
            skipped.append(f"{text} against depth")
    if not panels:
        raise Skip("the results have none of the mechanism measures across depths.")
    ncols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols + 1.4, 3.0 * nrows), squeeze=False)
    for ax, (function, _) in zip(axes.flat, panels, strict=False):
        function(runs, ax=ax, **kwargs)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    styles = figures.activation_styles(runs["activation"].unique())
    handles = figures.legend_handles(styles)
    fig.legend(handles.values(), handles.keys(), title="activation", loc="center right")
    fig.tight_layout(rect=(0, 0, 1 - 1.3 / (4.2 * ncols + 1.4), 1))
    caption = (
        "How the activations differ inside the network, mean over seeds with 95% bootstrap "
        "intervals: " + "; ".join(text for _, text in panels) + "."
    )
    r2 = summarize(hidden(runs), ["activation"], "linear_fit_r2", **kwargs)
    linear, most = cell(r2, activation="none"), None
    if len(r2.dropna(subset=["mean"])):
        most = r2.loc[r2["mean"].astype(float).idxmin()]
    if linear is not None and most is not None and most["activation"] != "none":
        caption += (
            f" Without an activation the affine fit explains {linear['mean']:.3f} of the logits' "
            f"variance; {most['activation']} is the least affine ({most['mean']:.3f})."
        )
    if skipped:
        caption += " Not drawn, for lack of data or of a depth axis: " + "; ".join(skipped) + "."
    return Built(fig, caption)


def _ranking(results: Results, ctx: _Context) -> Built:
    ranking = ctx.ranking
    if ranking is None or len(ranking) < 2:
        raise Skip("fewer than two activations share a task, so there is nothing to rank.")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 0.32 * len(ranking) + 1.3))
    figures.plot_iqm_ranking(ranking, ax=left)
    figures.plot_probability_of_improvement(ranking, ax=right)
    fig.tight_layout()
    top, reference = ranking.iloc[0], ranking.attrs["reference"]
    varying = [a for a in task_axes(results.runs) if len(levels(hidden(results.runs), a)) > 1]
    caption = (
        f"Left: interquartile mean (IQM) of test accuracy over {int(top['n_tasks'])} tasks "
        f"(every combination of {', '.join(varying) or 'the fixed axes'}) and "
        f"{int(top['n_replicates'])} seeds, networks with hidden layers, with 95% "
        "stratified-bootstrap intervals (rliable). Right: the probability that an activation "
        f"beats {reference} on a randomly chosen task (0.5: no different). "
        f"{top['activation']} ranks first ({pct_ci(_iqm_row(top))})."
    )
    return Built(fig, caption)


def _iqm_row(row) -> dict:
    return {"mean": row["iqm"], "low": row["iqm_low"], "high": row["iqm_high"]}


FIGURE_BUILDERS: tuple[tuple[str, str, Callable[[Results, _Context], Built]], ...] = (
    ("decision_boundaries.png", "Decision boundaries", _gallery),
    ("accuracy_vs_depth.png", "Test accuracy against depth", _accuracy_vs_depth),
    ("width_depth_heatmaps.png", "Width and depth", _heatmaps),
    ("noise_robustness.png", "Robustness to input noise", _noise),
    ("learning_curves.png", "Learning curves", _learning_curves),
    ("mechanism.png", "Mechanism", _mechanism),
    ("ranking.png", "Ranking", _ranking),
)


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


# -----------------------------------------------------------------------------
# the report


def build_report(
    results_dir: Path | str,
    out_dir: Path | str,
    grid_name: str | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> Path:
    """Write ``out_dir/summary.md``, ``out_dir/figures/*.png`` and ``out_dir/tables/*.csv`` from
    the results in ``results_dir``; return the path of summary.md.

    ``grid_name`` is used for the reproduce command when the manifest does not name the grid.
    ``seed`` seeds every bootstrap interval, so the same results give the same report.
    """
    matplotlib.use("Agg")
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    results = load_results(results_dir)
    runs = results.runs
    name = _grid_name(results.manifest, grid_name, results_dir)
    figures_dir, tables_dir = out_dir / "figures", out_dir / "tables"
    figures_dir.mkdir(parents=True, exist_ok=True)
    tables_dir.mkdir(parents=True, exist_ok=True)
    for filename in FIGURE_FILES:  # a figure skipped this time must not linger from last time
        (figures_dir / filename).unlink(missing_ok=True)

    ctx = _Context(n_resamples=n_resamples, seed=seed)
    ctx.ranking = ranking_table(runs, n_resamples=n_resamples, seed=seed)

    parts = [f"# nonlinbench report: {name}", headline(runs, n_resamples=n_resamples, seed=seed)]
    parts += ["## Grid", grid_description(runs)]
    reproduction = seed_reproduction(runs, results.curves, n_resamples=n_resamples, seed=seed)
    if reproduction is not None:
        parts += ["## Reproducing the seed notebook", reproduction]

    parts.append("## Figures")
    with sns.axes_style("whitegrid"), plt.rc_context(RC):
        for number, (filename, title, builder) in enumerate(FIGURE_BUILDERS, start=1):
            parts.append(f"### {number}. {title}")
            try:
                if ok(runs).empty:
                    raise Skip("every run failed.")
                built = builder(results, ctx)
            except Skip as skip:
                parts.append(f"> Skipped: {skip}")
                continue
            _save(built.figure, figures_dir / filename)
            parts.append(f"![{title}](figures/{filename})\n\n*Figure {number}. {built.caption}*")

    parts += ["## Tables", *_tables(runs, ctx, tables_dir)]
    parts += ["## Environment", environment(results.manifest)]
    parts += [
        "## Reproduce",
        "Rerun the grid and rebuild this report with:",
        f"```\nnonlinbench run --grid {name} && nonlinbench report --grid {name}\n```",
    ]
    summary_path = out_dir / "summary.md"
    summary_path.write_text("\n\n".join(p for p in parts if p) + "\n")
    return summary_path


def _tables(runs: pd.DataFrame, ctx: _Context, tables_dir: Path) -> list[str]:
    kwargs = {"n_resamples": ctx.n_resamples, "seed": ctx.seed}
    how = (
        "Test accuracy (%): mean over seeds [95% bootstrap interval over seeds]; each seed is "
        "first averaged over every other axis. Failed runs are left out."
    )
    by_dataset, pivot_dataset = accuracy_table(hidden(runs), "dataset", **kwargs)
    by_depth, pivot_depth = accuracy_table(runs, "depth", **kwargs)
    by_dataset.to_csv(tables_dir / "accuracy_by_activation_dataset.csv", index=False)
    by_depth.to_csv(tables_dir / "accuracy_by_activation_depth.csv", index=False)
    parts = [
        "### Test accuracy by activation and dataset",
        how + " Networks with hidden layers only.",
        pivot_dataset.to_markdown(),
        "### Test accuracy by activation and depth",
        how + " Depth 0 is logistic regression.",
        pivot_depth.to_markdown(),
        "### Ranking",
    ]
    if ctx.ranking is not None and len(ctx.ranking):
        ctx.ranking.to_csv(tables_dir / "ranking.csv", index=False)
        parts += [
            "IQM of test accuracy over tasks and seeds with 95% stratified-bootstrap intervals, "
            f"and the probability of improving on {ctx.ranking.attrs['reference']} (rliable's "
            "method); networks with hidden layers, tasks that every activation ran.",
            ranking_markdown(ctx.ranking),
        ]
    else:
        parts.append("> Skipped: no task was run by every activation.")
    counts = failure_counts(runs)
    counts.to_csv(tables_dir / "failures.csv")
    parts += [
        "### Failed and diverged runs",
        "Failed: the run stopped with an error (its metrics are missing). Diverged: the loss "
        "stopped being finite during training.",
        counts.to_markdown(),
    ]
    return parts
