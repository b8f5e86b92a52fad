"""The regression section's figures: test R^2 against depth beside its yardsticks, and the
functions the networks fitted (from surfaces.parquet, nothing retrained).

A regression surface holds the predicted value on the data's plane (``prob``), the test points
in that plane (``test_x``, ``test_y``) and their targets (``test_target``). For one input the
plane is a 'line': its y axis is a dummy of unit height that the network never sees, so every
row of the grid holds the same fitted curve.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench import colors
from bench.data.generators import REGRESSION_TRUTH
from bench.report.plotting import (
    CEILING_STYLE,
    DEPTH_LABEL,
    LINE_STYLE,  # the best affine fit: the regression's best straight line or plane
    facet_axes,
    tick_every_value,
)
from bench.report.regression_summaries import (
    RegressionSummaries,
    block_keys,
    block_label,
    block_references,
    model_order,
    rows_of,
)
from bench.report.results import dataset_order

R2_LABEL = "test $R^2$"
TRUTH_STYLE = {"color": "0.1", "linestyle": "--", "linewidth": 1.0}
VALUE_CMAP = colors.VALUE_CMAP  # predicted values and targets: blue low, red high
DODGE = 0.08  # depth units between the activations at one depth
LOWEST_SHOWN = -1.0  # R^2 below this (far worse than the mean) is drawn at the panel's edge
CORNER_BOX = {"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1}


def plot_r2_against_depth(rs: RegressionSummaries, styles: Mapping[str, dict]) -> Figure:
    """Test R^2 against depth, one panel per block (dataset, and noise / features when they
    vary): a point with its 95% interval per activation, the best possible R^2 dash-dotted and
    the best affine fit (line or plane) dotted."""
    keys = block_keys(rs)
    fig, axes = facet_axes([block_label(rs.blocks, k) for k in keys], col_wrap=3, sharey=False)
    models = model_order(rs.by_depth["activation"].unique(), rs.affine)
    shift = {m: (i - (len(models) - 1) / 2) * DODGE for i, m in enumerate(models)}
    drawn = {}
    for ax, key in zip(axes, keys, strict=True):
        part = rows_of(rs.by_depth, rs.blocks, key)
        lowest = []
        for model in models:
            rows = part[part["activation"] == model].sort_values("depth")
            if rows.empty:
                continue
            mean = rows["mean"].to_numpy(float)
            low = rows["low"].fillna(rows["mean"]).to_numpy(float)
            high = rows["high"].fillna(rows["mean"]).to_numpy(float)
            style = styles[model]
            ax.errorbar(rows["depth"].to_numpy(float) + shift[model], mean,
                        yerr=[mean - low, high - mean], color=style["color"],
                        marker=style["marker"], linestyle=style["linestyle"], linewidth=1,
                        markersize=5, capsize=3)  # fmt: skip
            lowest.append(np.nanmin(low))
        best, line = block_references(rs, key)
        for value, label, style in ((best, "best possible", CEILING_STYLE),
                                    (line, "best line / plane", LINE_STYLE)):  # fmt: skip
            if np.isfinite(value):
                ax.axhline(value, **style)
                drawn[label] = style
                lowest.append(value)
        bottom = max(min(lowest, default=0.0), LOWEST_SHOWN)
        ax.set_ylim(bottom - 0.05 * (1.0 - bottom), 1.0 + 0.05 * (1.0 - bottom))
        tick_every_value(ax, part["depth"].to_numpy(float))
    fig.supxlabel(DEPTH_LABEL, fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel(R2_LABEL, fontsize=plt.rcParams["axes.labelsize"])
    handles = {m: Line2D([], [], markersize=5, **styles[m]) for m in models}
    handles.update({label: Line2D([], [], **style) for label, style in drawn.items()})
    fig.legend(handles.values(), handles.keys(), title="activation", loc="outside right center",
               frameon=False)  # fmt: skip
    return fig


# -----------------------------------------------------------------------------
# the fitted functions


def select_fits(surfaces: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One stored surface per (activation, dataset) with its run's test_r2: per activation its
    deepest stored depth (and the median width there), per dataset the lowest noise, the lowest
    seed. Returns the rows and ``{activation: (depth, width)}``."""
    extra = [c for c in runs.columns if c not in surfaces.columns or c == "run_id"]
    table = surfaces.merge(runs[extra], on="run_id", how="left")
    choice = {}
    keep = np.zeros(len(table), dtype=bool)
    for activation, part in table.groupby("activation", sort=False):
        depth = part["depth"].max()
        widths = sorted(part.loc[part["depth"] == depth, "width"].unique())
        width = widths[(len(widths) - 1) // 2]
        choice[activation] = (depth, width)
        keep |= ((table["activation"] == activation) & (table["depth"] == depth)
                 & (table["width"] == width)).to_numpy()  # fmt: skip
    table = table[keep]
    noise = table.groupby("dataset")["noise"].min()
    table = table[table["noise"].to_numpy() == table["dataset"].map(noise).to_numpy()]
    table = table.sort_values("seed", kind="stable").drop_duplicates(["activation", "dataset"])
    return table, choice


def _grid(row: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, values [iy, ix]) of a stored surface."""
    res = int(row["resolution"])
    xs = np.linspace(row["x_min"], row["x_max"], res)
    ys = np.linspace(row["y_min"], row["y_max"], res)
    return xs, ys, np.asarray(row["prob"], dtype=float).reshape(res, res)


def _draw_curve(ax, row: pd.Series, colour, limits: tuple[float, float]) -> None:
    """A 'line' surface: the fitted curve (one row of the grid), the true function dashed
    (built-in datasets), the test points at their targets."""
    xs, _, values = _grid(row)
    ax.scatter(row["test_x"], row["test_target"], s=5, color="0.55", linewidths=0, zorder=1)
    truth = REGRESSION_TRUTH.get(str(row.get("dataset_source", row["dataset"])))
    if truth is not None:
        ax.plot(xs, truth[0](xs[:, None]), zorder=2, **TRUTH_STYLE)
    ax.plot(xs, values[len(values) // 2], color=colour, linewidth=1.6, zorder=3)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(*limits)


def _draw_map(ax, row: pd.Series, norm) -> None:
    """A two-dimensional surface: the predicted value as an image, the test points on top
    coloured by their targets on the same scale."""
    xs, ys, values = _grid(row)
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap=VALUE_CMAP, norm=norm,
              interpolation="bilinear")  # fmt: skip
    ax.scatter(row["test_x"], row["test_y"], c=np.asarray(row["test_target"], dtype=float),
               cmap=VALUE_CMAP, norm=norm, s=7, edgecolors="0.1", linewidths=0.35)  # fmt: skip
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])


def _value_range(rows: pd.DataFrame) -> tuple[float, float]:
    """The range of a row's targets, where its predictions are judged."""
    targets = np.concatenate([np.asarray(t, dtype=float) for t in rows["test_target"]])
    targets = targets[np.isfinite(targets)]
    if targets.size == 0:
        return -1.0, 1.0
    low, high = float(targets.min()), float(targets.max())
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def plot_function_gallery(
    selected: pd.DataFrame, styles: Mapping[str, dict], affine=(), panel: float = 1.9
) -> Figure:
    """The fitted functions: datasets as rows, activations as columns. One input: the fitted
    curve, the true function dashed and the test points; two (or principal components): the
    predicted value as an image with the test points coloured by target, one colour scale per
    row. The run's test R^2 is in the corner; ``affine`` activations come first."""
    activations = model_order(selected["activation"].unique(), affine)
    datasets = dataset_order(selected["dataset"])
    fig, axes = plt.subplots(len(datasets), len(activations), squeeze=False, layout="constrained",
                             figsize=(panel * len(activations) + 1.4, panel * 0.85 * len(datasets)
                                      + 0.5))  # fmt: skip
    table = selected.set_index(["dataset", "activation"])
    for i, dataset in enumerate(datasets):
        rows = selected[selected["dataset"] == dataset]
        low, high = _value_range(rows)
        norm = plt.Normalize(low, high)
        line = (rows["plane"] == "line").all()
        margin = 0.15 * (high - low)
        for j, activation in enumerate(activations):
            ax = axes[i, j]
            if i == 0:
                ax.set_title(f"{activation} (depth {int(rows_depth(selected, activation))})")
            if j == 0:
                ax.set_ylabel(dataset)
            if (dataset, activation) not in table.index:
                ax.text(0.5, 0.5, "not stored", ha="center", va="center", color="0.5", size=7,
                        transform=ax.transAxes)  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            row = table.loc[(dataset, activation)].copy()
            row["dataset"] = dataset
            if line:
                _draw_curve(ax, row, styles[activation]["color"], (low - margin, high + margin))
            else:
                _draw_map(ax, row, norm)
                ax.grid(False)
            ax.tick_params(labelsize=7)
            if j:
                ax.set_yticklabels([])
            score = row.get("test_r2", np.nan)
            if np.isfinite(score):
                ax.text(0.03, 0.97, f"$R^2$ {score:.3f}", transform=ax.transAxes, ha="left",
                        va="top", size=7, bbox=CORNER_BOX)  # fmt: skip
        if not line:
            mappable = plt.cm.ScalarMappable(norm=norm, cmap=VALUE_CMAP)
            fig.colorbar(mappable, ax=axes[i, :], shrink=0.85, aspect=15, label="value")
    across = "principal component 1" if (selected["plane"] == "pca").all() else "input $x_1$"
    fig.supxlabel(f"{across} (data units); upward: the value (curves) or the second axis (maps)",
                  fontsize=plt.rcParams["axes.labelsize"])  # fmt: skip
    return fig


def rows_depth(selected: pd.DataFrame, activation: str) -> float:
    """The depth drawn for an activation (the same on every dataset)."""
    return float(selected.loc[selected["activation"] == activation, "depth"].max())


def depth_phrase(choice: dict, several_widths: bool) -> str:
    """'every activation at depth 2' or 'none at depth 2, tanh at depth 3'; widths when they
    vary."""

    def where(depth, width) -> str:
        return f"depth {int(depth)}" + (f", width {int(width)}" if several_widths else "")

    places = {a: where(*dw) for a, dw in choice.items()}
    if len(set(places.values())) == 1:
        return f"every activation at {next(iter(places.values()))}"
    return "; ".join(f"{a} at {p}" for a, p in places.items())
