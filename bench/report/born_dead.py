"""Networks born dead: the share of networks whose output is the same for every input at
initialisation (runs.born_dead), against depth, beside what theory bounds it by.

A ReLU unit is inactive at an input when its pre-activation is negative. With weights and
biases drawn from symmetric distributions (every built-in initialisation), each unit of a layer
is inactive at a given input with probability 1/2, independently of the others, so the whole
layer of N units is dead there with probability 2^-N, and a network of L hidden layers is dead
at that input with probability

    P(L, N) = 1 - (1 - 2^-N)^L

(Lu, Shin, Su & Karniadakis, "Dying ReLU and Initialization: Theory and Numerical Examples",
2019/2020: a deep ReLU network dies in probability as its depth grows). A network born dead
on the whole data is dead at each of its inputs, so P(L, N) bounds the measured share from
above; the two meet as the data shrink to one point. Activations that are never exactly zero
on an interval (leaky_relu, elu, tanh) cannot die this way: their share is zero.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.stats
from matplotlib.lines import Line2D

from bench.report.figure_kit import Built, Inputs, Skip
from bench.report.markdown import fmt, note, pct_ci
from bench.report.plotting import (
    CEILING_STYLE,
    activation_legend,
    draw_intervals,
    facet_axes,
    legend_handles,
    percent_axis,
)
from bench.report.results import levels, with_hidden_layers
from bench.report.tables import summarize

METRIC = "born_dead"
BOUND_STYLE = {**CEILING_STYLE, "color": "0.1"}


def measured(runs: pd.DataFrame) -> bool:
    """Whether the runs record born_dead and some network with hidden layers was born dead."""
    if METRIC not in runs:
        return False
    values = pd.to_numeric(with_hidden_layers(runs)[METRIC], errors="coerce")
    return bool((values > 0).any())


def bound(depth: float, width: float) -> float:
    """P(L, N): the probability that a ReLU network of ``depth`` hidden layers of ``width``
    units is dead at one given input at initialisation (module docstring)."""
    return 1.0 - (1.0 - 0.5**width) ** depth


def shares(runs: pd.DataFrame, n_resamples: int, seed: int) -> pd.DataFrame:
    """Share born dead per width, activation and depth (mean, low, high, n over replicates, on
    common support), with the ReLU bound P(L, N) of each width and depth."""
    frame = runs.assign(born_dead=runs[METRIC].astype(float))
    summary = summarize(
        frame, ["width", "activation", "depth"], METRIC, within=["width"],
        where=with_hidden_layers, n_resamples=n_resamples, seed=seed,
    )  # fmt: skip
    summary["bound"] = [bound(r.depth, r.width) for r in summary.itertuples()]
    return summary


def plot_shares(table: pd.DataFrame, styles: dict) -> plt.Figure:
    """Share born dead against depth, a panel per width, a line per activation; ReLU's bound
    P(L, N) dash-dotted."""
    widths = levels(table, "width")
    fig, axes = facet_axes([f"width {fmt(w)}" for w in widths], col_wrap=4, sharey=True)
    shown = {a: styles[a] for a in levels(table, "activation") if a in styles}
    for ax, width in zip(axes, widths, strict=True):
        part = table[table["width"] == width]
        draw_intervals(ax, part, "depth", shown)
        depths = np.array(sorted(part["depth"].unique()), dtype=float)
        ax.plot(depths, [bound(d, width) for d in depths], **BOUND_STYLE)
        percent_axis(ax)
        ax.set_ylim(-0.03, 1.03)
    fig.supxlabel("depth (hidden layers)", fontsize=plt.rcParams["axes.labelsize"])
    fig.supylabel("networks born dead (%)", fontsize=plt.rcParams["axes.labelsize"])
    handles = legend_handles(shown)
    handles["relu bound"] = Line2D([], [], **BOUND_STYLE)
    activation_legend(fig, handles, loc="outside right center", frameon=False)
    return fig


def build(inputs: Inputs) -> Built:
    runs = inputs.runs
    if METRIC not in runs or runs[METRIC].isna().all():
        raise Skip("the runs have no born_dead column (results from before it existed).")
    if len(levels(with_hidden_layers(runs), "depth")) < 2:
        raise Skip("the grid has a single depth, so there is no trend to show.")
    table = shares(runs, inputs.n_resamples, inputs.seed)
    if table["mean"].max() == 0:
        raise Skip("no network of this grid was born dead (the widths are too large).")
    figure = plot_shares(table, inputs.styles)
    caption = (
        "Share of networks born dead (some hidden layer outputs zero for every unit and "
        "training input at initialisation, so the output is the same everywhere), one panel "
        "per width, mean over replicates with 95% intervals; the "
        "dash-dotted line is ReLU's bound 1 - (1 - 2^-N)^L (Lu et al. 2019): the chance "
        f"that the network is dead at one given input. {note(table)}"
    )
    return Built(figure, caption, _verdicts(table), data=table)


def _above_bound(part: pd.DataFrame) -> pd.DataFrame:
    """The settings whose count born dead is improbably high under the bound: a one-sided
    binomial test at 5% (an all-dead cell of 40 runs is no evidence against a 99% bound)."""
    counts = (part["mean"] * part["n"]).round().astype(int)
    p = [
        scipy.stats.binomtest(int(k), int(n), min(float(b), 1.0), alternative="greater").pvalue
        for k, n, b in zip(counts, part["n"], part["bound"], strict=True)
    ]
    return part[np.asarray(p) < 0.05]


def _verdicts(table: pd.DataFrame) -> str:
    """One sentence per activation: does the share rise with depth, stay under the bound, stay
    at zero."""
    sentences = []
    for activation, part in table.groupby("activation", sort=False):
        narrow = part[part["width"] <= 4]
        if narrow.empty:
            continue
        rising = all(
            np.all(np.diff(g.sort_values("depth")["mean"].to_numpy()) >= -0.05)
            for _, g in narrow.groupby("width")
        )
        deepest = narrow[narrow["depth"] == narrow["depth"].max()].sort_values("width")
        quoted = "; ".join(
            f"width {fmt(r.width)}: {pct_ci(r._asdict())}" for r in deepest.itertuples()
        )
        if (part["mean"] == 0).all():
            sentences.append(f"No {activation} network was born dead ({quoted} at depth "
                             f"{fmt(deepest['depth'].iloc[0])}).")  # fmt: skip
            continue
        over = _above_bound(part) if activation == "relu" else part.iloc[0:0]
        text = (
            f"{activation}: the share born dead {'rises' if rising else 'does not rise'} with "
            f"depth at widths up to 4 ({quoted} at depth {fmt(deepest['depth'].iloc[0])})"
        )
        if activation == "relu":
            text += (
                "; no setting is above the one-input bound (one-sided binomial test, 5%)"
                if over.empty
                else f"; above the bound at {len(over)} settings (one-sided binomial test, 5%), "
                "which the theory does not allow"
            )
        sentences.append(text + ".")
    return " ".join(sentences)


SECTION = ("born_dead.png", "Networks born dead", build)
