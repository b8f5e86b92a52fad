"""Plotting primitives shared by the report's figures: activation styles, axis scales, interval
lines and bands, facets, and interval rows.

Activations keep the same colour, marker and line style in every figure (see
:func:`activation_styles`); affine activations (the linear control) are always grey and dashed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench import colors
from bench.report.results import activation_order, dataset_order, levels

# Filled markers (star polygons after matplotlib's fifteen): 20 distinct shapes.
MARKERS = (
    "o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p", "d", "H", "8",
    (4, 1, 0), (6, 1, 0), (7, 1, 0), (8, 1, 0), (3, 1, 0),
)  # fmt: skip
LINESTYLES = ("-", "-.", ":")
AFFINE_STYLE = {
    "color": to_rgb(colors.AFFINE_COLOUR), "marker": "o", "linestyle": "--", "zorder": 3
}  # fmt: skip
MUTE = 0.45  # how far a muted activation's colour moves toward white
MAX_LABELLED_TICKS = 8  # an axis with at most this many values gets a tick at each
# The yardsticks: three line styles and three tones that no activation's line uses (those are
# solid, or dashed grey with markers for the linear control).
CHANCE_STYLE = {"color": "0.35", "linestyle": ":", "linewidth": 1.4}
LINE_STYLE = {"color": "#8c6d31", "linestyle": (0, (5, 2)), "linewidth": 1.4}
CEILING_STYLE = {"color": "0.05", "linestyle": (0, (7, 2, 1, 2)), "linewidth": 1.2}

ACCURACY_LABEL = "test accuracy (%)"
DEPTH_LABEL = "depth (hidden layers)"
WIDTH_LABEL = "width (units per hidden layer)"
NOISE_LABEL = "input noise (std, data units)"


# -----------------------------------------------------------------------------
# styles


def activation_styles(
    activations: Iterable[str], affine: Collection[str] = (), emphasis: Collection[str] = ()
) -> dict[str, dict]:
    """Colour, marker and line style per activation, in display order, stable for a given set of
    names; the ``affine`` ones are grey and dashed.

    The colours are bench.colors' (the explore page's too): the colorblind palette without its
    grey, kept for affine activations, then Kelly's colours; 20 activations get 20 colours and
    20 markers; past that, colours and markers repeat with another line style. With an
    ``emphasis`` (the activations that carry the report's lesson), the others keep their hue
    and marker but are muted (MUTE toward white, drawn beneath), so the lesson's lines stand
    out among eight.
    """
    colours = [to_rgb(c) for c in colors.ACTIVATION_COLOURS]
    styles, k = {}, 0
    for name in activation_order(activations):
        if name in affine:
            styles[name] = dict(AFFINE_STYLE)
            continue
        colour = colours[k % len(colours)]
        muted = bool(emphasis) and name not in emphasis
        styles[name] = {
            "color": tuple(c + MUTE * (1 - c) for c in colour) if muted else colour,
            "marker": MARKERS[k % len(MARKERS)],
            "linestyle": LINESTYLES[(k // len(colours)) % len(LINESTYLES)],
            "zorder": 2 if muted else 3,
        }
        k += 1
    return styles


def styles_of(names: Iterable[str], styles: Mapping[str, dict] | None) -> dict[str, dict]:
    """The styles of ``names`` in display order: taken from ``styles`` (the report's, made once
    for every activation) or, without it, made for these names alone."""
    if styles is None:
        return activation_styles(names)
    return {name: styles[name] for name in activation_order(names)}


def legend_handles(styles: Mapping[str, dict]) -> dict[str, Line2D]:
    return {name: Line2D([], [], markersize=5, **style) for name, style in styles.items()}


def activation_legend(fig: Figure, handles: Mapping[str, Line2D], **kwargs) -> None:
    fig.legend(handles.values(), handles.keys(), title="activation", **kwargs)


# -----------------------------------------------------------------------------
# scales


def percent_axis(ax: Axes, axis: str = "y") -> None:
    formatter = FuncFormatter(lambda value, _: f"{100 * value:.4g}%")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


class _LogTicks(LogLocator):
    """Major ticks at powers of ten, and at 2x and 5x too when the axis spans under 1.8 decades
    (else a narrow axis shows one tick or none)."""

    def tick_values(self, vmin, vmax):
        low, high = sorted((vmin, vmax))
        narrow = low > 0 and np.log10(high / low) < 1.8
        self.set_params(subs=(1.0, 2.0, 5.0) if narrow else (1.0,))
        return super().tick_values(vmin, vmax)


def log_axis(ax: Axes, axis: str = "y") -> None:
    """A log scale labelled with plain numbers (0.2, 1, 30) rather than powers of ten."""
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(_LogTicks())
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(NullFormatter())


def tick_every_value(ax: Axes, values) -> None:
    """A tick at each of a few discrete values (depths, noises), matplotlib's choice otherwise."""
    values = np.sort(np.unique(values))
    if 0 < len(values) <= MAX_LABELLED_TICKS:
        ax.set_xticks(values)


# -----------------------------------------------------------------------------
# drawing


def new_axes(ax: Axes | None, size=(4.2, 3.0)) -> Axes:
    return ax if ax is not None else plt.figure(figsize=size).add_subplot()


def draw_intervals(ax: Axes, summary: pd.DataFrame, x: str, styles: Mapping[str, dict]) -> None:
    """Mean lines with 95% interval bands, one per activation in ``styles``, from a summary."""
    for name, style in styles.items():
        part = summary[summary["activation"] == name].sort_values(x)
        if part.empty:
            continue
        ax.plot(part[x], part["mean"], markersize=4, linewidth=1.4, label=name, **style)
        ax.fill_between(
            part[x].to_numpy(float),
            part["low"].to_numpy(float),
            part["high"].to_numpy(float),
            color=style["color"],
            alpha=0.15 if style.get("zorder", 3) >= 3 else 0.08,
            linewidth=0,
        )


def facet_axes(
    names: Sequence[str], *, col_wrap: int = 4, panel=(2.9, 2.3), **kwargs
) -> tuple[Figure, list[Axes]]:
    """A figure with one panel per name (row-major, ``col_wrap`` per row), spare panels removed,
    laid out by matplotlib's constrained layout. Returns the figure and the used axes.

    ``panel`` is one panel's (width, height) in inches; the figure adds room for the shared
    labels and the legend."""
    ncols = max(1, min(col_wrap, len(names)))
    nrows = -(-len(names) // ncols)
    fig, grid = plt.subplots(
        nrows,
        ncols,
        figsize=(panel[0] * ncols + 1.4, panel[1] * nrows + 0.4),
        squeeze=False,
        layout="constrained",
        **kwargs,
    )
    axes = list(grid.flat)
    for ax in axes[len(names) :]:
        ax.remove()
    for ax, name in zip(axes, names, strict=False):
        ax.set_title(str(name))
        # every panel keeps its tick labels: shared axes would hide the inner ones, and a
        # wrapped grid's panels are read one at a time
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.yaxis.set_tick_params(labelleft=True)
    return fig, axes[: len(names)]


def facet_intervals(
    summary: pd.DataFrame,
    x: str,
    *,
    xlabel: str,
    ylabel: str,
    styles: Mapping[str, dict] | None = None,
    percent: bool = False,
    logy: bool = False,
    references: pd.DataFrame | None = None,
    markers: bool = True,
    col_wrap: int = 5,
) -> Figure:
    """Interval lines per activation from a summary by dataset x activation x ``x``, one panel per
    dataset, one legend. ``references`` (columns dataset, optionally ``x``, and chance and/or
    ceiling) draws chance dotted and the best possible accuracy dash-dotted. A categorical ``x``
    (optimizer, init) is drawn at evenly spaced positions; a positive one spanning a factor of
    ten or more (lr) on a log scale."""
    datasets = dataset_order(summary["dataset"])
    styles = styles_of(summary["activation"].unique(), styles)
    if not markers:
        styles = {name: {**style, "marker": ""} for name, style in styles.items()}
    positions = x_positions(summary[x], levels(summary, x))
    summary = summary.assign(**{x: summary[x].map(positions.get)})
    fig, axes = facet_axes(datasets, col_wrap=col_wrap, sharex=True, sharey=not logy)
    drawn: dict[str, dict] = {}
    for ax, dataset in zip(axes, datasets, strict=True):
        draw_intervals(ax, summary[summary["dataset"] == dataset], x, styles)
        if references is not None:
            here = references[references["dataset"] == dataset]
            drawn.update(_draw_references(ax, here, x, positions))
        if logy:
            log_axis(ax)
        if percent:
            percent_axis(ax)
        _x_ticks(ax, positions)
    fig.supxlabel(xlabel, fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel(ylabel, fontsize=plt.rcParams["axes.labelsize"])
    handles = legend_handles(styles)
    for label, style in drawn.items():
        handles[label] = Line2D([], [], **style)
    activation_legend(fig, handles, loc="outside right center", frameon=False)
    return fig


REFERENCES = (
    ("chance", "chance", CHANCE_STYLE),
    ("line", "best straight line", LINE_STYLE),
    ("bayes", "best possible", CEILING_STYLE),
)


def _draw_references(ax: Axes, rows: pd.DataFrame, x: str, positions: dict) -> dict[str, dict]:
    """Chance and the best possible accuracy: a horizontal line where they do not depend on
    ``x``, else a line through their value at each ``x``. Returns {legend label: style}."""
    drawn = {}
    for column, label, style in REFERENCES:
        if column not in rows or not np.isfinite(rows[column].to_numpy(float)).any():
            continue
        known = np.isfinite(rows[column].to_numpy(float))
        if x in rows and (rows[column].nunique() > 1 or not known.all()):
            # through its value at each x; where it is unknown (the best straight line beyond
            # the plane, say) nothing is drawn, and a lone known value is a short tick
            part = rows.assign(**{x: rows[x].map(positions.get)}).sort_values(x)
            lone = {"marker": "_", "markersize": 18} if known.sum() == 1 else {}
            ax.plot(part[x], part[column], **style, **lone)
        else:
            ax.axhline(float(rows[column].mean()), **style)
        drawn[label] = style
    return drawn


def x_positions(values: pd.Series, order: list | None = None) -> dict:
    """Where each value of an axis is drawn: itself for numbers, 0, 1, 2, ... for categories
    (strings, booleans): in ``order`` when given, else sorted."""
    distinct = list(dict.fromkeys(values))
    numeric = all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in distinct
    )
    if numeric:
        return {v: v for v in distinct}
    if order is not None:
        ranked = [v for v in order if v in distinct] + [v for v in distinct if v not in order]
        return {v: float(i) for i, v in enumerate(ranked)}
    return {v: float(i) for i, v in enumerate(sorted(distinct, key=str))}


def _x_ticks(ax: Axes, positions: dict) -> None:
    """A tick at each value: labelled with the category's name, or the number; a log scale for
    positive numbers spanning a factor of ten or more."""
    values = list(positions)
    if values and any(positions[v] != v for v in values):
        ax.set_xticks(list(positions.values()), [str(v) for v in positions])
        ax.set_xlim(-0.5, len(values) - 0.5)
        return
    numbers = np.asarray(values, dtype=float)
    if len(numbers) > 1 and numbers.min() > 0 and numbers.max() / numbers.min() >= 10:
        log_axis(ax, "x")
        ax.set_xticks(np.sort(numbers))
        ax.xaxis.set_minor_formatter(NullFormatter())
        return
    tick_every_value(ax, numbers)


def interval_rows(ax: Axes, table: pd.DataFrame, columns, styles: Mapping[str, dict]) -> None:
    """Horizontal intervals, one row per activation of ``table``, the first at the top.

    ``columns`` names the point, low and high columns; a missing bound draws at the point."""
    point, low, high = (table[c].astype(float) for c in columns)
    names = list(table["activation"])
    ys = np.arange(len(names))[::-1]
    for y, name, p, lo, hi in zip(
        ys, names, point, low.fillna(point), high.fillna(point), strict=True
    ):
        style = styles[name]
        ax.plot([lo, hi], [y, y], color=style["color"], linewidth=2.2, solid_capstyle="butt")
        ax.plot([p], [y], marker=style["marker"], color=style["color"], markersize=7,
                markeredgecolor="0.15", markeredgewidth=0.6)  # fmt: skip
    ax.set_yticks(ys, names)
    ax.set_ylim(-0.7, len(names) - 0.3)  # half a row of margin above and below
    ax.grid(axis="y", visible=False)
