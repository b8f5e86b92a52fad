"""The report's figures, one pure function each.

Each ``plot_*`` function takes tidy data (runs.parquet rows, a summary, or stored surfaces), draws
one figure and returns what it drew on: an ``Axes`` (pass ``ax=`` to draw into your own), or a
matplotlib ``Figure`` where the figure needs facets (panels per dataset or activation). None of them saves,
shows or changes global style; :func:`bench.report.build_report` does that.

Activations keep the same colour, marker and line style in every figure (see
:func:`activation_styles`); ``none``, the linear control, is always grey and dashed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.report.tables import (
    N_RESAMPLES,
    activation_order,
    chance_level,
    dataset_order,
    hidden,
    ok,
    seed_axes,
    seed_level,
    summarize,
)

PALETTE = "colorblind"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
LINESTYLES = ("-", "-.", ":")
NONE_STYLE = {"color": sns.color_palette(PALETTE)[7], "marker": "o", "linestyle": "--"}
MAX_CURVE_POINTS = 40  # evaluation epochs drawn per learning curve

ACCURACY_LABEL = "test accuracy (%)"
DEPTH_LABEL = "depth (hidden layers)"
WIDTH_LABEL = "width (units per hidden layer)"
NOISE_LABEL = "input noise (std, data units)"

__all__ = [
    "activation_styles",
    "plot_accuracy_vs_depth",
    "plot_dead_units",
    "plot_decision_gallery",
    "plot_grad_norm_init",
    "plot_iqm_ranking",
    "plot_learning_curves",
    "plot_linear_fit_r2",
    "plot_linear_regions",
    "plot_noise_robustness",
    "plot_probability_of_improvement",
    "plot_width_depth_heatmaps",
]


# -----------------------------------------------------------------------------
# shared styling


def activation_styles(activations: Sequence[str]) -> dict[str, dict]:
    """Colour, marker and line style per activation, stable for a given set of names.

    Colours come from seaborn's colorblind palette (grey is kept for ``none``); past nine
    activations colours repeat with another line style, and every activation has its own marker.
    """
    colours = [c for i, c in enumerate(sns.color_palette(PALETTE)) if i != 7]
    styles, k = {}, 0
    for name in activation_order(activations):
        if name == "none":
            styles[name] = dict(NONE_STYLE)
            continue
        styles[name] = {
            "color": colours[k % len(colours)],
            "marker": MARKERS[k % len(MARKERS)],
            "linestyle": LINESTYLES[(k // len(colours)) % len(LINESTYLES)],
        }
        k += 1
    return styles


def legend_handles(styles: Mapping[str, dict]) -> dict[str, Line2D]:
    return {name: Line2D([], [], markersize=5, **style) for name, style in styles.items()}


def _percent(ax: Axes, axis: str = "y") -> None:
    formatter = FuncFormatter(lambda value, _: f"{100 * value:.4g}%")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


class _LogTicks(LogLocator):
    """Major ticks at powers of ten, and at 2x and 5x too when the axis spans under 1.8 decades."""

    def tick_values(self, vmin, vmax):
        low, high = sorted((vmin, vmax))
        narrow = low > 0 and np.log10(high / low) < 1.8
        self.set_params(subs=(1.0, 2.0, 5.0) if narrow else (1.0,))
        return super().tick_values(vmin, vmax)


def _log(ax: Axes, axis: str = "y") -> None:
    """A log scale labelled with plain numbers (0.2, 1, 30) rather than powers of ten."""
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(_LogTicks())
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(NullFormatter())


def _draw_intervals(ax: Axes, summary: pd.DataFrame, x: str, styles: Mapping[str, dict]) -> None:
    """Mean lines with 95% interval bands, one per activation, from a ``summarize`` table."""
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
            alpha=0.15,
            linewidth=0,
        )


def facet_axes(
    names: Sequence[str], *, col_wrap: int = 4, panel=(2.9, 2.3), **kwargs
) -> tuple[Figure, list[Axes]]:
    """A figure with one panel per name (row-major, ``col_wrap`` per row), spare panels removed,
    laid out by matplotlib's constrained layout. Returns the figure and the used axes."""
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
    for i, ax in enumerate(axes[len(names) :], start=len(names)):
        above = i - ncols
        axes[above].xaxis.set_tick_params(labelbottom=True)  # it is now the column's lowest
        ax.remove()
    for ax, name in zip(axes, names, strict=False):
        ax.set_title(str(name))
    return fig, axes[: len(names)]


