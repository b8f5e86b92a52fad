""" "What to notice": one sentence under a figure, computed from that figure's numbers, naming
the surprise where there is one. Every trend word is decided by a paired interval over
replicates (bench.report.tables.paired_change): a change is named only when its 95% interval
excludes zero, and otherwise called "no clear change"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.markdown import fmt
from bench.report.results import levels
from bench.report.tables import cell, paired_change
from bench.report.wording import AT_CHANCE

LEAD = "**What to notice:** "
DEAD_AT_ALL = 0.005  # below this share of dead units, an activation has none to speak of


def _points(row: pd.Series) -> str:
    """'11.7 points [8.2, 15.0]' from a fall row (fractions)."""
    return f"{100 * row['mean']:.1f} points [{100 * row['low']:.1f}, {100 * row['high']:.1f}]"


def depth_notice(s, **options) -> str:
    """The network without an activation is the same at every depth; the largest clear fall
    with depth among the activations, with where its dead units go and at which widths."""
    summary = s.by_dataset_depth
    if summary.empty or s.control is None:
        return ""
    runs = summary.attrs["selection"].runs
    depths = sorted(d for d in levels(runs, "depth") if d > 0)
    if len(depths) < 2:
        return ""
    first, last = depths[0], depths[-1]
    control = summary[(summary["activation"] == s.control) & (summary["depth"] > 0)]
    spread = control.groupby("dataset")["mean"].agg(lambda m: m.max() - m.min()).max()
    text = (
        f"{LEAD}the network without an activation scores the same at every depth (its means "
        f"differ by at most {100 * spread:.1f} points across depths {fmt(first)}–{fmt(last)} on "
        "any dataset): more layers add nothing to one affine map."
    )
    nonlinear = runs[~runs["activation"].isin(s.affine) & (runs["depth"] > 0)]
    falls = paired_change(nonlinear, ["dataset", "activation"], "depth", first, last, **options)
    clear = falls[falls["low"] > 0].sort_values("mean", ascending=False)
    if clear.empty:
        return text + f" No activation falls clearly from depth {fmt(first)} to {fmt(last)}."
    named = [clear.iloc[0]]
    relu = clear[clear["activation"] == "relu"]
    if len(relu) and named[0]["activation"] != "relu":
        named.append(relu.iloc[0])  # the classic activation's fall, with its dead units
    for k, row in enumerate(named):
        name, dataset = row["activation"], row["dataset"]
        at = {d: cell(summary, dataset=dataset, activation=name, depth=d) for d in (first, last)}
        text += (
            (" The surprise: " if k == 0 else " And ")
            + f"{name} falls with depth on {dataset}, from {100 * at[first]['mean']:.1f}% at "
            f"depth {fmt(first)} to {100 * at[last]['mean']:.1f}% at depth {fmt(last)} (paired "
            f"by replicate: {_points(row)})"
        )
        text += _dead_units(nonlinear, name, first, last, **options)
        text += _widths(nonlinear, name, dataset, first, last, **options) + "."
    return text


def _dead_units(runs: pd.DataFrame, name: str, first, last, **options) -> str:
    """', while its dead units rise from 14.7% to 31.3% (Figure: Mechanism)', by the rule."""
    mine = runs[runs["activation"] == name]
    if "dead_unit_frac" not in mine or not (mine["dead_unit_frac"] > DEAD_AT_ALL).any():
        return ""  # units that never output exactly zero (sigmoid, tanh) cannot die
    change = paired_change(mine, ["activation"], "depth", first, last, "dead_unit_frac", **options)
    if change.empty:
        return ""
    row = change.iloc[0]
    means = mine.groupby("depth")["dead_unit_frac"].mean()
    if row["high"] < 0:  # the fall from first to last is negative: they rise
        return (
            f", while its dead units (hidden units that output zero for every training point) "
            f"rise from {100 * means[first]:.1f}% to {100 * means[last]:.1f}% of its units"
        )
    return ", with no clear change in its dead units"


def _widths(runs: pd.DataFrame, name: str, dataset: str, first, last, **options) -> str:
    """'; it falls clearly at widths 4 and 8, not at 32' (by the same paired rule)."""
    mine = runs[(runs["activation"] == name) & (runs["dataset"] == dataset)]
    widths = levels(mine, "width")
    if len(widths) < 2:
        return ""
    falls = paired_change(mine, ["width"], "depth", first, last, **options)
    clear = [w for w, low in zip(falls["width"], falls["low"], strict=True) if low > 0]
    rest = [w for w in widths if w not in clear]
    if not clear or not rest:
        return f"; it falls at every width ({', '.join(fmt(w) for w in widths)})" if clear else ""
    return (
        f"; clearly at width {', '.join(fmt(w) for w in clear)}, not at "
        f"{', '.join(fmt(w) for w in rest)}"
    )


def overfitting_notice(summary: pd.DataFrame, curves: pd.DataFrame, **options) -> str:
    """Where a mean test loss clearly rises after its lowest point: per dataset and activation,
    each replicate's loss at the final epoch minus its loss at the epoch where the mean curve is
    lowest, paired; named when that rise's interval lies above zero (a network that begins to
    overfit). ``summary``: the learning curves' summary (dataset x activation x epoch),
    ``curves``: the runs' curves joined with their axes (summaries.learning_curve_runs)."""
    if summary.empty or curves.empty:
        return ""
    rises = []
    for (dataset, activation), part in summary.groupby(["dataset", "activation"], sort=True):
        part = part.sort_values("epoch")
        best, final = part.loc[part["mean"].idxmin()], part.iloc[-1]
        if best["epoch"] >= final["epoch"]:
            continue
        mine = curves[(curves["dataset"] == dataset) & (curves["activation"] == activation)]
        change = paired_change(mine, ["dataset", "activation"], "epoch", best["epoch"],
                               final["epoch"], "test_loss", **options)  # fmt: skip
        if len(change) and change.iloc[0]["high"] < 0:  # loss at the end minus the lowest > 0
            rises.append((-change.iloc[0]["mean"], dataset, activation, best, final))
    if not rises:
        return (
            f"{LEAD}no mean test loss rises clearly after its lowest point (paired by "
            "replicate): no network here begins to overfit before training ends."
        )
    rises.sort(key=lambda r: r[0], reverse=True)
    _, dataset, activation, best, final = rises[0]
    others = [f"{a} on {d}" for _, d, a, _, _ in rises[1:4]]
    text = (
        f"{LEAD}{activation}'s test loss on {dataset} is lowest at epoch {fmt(best['epoch'])} "
        f"({best['mean']:.3f} nats) and rises to {final['mean']:.3f} by epoch "
        f"{fmt(final['epoch'])} (a clear rise, paired by replicate): it begins to overfit, "
        "fitting its own training points rather than the shape"
    )
    if others:
        more = len(rises) - 1
        text += f"; {more} more do too ({', '.join(others)}{', ...' if more > 3 else ''})"
    return text + "."


