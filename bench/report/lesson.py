"""The lesson: the one setting where the results show best why a network needs an activation.

The rule (stated in the report): among the two-class datasets of the main study, each at its
lowest noise, on raw inputs, the dataset where the highest-scoring network with an activation
is furthest above the network without one (each activation's mean over every depth and width
with hidden layers); there, the seed notebook's network size when the grid has it, else the
median depth and, at that depth, the median width (the decision gallery's choice). Every number
the lead quotes is a mean over the replicates at exactly that setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.grid import notebook
from bench.report.results import levels, with_hidden_layers
from bench.report.support import STRATA
from bench.report.tables import summarize
from bench.report.wording import top_group
from bench.schema import AXES, SEED_AXES

# The axes the rule itself sets (or the replicates); any other is held at its first value.
HELD_BY_RULE = ("dataset", "noise", "activation", "depth", "width", "layers", *SEED_AXES)

RULE = (
    "among the generated two-class datasets (whose best possible is known), each at its lowest noise, on raw inputs, the one where the "
    "highest-scoring network with an activation is furthest above the network without one; "
    "there, the seed notebook's network size if the grid has it, else the median depth and width, "
    "and any other axis at its first value."
)

# What each built-in two-class dataset asks of a boundary, for the lead's first sentence.
DESCRIPTIONS = {
    "circles": "one ring of points inside another",
    "xor": "opposite corners share a class",
    "moons": "two interlocking half circles",
    "blobs": "two separate clouds of points",
    "checkerboard": "a board of alternating squares",
}


@dataclass(frozen=True)
class Lesson:
    dataset: str
    noise: float
    depth: int
    width: int
    control: str  # the network without an activation (the linear control)
    best: str  # the highest-scoring activation at the setting
    tied: tuple[str, ...]  # the activations tied at the top there (best among them)
    at_setting: pd.DataFrame  # activation: mean, low, high, n, chance, line, ceiling, bayes
    runs: pd.DataFrame  # the usable runs at the setting, every activation
    # every usable control run on the dataset at that noise, any depth and width
    control_runs: pd.DataFrame
    ladder: pd.DataFrame  # see `ladder`

    def row(self, activation: str) -> pd.Series:
        return self.at_setting.set_index("activation").loc[activation]

    @property
    def description(self) -> str:
        return DESCRIPTIONS.get(self.dataset, "")


def network_choice(pairs: set[tuple[int, int]]) -> tuple[int, int]:
    """The (depth, width) a figure shows from the ones stored: the seed notebook's when present,
    else the median depth with hidden layers and that depth's median width."""
    setup = notebook.setup()
    if (setup.depth, setup.width) in pairs:
        return setup.depth, setup.width
    depths = sorted({d for d, _ in pairs if d > 0} or {d for d, _ in pairs})
    depth = depths[(len(depths) - 1) // 2]
    widths = sorted({w for d, w in pairs if d == depth})
    return depth, widths[(len(widths) - 1) // 2]


def find_lesson(
    done: pd.DataFrame, control: str | None, affine: frozenset[str], **options
) -> Lesson | None:
    """The lesson of the usable runs ``done`` (with their yardsticks, bench.report.yardsticks),
    by the module's rule; None without a two-class dataset where both kinds of network ran.
    ``options`` go to bench.report.tables.summarize (n_resamples, seed)."""
    if control is None:
        return None
    everything = _hidden_raw(done)
    # the lesson is the plane's: a generated two-class dataset whose best possible is known
    known = (
        np.isfinite(everything["bayes_test"].to_numpy(float))
        if "bayes_test" in everything
        else False
    )
    everything = everything[known]
    runs = everything[pd.to_numeric(everything["n_classes"]) == 2]
    gaps = {}
    for dataset in levels(runs, "dataset"):
        part = runs[runs["dataset"] == dataset]
        part = part[part["noise"] == part["noise"].min()]
        means = part.groupby("activation")["test_acc"].mean()
        others = means.drop([a for a in means.index if a in affine])
        if control in means and len(others):
            gaps[dataset] = (others.max() - means[control], part)
    if not gaps:
        return None
    dataset = max(gaps, key=lambda d: gaps[d][0])  # the first dataset on a tie
    part = gaps[dataset][1]
    nonlinear = part[~part["activation"].isin(affine)]
    both = set(zip(nonlinear["depth"], nonlinear["width"], strict=True)) & set(
        zip(part.loc[part["activation"] == control, "depth"],
            part.loc[part["activation"] == control, "width"], strict=True)
    )  # fmt: skip
    if not both:
        return None
    depth, width = network_choice(both)
    here = part[(part["depth"] == depth) & (part["width"] == width)]
    for axis in AXES:  # every other axis that varies is held at its first value (dim 2, ...)
        if axis not in HELD_BY_RULE and axis in here and here[axis].nunique() > 1:
            here = here[here[axis] == levels(here, axis)[0]]
    at_setting = summarize(here, ["activation"], within=[], **options)
    ranked = at_setting[~at_setting["activation"].isin(affine)]
    top = top_group(ranked)
    if top is None or control not in set(at_setting["activation"]):
        return None
    return Lesson(
        dataset=str(dataset),
        noise=float(part["noise"].min()),
        depth=int(depth),
        width=int(width),
        control=control,
        best=str(top.names[0]),
        tied=tuple(top.names),
        at_setting=at_setting,
        runs=here,
        control_runs=part[part["activation"] == control],
        ladder=ladder(everything, control, affine, **options),
    )


def _hidden_raw(done: pd.DataFrame) -> pd.DataFrame:
    """Classification runs with hidden layers, on raw inputs when the feature map varies."""
    runs = with_hidden_layers(done)
    runs = runs[(runs["depth"] > 0) & (pd.to_numeric(runs["n_classes"]) > 0)]
    for axis, reference in STRATA.items():
        if axis in runs and runs[axis].nunique() > 1:
            runs = runs[runs[axis] == reference(levels(runs, axis))]
    return runs


LADDER_COLUMNS = ["dataset", "noise", "chance", "control", "control_low", "control_high", "line",
                  "activation", "best", "best_low", "best_high", "bayes"]  # fmt: skip


def ladder(runs: pd.DataFrame, control: str, affine: frozenset[str], **options) -> pd.DataFrame:
    """Per dataset at its lowest noise, the scores on one axis, all on the same test points:
    chance, the network without an activation, the best straight line, the highest-scoring
    activation (mean over depths and widths, with its interval) and the best possible."""
    rows = []
    for dataset in levels(runs, "dataset"):
        part = runs[runs["dataset"] == dataset]
        part = part[part["noise"] == part["noise"].min()]
        table = summarize(part, ["activation"], within=[], **options).set_index("activation")
        others = table.drop([a for a in table.index if a in affine])
        if control not in table.index or others.empty:
            continue
        linear, top = table.loc[control], others.sort_values("mean", ascending=False).iloc[0]
        rows.append((dataset, float(part["noise"].min()), linear.get("chance", np.nan),
                     linear["mean"], linear["low"], linear["high"], linear.get("line", np.nan),
                     top.name, top["mean"], top["low"], top["high"],
                     linear.get("bayes", np.nan)))  # fmt: skip
    return pd.DataFrame(rows, columns=LADDER_COLUMNS)


def line_gap_closed(lesson: Lesson) -> float:
    """How far the best activation goes beyond the best straight line, as a share of the way
    from the line to the best possible (1: all of it); NaN without both yardsticks."""
    best = lesson.row(lesson.best)
    line, bayes = best.get("line", np.nan), best.get("bayes", np.nan)
    if not (np.isfinite(line) and np.isfinite(bayes)) or bayes <= line:
        return np.nan
    return float((best["mean"] - line) / (bayes - line))
