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

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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

X_LABELS = {"depth": DEPTH_LABEL, "noise": NOISE_LABEL, "width": WIDTH_LABEL, "epoch": "epoch"}
MAX_ANNOTATED_CELLS = 30  # a heatmap with more cells than this is too small to print numbers in


def plot_accuracy_against(
    summary: pd.DataFrame,
    axis: str,
    *,
    chance: Mapping[str, float] | None = None,
    styles: Mapping[str, dict] | None = None,
    col_wrap: int = 4,
) -> Figure:
    """Test accuracy against ``axis`` (depth, noise, ...) per activation with 95% bootstrap bands
    over seeds, a panel per dataset, from a summary by dataset x activation x ``axis``; the dotted
    line is chance (dataset -> 1 / number of classes)."""
    return facet_intervals(
        summary,
        axis,
        xlabel=X_LABELS.get(axis, axis),
        ylabel=ACCURACY_LABEL,
        styles=styles,
        percent=True,
        chance=chance,
        col_wrap=col_wrap,
    )


def plot_learning_curves(
    summary: pd.DataFrame,
    *,
    metric: str = "test_loss",
    styles: Mapping[str, dict] | None = None,
    col_wrap: int = 4,
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
        table = part.pivot_table(index="depth", columns="width", values="percent")
        sns.heatmap(
            table, ax=ax, vmin=vmin, vmax=vmax, cmap="viridis", cbar=False, annot=annotate,
            fmt=".0f", annot_kws={"size": 7},
        )  # fmt: skip
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_xlabel("")
        ax.set_ylabel("")
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
) -> Axes:
    """A measure against depth per activation with 95% bootstrap bands, from a summary by
    activation x depth; ``scale`` is 'linear', 'log' or 'percent'."""
    ax = new_axes(ax)
    draw_intervals(ax, summary, "depth", styles_of(summary["activation"].unique(), styles))
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
    return ax