def gallery_notice(selected: pd.DataFrame, control: str | None, chance: dict) -> str:
    """The network without an activation in the gallery: where its one straight boundary is
    at chance and where it is as good as the best panel of its column (within AT_CHANCE)."""
    if control is None or selected.empty or "test_acc" not in selected:
        return ""
    mine = selected[selected["activation"] == control].set_index("dataset")["test_acc"]
    best = selected.groupby("dataset")["test_acc"].max()
    at_chance = [d for d in mine.index if mine[d] - chance.get(d, np.nan) <= AT_CHANCE]
    enough = [d for d in mine.index if best[d] - mine[d] <= AT_CHANCE and d not in at_chance]
    parts = []
    if at_chance:
        parts.append(f"it is at chance on {_and(at_chance)}, where the classes wrap around each "
                     "other and no straight line splits them")  # fmt: skip
    if enough:
        parts.append(f"on {_and(enough)} a straight boundary already does about as well as "
                     "the best panel of the column")  # fmt: skip
    if not parts:
        return ""
    return (
        f"{LEAD}in every column the network without an activation ({control}) draws one "
        f"straight boundary, or none at all; {'; '.join(parts)}."
    )


def heatmap_notice(summary: pd.DataFrame, control: str | None) -> str:
    """The control's map is one value; relu's (or the first activation's) runs from where to
    where."""
    if summary.empty:
        return ""
    parts = []
    if control is not None and control in set(summary["activation"]):
        mine = summary[summary["activation"] == control]["mean"]
        value = (
            f"{100 * mine.min():.1f}%"
            if round(mine.min(), 3) == round(mine.max(), 3)
            else f"{100 * mine.min():.1f}–{100 * mine.max():.1f}%"
        )
        parts.append(
            f"the network without an activation scores the same in every cell ({value}): width "
            "and depth add nothing to one affine map"
        )
    name = "relu" if "relu" in set(summary["activation"]) else None
    if name is not None:
        mine = summary[summary["activation"] == name]
        low, high = mine.loc[mine["mean"].idxmin()], mine.loc[mine["mean"].idxmax()]
        parts.append(
            f"relu's map runs from {100 * low['mean']:.1f}% (depth {fmt(low['depth'])}, width "
            f"{fmt(low['width'])}) to {100 * high['mean']:.1f}% (depth {fmt(high['depth'])}, "
            f"width {fmt(high['width'])})"
        )
    return f"{LEAD}{'; '.join(parts)}." if parts else ""


def regions_notice(regions: pd.DataFrame, control: str | None) -> str:
    """The control's single linear region at every depth against the count of a piecewise-
    linear activation (relu, else the first counted)."""
    counted = regions.dropna(subset=["mean"]) if len(regions) else regions
    if counted.empty or control is None:
        return ""
    mine = counted[counted["activation"] == control]
    others = [a for a in levels(counted, "activation") if a != control]
    if mine.empty or not others:
        return ""
    name = "relu" if "relu" in others else others[0]
    theirs = counted[counted["activation"] == name].sort_values("depth")
    first, last = theirs.iloc[0], theirs.iloc[-1]
    return (
        f"{LEAD}the network without an activation cuts the input plane into "
        f"{mine['mean'].max():.0f} linear region at every depth: one affine map. With {name}, "
        f"each unit's kink adds regions: {first['mean']:.0f} at depth {fmt(first['depth'])}, "
        f"{last['mean']:.0f} at depth {fmt(last['depth'])}."
    )


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