def _facet_intervals(
    summary: pd.DataFrame,
    x: str,
    *,
    xlabel: str,
    ylabel: str,
    percent: bool = False,
    logy: bool = False,
    chance: Mapping[str, float] | None = None,
    markers: bool = True,
    col_wrap: int = 4,
) -> Figure:
    """Interval lines per activation, one panel per dataset, one legend."""
    datasets = dataset_order(summary["dataset"])
    styles = activation_styles(summary["activation"].unique())
    if not markers:
        styles = {name: {**style, "marker": ""} for name, style in styles.items()}
    fig, axes = facet_axes(datasets, col_wrap=col_wrap, sharex=True, sharey=not logy)
    xs = np.sort(summary[x].unique())
    for ax, dataset in zip(axes, datasets, strict=True):
        _draw_intervals(ax, summary[summary["dataset"] == dataset], x, styles)
        if chance is not None and np.isfinite(chance.get(dataset, np.nan)):
            ax.axhline(chance[dataset], color="0.2", linestyle=":", linewidth=1)
        if logy:
            _log(ax)
        if percent:
            _percent(ax)
        if len(xs) <= 8:
            ax.set_xticks(xs)
    fig.supxlabel(xlabel, fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel(ylabel, fontsize=plt.rcParams["axes.labelsize"])
    handles = legend_handles(styles)
    if chance is not None:
        handles["chance"] = Line2D([], [], color="0.2", linestyle=":", linewidth=1)
    fig.legend(
        handles.values(), handles.keys(), title="activation", loc="outside right center",
        frameon=False,
    )  # fmt: skip
    return fig


# -----------------------------------------------------------------------------
# 1. decision boundaries


def _class_colours(n_classes: int) -> list:
    return [to_rgb(c) for c in sns.color_palette(PALETTE, max(n_classes, 2))]


def _draw_surface(ax: Axes, row: pd.Series, points, n_classes: int) -> None:
    resolution = int(row["resolution"])
    extent = (row["x_min"], row["x_max"], row["y_min"], row["y_max"])
    prob = np.asarray(row["prob"], dtype=float).reshape(resolution, resolution)  # [iy, ix]
    colours = _class_colours(n_classes)
    if n_classes <= 2:
        xs = np.linspace(extent[0], extent[1], resolution)
        ys = np.linspace(extent[2], extent[3], resolution)
        cmap = LinearSegmentedColormap.from_list("classes", [colours[0], "white", colours[1]])
        ax.contourf(xs, ys, prob, levels=np.linspace(0, 1, 11), cmap=cmap, vmin=0, vmax=1)
        if prob.min() < 0.5 < prob.max():
            ax.contour(xs, ys, prob, levels=[0.5], colors="0.15", linewidths=0.8)
    else:
        # predicted class as colour, confidence (max probability) as saturation
        pred = np.asarray(row["pred"], dtype=int).reshape(resolution, resolution)
        strength = np.clip((prob - 1 / n_classes) / (1 - 1 / n_classes), 0, 1)[..., None]
        rgb = np.asarray(colours)[np.clip(pred, 0, n_classes - 1)]
        image = 1 - (0.2 + 0.6 * strength) * (1 - rgb)
        ax.imshow(image, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    if points is not None:
        X, y = points
        ax.scatter(
            X[:, 0],
            X[:, 1],
            c=[colours[int(k) % len(colours)] for k in y],
            s=6,
            edgecolors="0.1",
            linewidths=0.35,
        )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])


