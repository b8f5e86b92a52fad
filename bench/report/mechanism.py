"""The mechanism figure: how the activations differ inside the network (linear regions, how
affine the trained network is, dead units, the gradient reaching the first layer), each panel
from its own summary on common support, with the numbers drawn written as a table."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd

from bench.report import figures
from bench.report.figure_kit import Built, Inputs, Skip
from bench.report.markdown import note
from bench.report.notice import regions_notice
from bench.report.plotting import activation_legend, legend_handles
from bench.report.results import levels, with_hidden_layers
from bench.report.summaries import Summaries
from bench.report.tables import cell
from bench.report.wording import top_group, top_phrase

PANEL = (4.2, 3.0)  # one mechanism panel's (width, height) in inches
LEGEND_WIDTH = 1.4  # inches kept right of the panels for the legend


REGIONS_UNDEFINED = (
    "no count for {names}: only piecewise-linear activations have countable linear regions"
)


def _mechanism_panels(inputs: Inputs) -> tuple[list[tuple[Callable, str]], list[str]]:
    """The mechanism panels the results can fill (a drawing function, a caption phrase), and
    the phrases of those they cannot."""
    s, runs, styles = inputs.summaries, inputs.runs, inputs.styles
    several_depths = len(levels(runs, "depth")) > 1
    several_hidden_depths = len(levels(with_hidden_layers(runs), "depth")) > 1
    counted = set(s.linear_regions.dropna(subset=["mean"])["activation"])
    smooth = [a for a in levels(with_hidden_layers(runs), "activation") if a not in counted]
    undefined = REGIONS_UNDEFINED.format(names=", ".join(smooth)) if smooth else ""
    candidates = [
        (
            not s.linear_regions.empty and several_depths,
            lambda ax: figures.plot_against_depth(
                s.linear_regions,
                ax,
                ylabel="linear regions (count)",
                scale="log",
                styles=styles,
                title="Linear regions on the input plane",
                undefined=undefined,
            ),  # fmt: skip
            "linear regions against depth (log scale)" + (f"; {undefined}" if undefined else ""),
            "linear regions against depth",
        ),
        (
            not s.linear_fit_r2.empty,
            lambda ax: figures.plot_linear_fit_r2(s.linear_fit_r2, ax, styles=styles),
            "the $R^2$ of an affine fit to the logits",
            "linear-fit $R^2$",
        ),
        (
            not s.dead_units.empty and several_hidden_depths,
            lambda ax: figures.plot_against_depth(
                s.dead_units,
                ax,
                ylabel="dead hidden units (%)",
                scale="percent",
                styles=styles,
                title="Hidden units never active after training",
            ),  # fmt: skip
            "dead hidden units after training against depth",
            "dead hidden units after training against depth",
        ),
        (
            not s.grad_norm.empty and several_hidden_depths,
            lambda ax: figures.plot_against_depth(
                s.grad_norm,
                ax,
                ylabel="first-layer gradient norm at init",
                scale="log",
                styles=styles,
                title="Gradient reaching the first layer at initialisation",
            ),  # fmt: skip
            "first-layer gradient norm at initialisation (log scale) against depth",
            "first-layer gradient norm at initialisation (log scale) against depth",
        ),
    ]
    drawn = [(draw, text) for fits, draw, text, _ in candidates if fits]
    missing = [name for fits, _, _, name in candidates if not fits]
    return drawn, missing


def build(inputs: Inputs) -> Built:
    s = inputs.summaries
    panels, skipped = _mechanism_panels(inputs)
    if not panels:
        raise Skip("the results have none of the mechanism measures across depths.")
    ncols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + 1) // 2
    width = PANEL[0] * ncols + LEGEND_WIDTH
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, PANEL[1] * nrows), squeeze=False)
    for ax, (draw, _) in zip(axes.flat, panels, strict=False):
        draw(ax)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    activation_legend(fig, legend_handles(inputs.styles), loc="center right")
    fig.tight_layout(rect=(0, 0, 1 - (LEGEND_WIDTH - 0.1) / width, 1))
    caption = (
        "How the activations differ inside the network, mean over replicates with 95% "
        "intervals: "
        + "; ".join(text for _, text in panels)
        + ". "
        + " ".join(
            f"{name.capitalize()}: {note(frame, intervals=False)}"
            for name, frame in _mechanism_frames(s).items()
        )
    )
    r2 = s.linear_fit_r2
    linear = cell(r2, activation=s.control)
    nonlinear = r2[~r2["activation"].isin(s.affine)]
    least = top_group(nonlinear, highest=False)
    if linear is not None and least is not None:
        caption += (
            f" Without an activation the affine fit explains {linear['mean']:.3f} of the logits' "
            "variance; of the others, "
            + top_phrase(least, lambda row: f"{row['mean']:.3f}", "the least affine")
            + "."
        )
    if skipped:
        caption += " Not drawn, for lack of data or of a depth axis: " + "; ".join(skipped) + "."
    return Built(fig, caption, text=regions_notice(s.linear_regions, s.control),
                 data=mechanism_table(s))  # fmt: skip


def _mechanism_frames(s: Summaries) -> dict[str, pd.DataFrame]:
    frames = {
        "linear regions": s.linear_regions,
        "linear-fit R^2": s.linear_fit_r2,
        "dead units": s.dead_units,
        "gradient at init": s.grad_norm,
    }
    return {name: frame for name, frame in frames.items() if len(frame)}


def mechanism_table(s: Summaries) -> pd.DataFrame:
    """The mechanism figure's numbers, one row per measure, activation and depth."""
    parts = [frame.assign(measure=name) for name, frame in _mechanism_frames(s).items()]
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True)
    first = ["measure", "activation", *(["depth"] if "depth" in table else [])]
    return table[first + [c for c in table.columns if c not in first]]
