"""Figure 1, the decision-surface gallery: which stored surfaces to show, and how to draw them.

Each surfaces.parquet row carries its surface on a square grid and the run's test points in the
same plane (``test_x``, ``test_y``, ``test_label``); ``plane`` says whether that plane is the
input (two features) or the data's first two principal components. Nothing is regenerated here.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bench import colors
from bench.grid import notebook
from bench.report.results import activation_order, dataset_order, levels
from bench.report.support import STRATA

PLANE_LABELS = {
    "input": ("input feature $x_1$ (data units)", "input feature $x_2$ (data units)"),
    "pca": ("principal component 1 (of the training inputs)", "principal component 2"),
    "line": ("input feature $x_1$ (data units)", "(one feature: no second axis)"),
}
FEW_DATASETS = 4  # with fewer columns than this, the panels are drawn larger
CORNER_BOX = {"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1}


def select_gallery(surfaces: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One surface per (activation, dataset), with its run's axes and metrics added.

    Raw inputs only when the feature map varies (a stratum, bench.report.support.STRATA). Per
    activation: the seed notebook's depth and width when it has them
    stored, else its median depth (of those with hidden layers) and that depth's median width,
    so a stack, whose depth and width are its own, still gets its row; per dataset the lowest
    noise; the lowest seed. Returns the rows and the choice: ``{"depth": {activation: depth},
    "width": {activation: width}, "noise": {dataset: noise}}``.
    """
    extra = [c for c in runs.columns if c not in surfaces.columns or c == "run_id"]
    table = surfaces.merge(runs[extra], on="run_id", how="inner")
    for axis, reference in STRATA.items():
        if axis in table and table[axis].nunique() > 1:
            table = table[table[axis] == reference(levels(table, axis))]
    if table.empty:
        return table, {}
    preferred = (notebook.setup().depth, notebook.setup().width)
    chosen, depths, widths = [], {}, {}
    for activation, part in table.groupby("activation", sort=False):
        pairs = set(zip(part["depth"], part["width"], strict=True))
        if preferred in pairs:
            depth, width = preferred
        else:
            options = sorted({d for d, _ in pairs if d > 0} or {d for d, _ in pairs})
            depth = options[(len(options) - 1) // 2]
            sizes = sorted({w for d, w in pairs if d == depth})
            width = sizes[(len(sizes) - 1) // 2]
        depths[activation], widths[activation] = depth, width
        chosen.append(part[(part["depth"] == depth) & (part["width"] == width)])
    table = pd.concat(chosen)
    noise = table.groupby("dataset")["noise"].min()
    table = table[table["noise"].to_numpy() == table["dataset"].map(noise).to_numpy()]
    # a usable run's surface first: a diverged one is shown only when no seed trained
    order = ["diverged", "seed"] if "diverged" in table else ["seed"]
    table = table.sort_values(order, kind="stable").drop_duplicates(["activation", "dataset"])
    # each panel's setting averaged over its replicates: one stored surface may be a stuck seed
    keys = [k for k in ("dataset", "noise", "activation", "depth", "width", "features")
            if k in table and k in runs]  # fmt: skip
    done = runs[(runs["error"] == "") & ~runs["diverged"]] if "error" in runs else runs
    means = done.groupby(keys)["test_acc"].mean().rename("cell_mean").reset_index()
    table = table.merge(means, on=keys, how="left")
    return table, {"depth": depths, "width": widths, "noise": noise.to_dict()}


def _class_colours(n_classes: int) -> list:
    return [to_rgb(c) for c in colors.class_colours(n_classes)]


def _two_class_cmap() -> LinearSegmentedColormap:
    return LinearSegmentedColormap.from_list("classes", colors.two_class_stops())


def draw_surface(ax: Axes, row: pd.Series, n_classes: int) -> None:
    resolution = int(row["resolution"])
    extent = (row["x_min"], row["x_max"], row["y_min"], row["y_max"])
    prob = np.asarray(row["prob"], dtype=float).reshape(resolution, resolution)  # [iy, ix]
    colours = _class_colours(n_classes)
    if n_classes <= 2:
        xs = np.linspace(extent[0], extent[1], resolution)
        ys = np.linspace(extent[2], extent[3], resolution)
        ax.contourf(
            xs, ys, prob, levels=np.linspace(0, 1, 11), cmap=_two_class_cmap(), vmin=0, vmax=1
        )
        if prob.min() < 0.5 < prob.max():
            ax.contour(xs, ys, prob, levels=[0.5], colors="0.15", linewidths=0.8)
    else:
        # predicted class as colour, confidence (max probability) as saturation: from 20% of the
        # class colour where the model is at chance to 80% where it is sure
        pred = np.asarray(row["pred"], dtype=int).reshape(resolution, resolution)
        strength = np.clip((prob - 1 / n_classes) / (1 - 1 / n_classes), 0, 1)[..., None]
        rgb = np.asarray(colours)[np.clip(pred, 0, n_classes - 1)]
        low, high = colors.MULTICLASS_SHADE
        image = 1 - (low + (high - low) * strength) * (1 - rgb)
        ax.imshow(image, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    labels = np.asarray(row["test_label"], dtype=int)
    ax.scatter(
        np.asarray(row["test_x"], dtype=float),
        np.asarray(row["test_y"], dtype=float),
        c=[colours[k % len(colours)] for k in labels],
        s=6,
        edgecolors="0.1",
        linewidths=0.35,
    )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    if row.get("plane", "input") in ("input", "pca"):  # both axes in the same units: circles
        ax.set_aspect("equal")  # are drawn round


def plot_decision_gallery(
    surfaces: pd.DataFrame,
    *,
    activations: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    panel_size: float = 1.35,
) -> Figure:
    """Decision surfaces: activations as rows, datasets as columns, test points on top.

    ``surfaces`` holds surfaces.parquet rows, one per (activation, dataset) (the first is drawn if
    there are more); optional columns ``n_classes`` (default: inferred from ``pred``) and
    ``test_acc`` (printed in the corner). Two classes: the probability of class 1 with the 50%
    contour; more: the predicted class, paler where the model is less sure. ``panel_size`` is a
    panel's side in inches.
    """
    activations = list(activations or activation_order(surfaces["activation"]))
    datasets = list(datasets or dataset_order(surfaces["dataset"]))
    if len(datasets) < FEW_DATASETS:
        panel_size = max(panel_size, 2.0)
    # Equal axes: each column as wide as its plane's extent is, for panels of one height.
    extents = surfaces.drop_duplicates("dataset").set_index("dataset")
    ratios = [
        float(np.clip((extents.at[d, "x_max"] - extents.at[d, "x_min"])
                      / (extents.at[d, "y_max"] - extents.at[d, "y_min"]), 0.5, 2.5))
        if {"x_min", "x_max", "y_min", "y_max"} <= set(extents.columns) else 1.0
        for d in datasets
    ]  # fmt: skip
    fig, axes = plt.subplots(
        len(activations),
        len(datasets),
        figsize=(panel_size * sum(ratios) + 2.4, 0.9 * panel_size * len(activations) + 0.6),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": ratios},
    )
    first = surfaces.drop_duplicates(["activation", "dataset"]).set_index(["activation", "dataset"])
    planes = surfaces.drop_duplicates("dataset").set_index("dataset")["plane"]
    mixed = planes.nunique() > 1
    any_binary, most_classes = False, 0
    for i, activation in enumerate(activations):
        for j, dataset in enumerate(datasets):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:  # a column's title; "(PCA)" where its plane is not the input's
                pca = mixed and planes.get(dataset) == "pca"
                ax.set_title(f"{dataset} (PCA)" if pca else dataset)
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
            most_classes = max(most_classes, n_classes)
            draw_surface(ax, row, n_classes)
            if np.isfinite(row.get("test_acc", np.nan)):
                ax.text(
                    0.03, 0.97, corner_text(row), transform=ax.transAxes,
                    ha="left", va="top", size=7, bbox=CORNER_BOX,
                )  # fmt: skip
    xlabel, ylabel = _plane_labels(surfaces["plane"])
    fig.supxlabel(xlabel, fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel(ylabel, fontsize=plt.rcParams["axes.labelsize"])
    if any_binary:
        mappable = plt.cm.ScalarMappable(cmap=_two_class_cmap(), norm=plt.Normalize(0, 1))
        label = "P(class 1)" + (", two-class panels" if most_classes > 2 else "")
        fig.colorbar(mappable, ax=axes, shrink=0.5, aspect=30, label=label)
    if most_classes > 2:  # the class key: shading (predicted) and points (true) share colours
        colours = _class_colours(most_classes)
        handles = [Patch(color=c, label=f"class {k}") for k, c in enumerate(colours)]
        fig.legend(
            handles=handles, title="class (shade: predicted,\npoints: true)",
            loc="outside right lower", frameon=False,
        )  # fmt: skip
    return fig


UNREPRESENTATIVE = 0.05  # a panel's run this far from its setting's mean says so in its corner


def corner_text(row: pd.Series) -> str:
    """'97%', or '55% (mean 93%)' when the run drawn is far from its setting's replicates."""
    text = f"{100 * row['test_acc']:.0f}%"
    mean = row.get("cell_mean", np.nan)
    if np.isfinite(mean) and abs(mean - row["test_acc"]) > UNREPRESENTATIVE:
        text += f" (mean {100 * mean:.0f}%)"
    return text


def _plane_labels(planes: pd.Series) -> tuple[str, str]:
    """The shared axis labels: the plane's, or both kinds when the datasets differ."""
    kinds = [p for p in PLANE_LABELS if p in set(planes)]
    if len(kinds) == 1:
        return PLANE_LABELS[kinds[0]]
    return tuple(
        f"{PLANE_LABELS['input'][k]}; (PCA) columns: {PLANE_LABELS['pca'][k]}" for k in (0, 1)
    )
