"""card.png: one page, drawn from tables computed beforehand (bench.card.verdict and
`depth_tables`); nothing here decides a word.

    top row     test accuracy by depth with the best possible (Bayes rule, same test points);
                gradient norm at initialisation by depth; dead units by depth; learning speed
    bottom row  decision surfaces on circles and spirals: the candidate beside relu
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.report.gallery import draw_surface  # noqa: E402
from bench.report.plotting import activation_styles  # noqa: E402
from bench.report.results import with_hidden_layers  # noqa: E402
from bench.report.tables import summarize  # noqa: E402

SURFACE_DATASETS = ("circles", "spirals")
DEPTH_METRICS = {
    "test_acc": "test accuracy",
    "grad_norm_init_first": "first layer's gradient norm at init",
    "dead_unit_frac": "dead units after training",
}


def depth_tables(runs: pd.DataFrame, n_resamples: int = 1000) -> dict[str, pd.DataFrame]:
    """Per DEPTH_METRICS: mean with interval per depth and activation (compared within each
    depth, on common support), over the classification runs with hidden layers."""
    runs = with_hidden_layers(runs)
    return {
        metric: summarize(
            runs, ["depth", "activation"], metric, within=["depth"], n_resamples=n_resamples
        )  # fmt: skip
        for metric in DEPTH_METRICS
    }


def mean_curves(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy per activation and epoch over the usable classification runs with
    hidden layers (every activation has the same settings: the protocol's)."""
    runs = with_hidden_layers(runs)
    runs = runs[~runs["failed"] & ~runs["diverged"]]
    merged = curves.merge(runs[["run_id", "activation"]], on="run_id")
    return merged.groupby(["activation", "epoch"], sort=True)["test_acc"].mean().reset_index()


def _lines(ax, table: pd.DataFrame, x: str, styles: dict, candidate: str) -> None:
    for activation, style in styles.items():
        rows = table[table["activation"] == activation].sort_values(x)
        if rows.empty:
            continue
        width = 2.6 if activation == candidate else 1.2
        ax.plot(rows[x], rows["mean"], label=activation, lw=width, ms=4, **style)
        if "low" in rows:
            ax.fill_between(rows[x], rows["low"], rows["high"], color=style["color"], alpha=0.15)


def draw_card(
    candidate: str,
    tables: dict[str, pd.DataFrame],
    curves: pd.DataFrame,
    surfaces: pd.DataFrame | None,
    activations: Sequence[str],
    affine: Sequence[str],
    title: str,
) -> Figure:
    """The one-page figure; `tables` from depth_tables, `curves` from mean_curves."""
    styles = activation_styles(activations, affine)
    fig, axes = plt.subplots(2, 4, figsize=(16, 8), layout="constrained")
    fig.suptitle(title, fontsize=11)

    ax = axes[0, 0]
    accuracy = tables["test_acc"]
    _lines(ax, accuracy, "depth", styles, candidate)
    if "bayes" in accuracy and len(accuracy):
        best = accuracy.groupby("depth")["bayes"].mean()
        ax.plot(best.index, best.to_numpy(), color="k", ls=":", lw=1.2, label="best possible")
    ax.set_title("test accuracy by depth (mean, 95% interval)")
    for ax, metric in ((axes[0, 1], "grad_norm_init_first"), (axes[0, 2], "dead_unit_frac")):
        _lines(ax, tables[metric], "depth", styles, candidate)
        ax.set_title(DEPTH_METRICS[metric])
    axes[0, 1].set_yscale("log")
    for ax in axes[0, :3]:
        ax.set_xscale("log", base=2)
        depths = sorted(accuracy["depth"].unique()) if len(accuracy) else []
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlabel("hidden layers")
    ax = axes[0, 3]
    _lines(ax, curves.rename(columns={"test_acc": "mean"}), "epoch", styles, candidate)
    ax.set_title("learning speed: mean test accuracy")
    ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7, loc="lower left")

    for j, (dataset, who) in enumerate(
        (d, a) for d in SURFACE_DATASETS for a in dict.fromkeys((candidate, "relu"))
    ):
        if j >= 4:
            break
        _surface(axes[1, j], surfaces, dataset, who)
    for ax in axes[1, len(SURFACE_DATASETS) * len(dict.fromkeys((candidate, "relu"))) :]:
        ax.axis("off")
    return fig


def _surface(ax, surfaces: pd.DataFrame | None, dataset: str, activation: str) -> None:
    """The stored surface of (dataset, activation) at the lowest noise, depth 2 if stored (else
    the shallowest), the widest width."""
    ax.set_xticks([])
    ax.set_yticks([])
    rows = None
    if surfaces is not None and len(surfaces):
        rows = surfaces[(surfaces["dataset"] == dataset) & (surfaces["activation"] == activation)]
    if rows is None or rows.empty:
        ax.set_title(f"{dataset}: {activation}")
        ax.text(0.5, 0.5, "not stored", ha="center", va="center", color="0.5")
        return
    depth = 2 if (rows["depth"] == 2).any() else rows["depth"].min()
    rows = rows[rows["depth"] == depth]
    rows = rows[rows["noise"] == rows["noise"].min()]
    row = rows[rows["width"] == rows["width"].max()].iloc[0]
    n_classes = max(int(np.max(row["pred"])) + 1, 2)
    draw_surface(ax, row, n_classes)
    ax.set_title(
        f"{dataset}: {activation} (depth {depth}, width {row['width']}, noise {row['noise']:g})",
        fontsize=8,
    )
