"""The report's first screen: the lesson in a few plain sentences and one picture.

Each sentence is short, quotes at most one number and no interval; the details, with their
intervals, follow in the report. The numbers are the lesson's (bench.report.lesson): means over
the replicates at exactly the setting the sentences name.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench import colors
from bench.report.gallery import CORNER_BOX, draw_surface
from bench.report.lesson import Lesson
from bench.report.markdown import fmt, pct
from bench.report.wording import chance_status

FIGURE = "lesson.png"
PANEL_INCHES = 3.2  # each square panel's side


def lead_sentences(lesson: Lesson) -> list[str]:
    """Three to four sentences: the linear network, the best activation, why, and the
    yardstick."""
    linear, best = lesson.row(lesson.control), lesson.row(lesson.best)
    layers = f"{lesson.depth} hidden layer{'s' if lesson.depth != 1 else ''}"
    network = f"a network with {layers} of {lesson.width} units"
    about = f" ({lesson.description})" if lesson.description else ""
    status = chance_status(linear["mean"], linear["low"], linear.get("chance", np.nan))
    sentences = [
        f"Without an activation function, {network} scores {pct(linear['mean'])} on "
        f"{lesson.dataset}{about}, {status}.",
        f"With {lesson.best} after each hidden layer, the same network scores "
        f"{pct(best['mean'])}"
        + (", one of the activations tied at the top." if len(lesson.tied) > 1 else "."),
        "Without an activation the layers multiply out to one affine map, so the network can "
        "only draw a straight boundary.",
    ]
    line = best.get("line", np.nan)
    if np.isfinite(line):
        sentences.append(
            f"No straight line can do much: the best one scores {pct(line)} on the same test "
            "points, so the activation's bend is what learns the shape."
        )
    return sentences


def lead_caption(lesson: Lesson) -> str:
    return (
        f"{lesson.dataset} at noise {fmt(lesson.noise)}: the test points of one data sample "
        f"(left), and the decision surface of one trained network without an activation "
        f"(middle) and with {lesson.best} (right), {lesson.depth} x {lesson.width}, shaded by "
        "the predicted probability of the orange class, with the 50% boundary in black; each "
        "corner gives that network's test accuracy."
    )


def lead_surfaces(lesson: Lesson, surfaces: pd.DataFrame | None) -> pd.DataFrame | None:
    """The stored surfaces of the control and the best activation at the lesson's setting, one
    each (the lowest data sample and seed), with their runs' test accuracy; None if either is
    missing."""
    if surfaces is None or surfaces.empty:
        return None
    runs = lesson.runs.set_index("run_id")
    rows = surfaces[surfaces["run_id"].isin(runs.index)]
    rows = rows[rows["activation"].isin([lesson.control, lesson.best])].copy()
    for column in ("test_acc", "data_seed", "seed"):
        rows[column] = rows["run_id"].map(runs[column])
    rows = rows.sort_values(["data_seed", "seed"], kind="stable").drop_duplicates("activation")
    if len(rows) < 2:
        return None
    return rows.set_index("activation").loc[[lesson.control, lesson.best]].reset_index()


def plot_lead(lesson: Lesson, rows: pd.DataFrame) -> Figure:
    """Three square panels on equal axes: the data, the linear network, the best activation."""
    fig, axes = plt.subplots(
        1, 3, figsize=(3 * PANEL_INCHES + 0.4, PANEL_INCHES + 0.5), layout="constrained"
    )
    first = rows.iloc[0]
    extent = (first["x_min"], first["x_max"], first["y_min"], first["y_max"])
    labels = np.asarray(first["test_label"], dtype=int)
    class_colours = colors.class_colours(2)
    axes[0].scatter(
        np.asarray(first["test_x"], dtype=float), np.asarray(first["test_y"], dtype=float),
        c=[class_colours[k] for k in labels], s=10, edgecolors="0.1", linewidths=0.4,
    )  # fmt: skip
    axes[0].set_title(f"the data: {lesson.dataset}")
    titles = {lesson.control: "no activation", lesson.best: f"with {lesson.best}"}
    for ax, (_, row) in zip(axes[1:], rows.iterrows(), strict=True):
        draw_surface(ax, row, 2)
        ax.set_title(titles[row["activation"]])
        ax.text(0.03, 0.97, f"{100 * row['test_acc']:.0f}%", transform=ax.transAxes,
                ha="left", va="top", size=9, bbox=CORNER_BOX)  # fmt: skip
    for ax in axes:
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.grid(False)
    axes[0].set_ylabel("$x_2$")
    return fig
