"""Why the network without an activation fails, from its own numbers.

Three measured facts, in order: its layers collapse to one affine map (the affine fit to its
outputs has R^2 = 1); trained by cross-entropy on symmetric data, that map is nearly flat (the
training loss stays at ln 2, the predictions near 0.5); and even the accuracy-best straight line
(bench.data.straight_line) is far from what a network with an activation reaches. The ladder
figure puts chance, the linear network, the best straight line, the best activation and the
best possible on one axis, per dataset.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.report.lesson import Lesson
from bench.report.markdown import fmt, pct
from bench.report.plotting import CEILING_STYLE, CHANCE_STYLE, LINE_STYLE, percent_axis
from bench.report.wording import chance_status

LN2 = math.log(2)  # the cross-entropy of predicting 50% for every point of two balanced classes
LADDER_FIGURE = "yardstick_ladder.png"


def probability_range(lesson: Lesson, surfaces: pd.DataFrame | None) -> tuple[float, float]:
    """The lowest and highest probability of class 1 that the control's stored surfaces (its
    runs on the lesson's dataset and noise) give anywhere on the plane; NaN without them."""
    if surfaces is None or surfaces.empty:
        return np.nan, np.nan
    rows = surfaces[surfaces["run_id"].isin(lesson.control_runs["run_id"])]
    if rows.empty:
        return np.nan, np.nan
    values = np.concatenate([np.asarray(p, dtype=float) for p in rows["prob"]])
    return float(values.min()), float(values.max())


def explanation(lesson: Lesson, surfaces: pd.DataFrame | None) -> str:
    """The section's paragraphs, every number from the control's runs (and the lesson's
    yardsticks), each bold lead a fact."""
    runs = lesson.control_runs
    linear, best = lesson.row(lesson.control), lesson.row(lesson.best)
    depths = sorted(runs["depth"].unique())
    widths = sorted(runs["width"].unique())
    where = (
        f"{len(runs)} runs on {lesson.dataset} at noise {fmt(lesson.noise)} (depths "
        f"{_span(depths)}, widths {_span(widths)})"
    )
    r2 = runs["linear_fit_r2"].astype(float)
    fit = (
        "R² = 1.0000 to four decimals in every one"
        if r2.min() >= 0.99995
        else f"R² of at least {r2.min():.4f} in every one"
    )
    parts = [
        "**Its layers collapse to one affine map.** Each layer computes an affine map, Wx + b, "
        "and an affine map of an affine map is again affine: without an activation between "
        "them, any number of layers computes one affine map of the input. Measured: an affine "
        f"map fitted to each trained network's outputs over the input plane has {fit} of its "
        f"{where}: the stack is one map."
    ]
    loss = runs["train_loss"].astype(float)
    low, high = probability_range(lesson, surfaces)
    status = chance_status(linear["mean"], linear["low"], linear.get("chance", np.nan))
    flat = (
        "**On this symmetric data, the best affine map is nearly flat.** Training minimises "
        f"cross-entropy, and on {lesson.dataset} the affine map of least cross-entropy barely "
        f"tilts: those runs end with a training loss between {loss.min():.4f} and "
        f"{loss.max():.4f} nats, where predicting 50% everywhere scores ln 2 = {LN2:.4f}"
    )
    if np.isfinite(low):
        flat += (
            f"; their predicted probability stays between {low:.2f} and {high:.2f} over the "
            "whole plane (the pale middle panel above)"
        )
    flat += (
        f", and they classify {pct(runs['train_acc'].astype(float).mean())} of their own "
        "training points correctly. What tilt there is follows how the training points happened "
        f"to fall, not the shape, so on the test points the {lesson.depth} x {lesson.width} "
        f"network scores {pct(linear['mean'])} [{100 * linear['low']:.1f}, "
        f"{100 * linear['high']:.1f}], {status}."
    )
    parts.append(flat)
    line, bayes = linear.get("line", np.nan), linear.get("bayes", np.nan)
    if np.isfinite(line):
        parts.append(
            "**No straight line is good enough, and training does not find the best one.** "
            "The best straight line (the affine classifier with the most points on their side, "
            "found from a large sample of the dataset's own generator) scores "
            f"{pct(line)} on the same test points: it cuts off the part of the plane where one "
            "class is commoner. Cross-entropy prefers the flat map to that line, so the "
            f"network without an activation stays below it. With {lesson.best}, the same "
            f"network bends its boundary and scores {pct(best['mean'])}, against "
            f"{pct(bayes)} for the best possible (the Bayes rule on the same test points)."
        )
    return "\n\n".join(parts)


def _span(values) -> str:
    values = [fmt(v) for v in values]
    return values[0] if len(values) == 1 else f"{values[0]}–{values[-1]}"


def ladder_caption() -> str:
    return (
        "Each dataset at its lowest noise, on one axis: chance, the network without an "
        "activation, the best straight line, the highest-scoring activation (each network's "
        "mean over every depth and width with hidden layers, with its 95% interval) and the "
        "best possible, all on the same test points. The gap between the best straight line "
        "and the activation is what bending the boundary buys."
    )


def plot_ladder(table: pd.DataFrame, control_style: dict, styles: dict) -> Figure:
    """One row per dataset: yardsticks as ticks, the two networks as points with intervals."""
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(table) + 1.4), layout="constrained")
    ys = np.arange(len(table))[::-1]
    for y, row in zip(ys, table.itertuples(), strict=True):
        for value, style in ((row.chance, CHANCE_STYLE), (row.line, LINE_STYLE),
                             (row.bayes, CEILING_STYLE)):  # fmt: skip
            if np.isfinite(value):  # a solid tick in the yardstick's colour
                ax.plot([value, value], [y - 0.32, y + 0.32], color=style["color"], linewidth=2.6)
        for (mean, low, high), style in (
            ((row.control, row.control_low, row.control_high), control_style),
            ((row.best, row.best_low, row.best_high), styles.get(row.activation, {})),
        ):
            colour = style.get("color", "0.3")
            ax.plot([low, high], [y, y], color=colour, linewidth=2.2, solid_capstyle="butt")
            ax.plot([mean], [y], marker=style.get("marker", "o"), color=colour, markersize=8,
                    markeredgecolor="0.15", markeredgewidth=0.6, linestyle="")  # fmt: skip
        ax.annotate(row.activation, (row.best, y), xytext=(0, 7), textcoords="offset points",
                    ha="center", va="bottom", size=7, color="0.25")  # fmt: skip
    ax.set_yticks(ys, [f"{r.dataset} (noise {fmt(r.noise)})" for r in table.itertuples()])
    ax.set_ylim(-0.7, len(table) - 0.2)
    percent_axis(ax, "x")
    ax.set_xlabel("test accuracy (%)")
    ax.grid(axis="y", visible=False)

    def tick(style: dict, label: str) -> Line2D:
        return Line2D([], [], marker="|", markersize=12, markeredgewidth=2.6, linestyle="",
                      color=style["color"], label=label)  # fmt: skip

    handles = [
        tick(CHANCE_STYLE, "chance"),
        Line2D([], [], marker=control_style.get("marker", "o"), linestyle="",
               color=control_style.get("color", "0.5"), label="no activation"),
        tick(LINE_STYLE, "best straight line"),
        Line2D([], [], marker="o", linestyle="", color="0.3",
               label="highest-scoring activation (named)"),
        tick(CEILING_STYLE, "best possible"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig
