"""The report's figures but the gallery, one pure function each, drawn from summary tables.

Each ``plot_*`` function takes tidy summary frames (``*by, mean, low, high, n``, see
:mod:`bench.report.summaries`) or the ranking table, draws one figure and returns what it drew on:
an ``Axes`` (pass ``ax=`` to draw into your own), or a matplotlib ``Figure`` where the figure
needs facets (a panel per dataset or activation). ``styles`` (from
:func:`bench.report.plotting.activation_styles`) keeps each activation's look the same across
figures. None of them saves, shows or changes global style; :func:`bench.report.build_report`
does that.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.report.learned import parameter_label
from bench.report.markdown import fmt
from bench.report.plotting import (
    ACCURACY_LABEL,
    DEPTH_LABEL,
    NOISE_LABEL,
    WIDTH_LABEL,
    draw_intervals,
    facet_axes,
    facet_intervals,
    interval_rows,
    log_axis,
    new_axes,
    percent_axis,
    styles_of,
    tick_every_value,
)
from bench.report.results import activation_order

X_LABELS = {
    "depth": DEPTH_LABEL,
    "noise": NOISE_LABEL,
    "width": WIDTH_LABEL,
    "epoch": "epoch",
    "label_noise": "training labels flipped (fraction)",
    "lr": "learning rate",
    "n_samples": "points generated (train + test)",
    "test_size": "test share of the points",
    "batch_size": "batch size (0: full batch)",
    "epochs": "epoch budget",
}
NOTE_WIDTH = 42  # characters per line of a note inside a panel
MAX_ANNOTATED_CELLS = 30  # a heatmap with more cells than this is too small to print numbers in


def plot_accuracy_against(
    summary: pd.DataFrame,
    axis: str,
    *,
    references: pd.DataFrame | None = None,
    styles: Mapping[str, dict] | None = None,
    col_wrap: int = 5,
) -> Figure:
    """Test accuracy against ``axis`` (depth, noise, lr, optimizer, ...) per activation with 95%
    bootstrap bands over seeds, a panel per dataset, from a summary by dataset x activation x
    ``axis``. ``references`` (bench.report.yardsticks.reference_lines by dataset, optionally
    x ``axis``) draws chance dotted and the best possible accuracy dash-dotted."""
    return facet_intervals(
        summary,
        axis,
        xlabel=X_LABELS.get(axis, axis),
        ylabel=ACCURACY_LABEL,
        styles=styles,
        percent=True,
        references=references,
        col_wrap=col_wrap,
    )


def plot_learning_curves(
    summary: pd.DataFrame,
    *,
    metric: str = "test_loss",
    styles: Mapping[str, dict] | None = None,
    col_wrap: int = 5,
) -> Figure:
    """A loss (log scale) or accuracy against epoch per activation with 95% bootstrap bands over
    seeds, a panel per dataset, from a summary by dataset x activation x epoch of ``metric``."""
    label = metric.replace("_", " ") + (" (cross-entropy, nats)" if "loss" in metric else "")
    return facet_intervals(
        summary,
        "epoch",
        xlabel="epoch",
        ylabel=label,
        styles=styles,
        logy="loss" in metric,
        markers=False,
        col_wrap=col_wrap,
    )


def plot_width_depth_heatmaps(summary: pd.DataFrame, *, col_wrap: int = 4) -> Figure:
    """Mean test accuracy (%) on a width x depth grid, one heatmap per activation, sharing one
    colour scale, from a summary by activation x depth x width."""
    means = summary.assign(percent=100 * summary["mean"].astype(float))
    vmin, vmax = float(means["percent"].min()), float(means["percent"].max())
    activations = activation_order(means["activation"])
    fig, axes = facet_axes(activations, col_wrap=col_wrap, panel=(2.4, 2.1))
    annotate = means["depth"].nunique() * means["width"].nunique() <= MAX_ANNOTATED_CELLS
    for ax, activation in zip(axes, activations, strict=True):
        part = means[means["activation"] == activation]
        table = part.pivot_table(index="depth", columns="width", values="percent")  # [depth, width]
        # cells at integer positions, depth upwards; imshow is several times faster than seaborn's
        # heatmap and draws the same cells
        ax.imshow(table.to_numpy(float), cmap="viridis", vmin=vmin, vmax=vmax, origin="lower",
                  aspect="auto")  # fmt: skip
        ax.set_xticks(range(table.shape[1]), [fmt(w) for w in table.columns])
        ax.set_yticks(range(table.shape[0]), [fmt(d) for d in table.index])
        ax.grid(False)
        if annotate:
            for (i, j), value in np.ndenumerate(table.to_numpy(float)):
                if np.isfinite(value):
                    light = value < vmin + 0.6 * (vmax - vmin)  # white text on dark cells
                    ax.text(j, i, f"{value:.0f}", ha="center", va="center", size=7,
                            color="white" if light else "black")  # fmt: skip
    fig.supxlabel(WIDTH_LABEL, fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel(DEPTH_LABEL, fontsize=plt.rcParams["axes.labelsize"])
    mappable = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(vmin, vmax))
    fig.colorbar(mappable, ax=axes, shrink=0.8, label="mean " + ACCURACY_LABEL)
    return fig


# -----------------------------------------------------------------------------
# mechanism


def plot_against_depth(
    summary: pd.DataFrame,
    ax: Axes | None = None,
    *,
    ylabel: str,
    scale: str = "linear",
    styles: Mapping[str, dict] | None = None,
    title: str = "",
    undefined: str = "",
) -> Axes:
    """A measure against depth per activation with 95% bootstrap bands, from a summary by
    activation x depth; ``scale`` is 'linear', 'log' or 'percent'. ``undefined`` is printed in
    the panel: why some activations have no line (e.g. no linear regions to count)."""
    ax = new_axes(ax)
    draw_intervals(ax, summary, "depth", styles_of(summary["activation"].unique(), styles))
    if title:
        ax.set_title(title)
    if undefined:  # under the axis label, never over the data
        ax.text(
            0.5, -0.24, textwrap.fill(undefined, 2 * NOTE_WIDTH), transform=ax.transAxes,
            ha="center", va="top", size=7, color="0.3",
        )  # fmt: skip
    tick_every_value(ax, summary["depth"])
    ax.set_xlabel(DEPTH_LABEL)
    if scale == "log":
        log_axis(ax)
    elif scale == "percent":
        percent_axis(ax)
    ax.set_ylabel(ylabel)
    return ax


def plot_linear_fit_r2(
    summary: pd.DataFrame, ax: Axes | None = None, *, styles: Mapping[str, dict] | None = None
) -> Axes:
    """R^2 of the best affine fit to the trained network's logits, per activation, from a summary
    by activation: 1 means the network computes an affine function of its input."""
    ax = new_axes(ax)
    table = summary.set_index("activation").reindex(activation_order(summary["activation"]))
    table = table.reset_index()
    interval_rows(ax, table, ("mean", "low", "high"), styles_of(table["activation"], styles))
    ax.set_xlabel("$R^2$ of an affine fit to the logits (1 = linear)")
    ax.set_title("How affine the trained network is")
    return ax


# -----------------------------------------------------------------------------
# ranking


def plot_iqm_ranking(
    ranking: pd.DataFrame, ax: Axes | None = None, *, styles: Mapping[str, dict] | None = None
) -> Axes:
    """IQM of test accuracy per activation with 95% stratified-bootstrap intervals, best at the
    top. ``ranking`` is a :func:`bench.report.tables.ranking_table`."""
    ax = new_axes(ax)
    interval_rows(
        ax, ranking, ("iqm", "iqm_low", "iqm_high"), styles_of(ranking["activation"], styles)
    )
    percent_axis(ax, "x")
    ax.set_xlabel("IQM of " + ACCURACY_LABEL)
    ax.set_title("Interquartile mean over tasks and replicates")
    return ax


def plot_probability_of_improvement(
    ranking: pd.DataFrame, ax: Axes | None = None, *, styles: Mapping[str, dict] | None = None
) -> Axes:
    """P(activation beats the reference) on a random task, with 95% stratified-bootstrap
    intervals; 0.5 means no different. The reference is ``ranking.attrs["reference"]``; it keeps
    its (empty) row, so the rows match the IQM's."""
    ax = new_axes(ax)
    reference = ranking.attrs.get("reference", "relu")
    names = list(ranking["activation"])
    interval_rows(ax, ranking, ("p_improve", "p_low", "p_high"), styles_of(names, styles))
    if reference in names:
        y = len(names) - 1 - names.index(reference)
        ax.text(0.52, y, "reference", va="center", ha="left", size=8, color="0.3")
    ax.axvline(0.5, color="0.3", linestyle=":", linewidth=1)
    ax.set_xlim(-0.02, 1.02)  # probabilities, with room for the markers at 0 and 1
    ax.set_xlabel(f"P(activation > {reference}) (probability)")
    ax.set_title(f"Probability of beating {reference} on a task")
    return ax


# -----------------------------------------------------------------------------
# learned activation parameters


def plot_learned_parameters(
    summary: pd.DataFrame, *, styles: Mapping[str, dict] | None = None
) -> Figure:
    """The mean learned value of each activation parameter against depth, one panel per
    (activation, parameter), from a summary by activation x parameter x depth (``value``)."""
    summary = summary.assign(panel=[
        parameter_label(a, p) for a, p in zip(summary["activation"], summary["parameter"], strict=True)
    ])  # fmt: skip
    panels = list(dict.fromkeys(summary.sort_values(["activation", "parameter"])["panel"]))
    fig, axes = facet_axes(panels, panel=(3.2, 2.4))
    for ax, panel in zip(axes, panels, strict=True):
        part = summary[summary["panel"] == panel]
        draw_intervals(ax, part, "depth", styles_of(part["activation"].unique(), styles))
        tick_every_value(ax, part["depth"])
        ax.set_xlabel(DEPTH_LABEL)
        ax.set_ylabel("learned value (mean over layers)")
    return fig