def plot_decision_gallery(
    surfaces: pd.DataFrame,
    points: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    *,
    activations: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    panel_size: float = 1.35,
) -> Figure:
    """Decision surfaces: activations as rows, datasets as columns, test points on top.

    ``surfaces`` holds surfaces.parquet rows, one per (activation, dataset) (the first is drawn if
    there are more); optional columns ``n_classes`` (default: inferred from ``pred``) and
    ``test_acc`` (printed in the corner). ``points`` maps a run_id to its test set ``(X, y)`` in the
    surface's plane. Two classes: the probability of class 1 with the 50% contour; more: the
    predicted class, paler where the model is less sure.
    """
    activations = list(activations or activation_order(surfaces["activation"]))
    datasets = list(datasets or dataset_order(surfaces["dataset"]))
    if len(datasets) < 4:  # few columns: larger panels
        panel_size = max(panel_size, 2.0)
    fig, axes = plt.subplots(
        len(activations),
        len(datasets),
        figsize=(panel_size * len(datasets) + 1.6, panel_size * len(activations) + 0.6),
        squeeze=False,
        layout="constrained",
    )
    first = surfaces.drop_duplicates(["activation", "dataset"]).set_index(["activation", "dataset"])
    any_binary = False
    for i, activation in enumerate(activations):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(dataset)
            if j == 0:
                ax.set_ylabel(activation, rotation=0, ha="right", va="center")
            if (activation, dataset) not in first.index:
                ax.text(0.5, 0.5, "not stored", ha="center", va="center", color="0.5", size=7)
                continue
            row = first.loc[(activation, dataset)]
            n_classes = row.get("n_classes", np.nan)
            if not np.isfinite(n_classes):
                n_classes = int(np.max(row["pred"])) + 1
            n_classes = max(int(n_classes), 2)
            any_binary |= n_classes == 2
            _draw_surface(ax, row, (points or {}).get(row["run_id"]), n_classes)
            if np.isfinite(row.get("test_acc", np.nan)):
                ax.text(
                    0.03, 0.97, f"{100 * row['test_acc']:.0f}%", transform=ax.transAxes,
                    ha="left", va="top", size=7, bbox={"facecolor": "white", "alpha": 0.7,
                    "linewidth": 0, "pad": 1},
                )  # fmt: skip
    fig.supxlabel("input feature $x_1$ (data units)", fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel("input feature $x_2$ (data units)", fontsize=plt.rcParams["axes.labelsize"])
    if any_binary:
        colours = _class_colours(2)
        cmap = LinearSegmentedColormap.from_list("classes", [colours[0], "white", colours[1]])
        mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
        fig.colorbar(mappable, ax=axes, shrink=0.5, aspect=30, label="P(class 1), two classes")
    return fig


# -----------------------------------------------------------------------------
# 2-5. accuracy against the grid's axes, learning curves


def plot_accuracy_vs_depth(
    runs: pd.DataFrame,
    *,
    metric: str = "test_acc",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    col_wrap: int = 4,
) -> Figure:
    """Test accuracy against depth per activation, 95% bootstrap bands over seeds, a facet per
    dataset; the dotted line is chance (1 / number of classes)."""
    return _accuracy_against(runs, "depth", DEPTH_LABEL, metric, n_resamples, seed, col_wrap)


def plot_noise_robustness(
    runs: pd.DataFrame,
    *,
    metric: str = "test_acc",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    col_wrap: int = 4,
) -> Figure:
    """Test accuracy against input noise per activation (networks with hidden layers), 95%
    bootstrap bands over seeds, a facet per dataset."""
    return _accuracy_against(
        hidden(runs), "noise", NOISE_LABEL, metric, n_resamples, seed, col_wrap
    )


def _accuracy_against(
    runs: pd.DataFrame,
    axis: str,
    xlabel: str,
    metric: str,
    n_resamples: int,
    seed: int,
    col_wrap: int,
) -> Figure:
    """`metric` against `axis` per activation, a facet per dataset, with its chance line."""
    summary = summarize(
        runs, ["dataset", "activation", axis], metric, n_resamples=n_resamples, seed=seed
    )
    chance = {d: chance_level(part) for d, part in runs.groupby("dataset")}
    return _facet_intervals(
        summary,
        axis,
        xlabel=xlabel,
        ylabel=ACCURACY_LABEL,
        percent=True,
        chance=chance,
        col_wrap=col_wrap,
    )


def learning_curve_runs(curves: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Curves joined with their runs' axes: networks with hidden layers that neither failed nor
    diverged, at most MAX_CURVE_POINTS evaluation epochs."""
    keep = ok(hidden(runs))
    if "diverged" in keep:
        keep = keep[~keep["diverged"].fillna(False).astype(bool)]
    epochs = np.sort(curves["epoch"].unique())
    if len(epochs) > MAX_CURVE_POINTS:
        picks = np.linspace(0, len(epochs) - 1, MAX_CURVE_POINTS).round().astype(int)
        epochs = epochs[np.unique(picks)]
    columns = ["run_id", "dataset", "activation", *seed_axes(keep)]
    part = curves[curves["epoch"].isin(epochs)]
    return part.merge(keep[columns], on="run_id", how="inner")


def plot_learning_curves(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    *,
    metric: str = "test_loss",
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    col_wrap: int = 4,
) -> Figure:
    """Test loss against epoch per activation with 95% bootstrap bands over seeds, a facet per
    dataset (log scale; runs that diverged or failed are left out)."""
    joined = learning_curve_runs(curves, runs)
    summary = summarize(
        joined, ["dataset", "activation", "epoch"], metric, n_resamples=n_resamples, seed=seed
    )
    label = metric.replace("_", " ") + (" (cross-entropy, nats)" if "loss" in metric else "")
    return _facet_intervals(
        summary,
        "epoch",
        xlabel="epoch",
        ylabel=label,
        logy="loss" in metric,
        markers=False,
        col_wrap=col_wrap,
    )


def plot_width_depth_heatmaps(
    runs: pd.DataFrame, *, metric: str = "test_acc", col_wrap: int = 4
) -> Figure:
    """Mean test accuracy (%) over datasets, noises and seeds on a width x depth grid, one heatmap
    per activation, sharing one colour scale (networks with hidden layers)."""
    level = seed_level(hidden(runs), ["activation", "depth", "width"], metric)
    means = level.groupby(["activation", "depth", "width"], as_index=False)[metric].mean()
    means[metric] = 100 * means[metric]
    vmin, vmax = float(means[metric].min()), float(means[metric].max())
    activations = activation_order(means["activation"])
    fig, axes = facet_axes(activations, col_wrap=col_wrap, panel=(2.4, 2.1))
    annotate = means["depth"].nunique() * means["width"].nunique() <= 30
    for ax, activation in zip(axes, activations, strict=True):
        part = means[means["activation"] == activation]
        table = part.pivot_table(index="depth", columns="width", values=metric)
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
# 6. mechanism


def _ax(ax: Axes | None, size=(4.2, 3.0)) -> Axes:
    return ax if ax is not None else plt.figure(figsize=size).add_subplot()


def _against_depth(
    runs: pd.DataFrame, metric: str, ax: Axes | None, n_resamples: int, seed: int
) -> Axes:
    ax = _ax(ax)
    summary = summarize(runs, ["activation", "depth"], metric, n_resamples=n_resamples, seed=seed)
    _draw_intervals(ax, summary, "depth", activation_styles(summary["activation"].unique()))
    depths = np.sort(summary["depth"].unique())
    if 0 < len(depths) <= 8:
        ax.set_xticks(depths)
    ax.set_xlabel(DEPTH_LABEL)
    return ax


def plot_linear_regions(
    runs: pd.DataFrame, ax: Axes | None = None, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Axes:
    """Linear regions of the trained network on the data plane against depth (log scale), per
    piecewise-linear activation; smooth activations have none to count."""
    ax = _against_depth(runs, "linear_regions", ax, n_resamples, seed)
    _log(ax)
    ax.set_ylabel("linear regions (count)")
    return ax


def plot_dead_units(
    runs: pd.DataFrame, ax: Axes | None = None, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Axes:
    """Fraction of hidden units that output 0 on every training point after training, against
    depth, per activation."""
    ax = _against_depth(hidden(runs), "dead_unit_frac", ax, n_resamples, seed)
    _percent(ax)
    ax.set_ylabel("dead hidden units (%)")
    return ax


def plot_grad_norm_init(
    runs: pd.DataFrame, ax: Axes | None = None, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Axes:
    """Gradient norm of the first layer at initialisation against depth (log scale)."""
    ax = _against_depth(hidden(runs), "grad_norm_init_first", ax, n_resamples, seed)
    _log(ax)
    ax.set_ylabel("first-layer gradient norm at init")
    return ax


def _interval_rows(
    ax: Axes, names: Sequence[str], point, low, high, styles: Mapping[str, dict]
) -> None:
    """Horizontal intervals, one row per name, the first at the top."""
    ys = np.arange(len(names))[::-1]
    for y, name, p, lo, hi in zip(ys, names, point, low, high, strict=True):
        style = styles[name]
        ax.plot([lo, hi], [y, y], color=style["color"], linewidth=2.2, solid_capstyle="butt")
        ax.plot([p], [y], marker=style["marker"], color=style["color"], markersize=7,
                markeredgecolor="0.15", markeredgewidth=0.6)  # fmt: skip
    ax.set_yticks(ys, list(names))
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.grid(axis="y", visible=False)


def plot_linear_fit_r2(
    runs: pd.DataFrame, ax: Axes | None = None, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> Axes:
    """R^2 of the best affine fit to the trained network's logits, per activation (networks with
    hidden layers): 1 means the network computes an affine function of its input."""
    ax = _ax(ax)
    summary = summarize(
        hidden(runs), ["activation"], "linear_fit_r2", n_resamples=n_resamples, seed=seed
    )
    summary = summary.set_index("activation").reindex(activation_order(summary["activation"]))
    _interval_rows(
        ax, list(summary.index), summary["mean"], summary["low"].fillna(summary["mean"]),
        summary["high"].fillna(summary["mean"]), activation_styles(summary.index),
    )  # fmt: skip
    ax.set_xlabel("$R^2$ of an affine fit to the logits (1 = linear)")
    return ax


# -----------------------------------------------------------------------------
# 7. ranking


def plot_iqm_ranking(ranking: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """IQM of test accuracy per activation with 95% stratified-bootstrap intervals, best at the
    top. ``ranking`` is a :func:`bench.report.tables.ranking_table`."""
    ax = _ax(ax)
    names = list(ranking["activation"])
    _interval_rows(
        ax, names, ranking["iqm"], ranking["iqm_low"].fillna(ranking["iqm"]),
        ranking["iqm_high"].fillna(ranking["iqm"]), activation_styles(names),
    )  # fmt: skip
    _percent(ax, "x")
    ax.set_xlabel("IQM of " + ACCURACY_LABEL)
    return ax


def plot_probability_of_improvement(ranking: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """P(activation beats the reference) on a random task, with 95% stratified-bootstrap
    intervals; 0.5 means no different. The reference is ``ranking.attrs["reference"]``."""
    ax = _ax(ax)
    reference = ranking.attrs.get("reference", "relu")
    names = list(ranking["activation"])  # the reference keeps its row, so rows match the IQM's
    _interval_rows(
        ax, names, ranking["p_improve"], ranking["p_low"].fillna(ranking["p_improve"]),
        ranking["p_high"].fillna(ranking["p_improve"]), activation_styles(names),
    )  # fmt: skip
    if reference in names:
        y = len(names) - 1 - names.index(reference)
        ax.text(0.52, y, "reference", va="center", ha="left", size=8, color="0.3")
    ax.axvline(0.5, color="0.3", linestyle=":", linewidth=1)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"P(activation > {reference}) (probability)")
    return ax
