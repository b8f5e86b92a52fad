"""Features vs hidden layers: the report's section on the ``features`` axis (bench.data.features).

A feature map puts a nonlinearity in the inputs; hidden layers learn one. This section sets the
two side by side, from the runs alone: per dataset and noise level, the test accuracy of the
linear model and of each activation with hidden layers on every feature map, a figure of the
same numbers, and a sentence comparing the linear model on its highest-scoring feature map with
the networks with hidden layers on raw inputs.

Model kinds (the table's rows, the figure's hue):

* the **linear model**: every run whose network is one affine map, i.e. depth 0 (logistic
  regression, whatever the activation) or an affine activation (``none``) at any depth, pooled;
* each other activation, on its runs with hidden layers, averaged over their depths (and every
  other axis that varies), as every summary of the report averages each seed's runs.

Every number is a :func:`bench.report.tables.summarize` row (mean over seeds, 95% bootstrap
interval over seeds); the best possible accuracy and chance are the summaries' own
(``references_noise``); every comparative word follows :mod:`bench.report.wording`: "tied with"
when two intervals overlap, "higher than" or "lower than" only when they do not.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.data.features import FEATURE_MAPS
from bench.report.figure_kit import REFERENCE_PHRASE, Built, Inputs, Skip, skip_unless_varies
from bench.report.markdown import compare, fmt, fmt_list, note, pct, pct_ci, table_cell
from bench.report.plotting import (
    ACCURACY_LABEL,
    AFFINE_STYLE,
    REFERENCES,
    facet_axes,
    percent_axis,
)
from bench.report.results import activation_order, levels, ordered, usable
from bench.report.tables import N_RESAMPLES, cell, summarize
from bench.report.wording import chance_status
from bench.report.yardsticks import with_yardsticks

LINEAR = "linear model"
BY = ["dataset", "noise", "activation", "features"]  # `activation` holds the model kind
WORDS = ("higher than", "lower than", "tied with")  # markdown.compare's words, ties named
ONE_SEED = " (one seed, no interval)"  # what markdown.compare appends without intervals
DODGE = 0.12  # horizontal offset between the model kinds at one feature map (x units)


# -----------------------------------------------------------------------------
# numbers


def feature_order(values) -> list[str]:
    """Feature maps as bench.data.features lists them (raw first), then any other sorted."""
    return ordered(values, FEATURE_MAPS)


def model_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The usable runs with ``activation`` replaced by the model kind: LINEAR for a network
    that is one affine map (depth 0, or an affine activation), else the activation."""
    runs = usable(runs)
    linear = runs["affine"].to_numpy(bool) | (runs["depth"].to_numpy() == 0)
    return runs.assign(activation=np.where(linear, LINEAR, runs["activation"].astype(str)))


def feature_summary(
    runs: pd.DataFrame, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """Test accuracy by dataset x noise x model kind (in ``activation``) x feature map: mean over
    seeds with a 95% bootstrap interval over seeds, each seed first averaged over the other
    axes (``summarize``'s columns)."""
    # Each model kind on each feature map on their common support: the feature map is compared
    # within a model kind (the linear model's depths are what make it one).
    within = ["dataset", "noise", "activation"]
    return summarize(model_runs(runs), BY, within=within, n_resamples=n_resamples, seed=seed)


def model_order(names) -> list[str]:
    """The linear model first, then the activations in display order."""
    names = set(names)
    return ([LINEAR] if LINEAR in names else []) + activation_order(names - {LINEAR})


def _where(dataset: str, noise) -> str:
    return f"{dataset} (noise {fmt(noise)})"


def _inputs(feature: str) -> str:
    """'raw inputs', 'quadratic features'."""
    return "raw inputs" if feature == "raw" else f"{feature} features"


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def finding(part: pd.DataFrame, where: str, chance: float = np.nan) -> str:
    """The sentence on one dataset and noise level: the linear model on the feature map where
    its mean is highest, set against each activation with hidden layers on the reference
    inputs (raw, else the first map) and against itself on them, with chance.

    ``part`` is the :func:`feature_summary` rows of that dataset and noise. Words follow
    bench.report.wording: "tied with" when the intervals overlap, "higher"/"lower" only when
    they do not; without intervals (one seed) the means decide, and the sentence says so."""
    maps = feature_order(part["features"])
    reference = "raw" if "raw" in maps else maps[0]
    linear = part[part["activation"] == LINEAR]
    if linear.empty:
        return (
            f"On {where} no linear model ran (depth 0, or an affine activation), so only the "
            "activations are compared across feature maps."
        )
    on_reference = cell(linear, features=reference)
    mapped = linear[linear["features"] != reference]
    status = "unknown"
    if on_reference is not None:
        status = chance_status(on_reference["mean"], on_reference["low"], chance)
    status = "" if status == "unknown" else f"{status} (chance {pct(chance)})"
    if mapped.empty:
        only = f"On {where} the linear model ran on {_inputs(reference)} only"
        return f"{only}: {pct_ci(on_reference)}" + (f", {status}." if status else ".")
    best = mapped.sort_values("mean", ascending=False, kind="stable").iloc[0]
    one_seed = False

    def versus(a, b) -> str:
        nonlocal one_seed
        word = compare(a, b, WORDS)
        one_seed |= word.endswith(ONE_SEED)
        return word.removesuffix(ONE_SEED)

    highest = " (its highest mean among the feature maps)" if len(mapped) > 1 else ""
    mapped_inputs = _inputs(best["features"])
    text = f"On {where} the linear model on {mapped_inputs}{highest} reaches {pct_ci(best)}"
    networks = part[(part["activation"] != LINEAR) & (part["features"] == reference)]
    networks = networks.set_index("activation").reindex(model_order(networks["activation"]))
    clauses = [
        f"{versus(best, row)} {name} on {_inputs(reference)} ({pct_ci(row)})"
        for name, row in networks.iterrows()
    ]
    if clauses:
        text += f", {_joined(clauses)}"
    if on_reference is not None:
        text += (
            f"; on {_inputs(reference)} the linear model gets {pct_ci(on_reference)}, "
            f"{versus(on_reference, best)} its score on {mapped_inputs}"
        )
        text += f" and {status}" if status else ""
    if one_seed:
        text += " (one seed, so no interval: the means decide)"
    return text + "."


# -----------------------------------------------------------------------------
# the section


def _blocks(summary: pd.DataFrame) -> list[tuple[str, object, pd.DataFrame]]:
    """(dataset, noise, its rows) in display order."""
    blocks = []
    for dataset in levels(summary, "dataset"):
        here = summary[summary["dataset"] == dataset]
        blocks += [
            (dataset, noise, here[here["noise"] == noise]) for noise in levels(here, "noise")
        ]
    return blocks


def _references(summary: pd.DataFrame, dataset: str, noise) -> tuple[float, float, float]:
    """(chance, the best straight line, the best possible) on the same test points for a
    dataset and noise level, from the summary's own runs (plotting.REFERENCES' order); NaN
    where unknown."""
    rows = summary[(summary["dataset"] == dataset) & (summary["noise"] == noise)]
    return tuple(
        float(rows[c].mean()) if c in rows and len(rows) else np.nan
        for c in ("chance", "line", "bayes")
    )


def compact_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Every dataset, noise level and model kind in one table: a column per feature map
    ('mean [low, high]', %), then chance, the best straight line and the best possible on the
    same test points."""
    maps = feature_order(summary["features"])
    rows = []
    for dataset, noise, part in _blocks(summary):
        chance, line, best = _references(summary, dataset, noise)
        for model in model_order(part["activation"]):
            here = part[part["activation"] == model]
            rows.append(
                {
                    "dataset": dataset,
                    "noise": fmt(noise),
                    "model": model,
                    **{m: table_cell(cell(here, features=m)) for m in maps},
                    "chance": f"{100 * chance:.1f}" if np.isfinite(chance) else "–",
                    "best straight line": f"{100 * line:.1f}" if np.isfinite(line) else "–",
                    "best possible": f"{100 * best:.1f}" if np.isfinite(best) else "–",
                }
            )
    return pd.DataFrame(rows)


def plot_feature_maps(
    summary: pd.DataFrame,
    styles: Mapping[str, dict],
    *,
    by_noise: bool = False,
) -> Figure:
    """Test accuracy against feature map, one panel per dataset (and noise level when
    ``by_noise``): a point with its 95% interval per model kind, side by side at each map, with
    chance dotted and the best possible accuracy dash-dotted."""
    blocks = _blocks(summary)
    titles = [f"{d}, noise {fmt(n)}" if by_noise else d for d, n, _ in blocks]
    n_noises = len(levels(summary, "noise"))
    col_wrap = n_noises if by_noise and n_noises <= 4 else 4
    fig, axes = facet_axes(titles, col_wrap=col_wrap, sharey=True)
    maps = feature_order(summary["features"])
    models = model_order(summary["activation"])
    shift = {m: (i - (len(models) - 1) / 2) * DODGE for i, m in enumerate(models)}
    drawn: dict[str, dict] = {}
    for ax, (dataset, noise, part) in zip(axes, blocks, strict=True):
        for model in models:
            rows = part[part["activation"] == model].set_index("features").reindex(maps)
            x = np.arange(len(maps)) + shift[model]
            mean = rows["mean"].to_numpy(float)
            low = rows["low"].fillna(rows["mean"]).to_numpy(float)
            high = rows["high"].fillna(rows["mean"]).to_numpy(float)
            style = styles[model]
            ax.errorbar(x, mean, yerr=[mean - low, high - mean], color=style["color"],
                        marker=style["marker"], linestyle=style["linestyle"], linewidth=1,
                        markersize=5, capsize=3, label=model)  # fmt: skip
        for (_, label, style), value in zip(
            REFERENCES, _references(summary, dataset, noise), strict=True
        ):
            if np.isfinite(value):
                ax.axhline(value, **style)
                drawn[label] = style
        ax.set_xticks(range(len(maps)), maps)
        ax.set_xlim(-0.5, len(maps) - 0.5)
        percent_axis(ax)
    fig.supxlabel(
        "feature map on the inputs (bench.data.features)", fontsize=plt.rcParams["axes.labelsize"]
    )
    fig.supylabel(ACCURACY_LABEL, fontsize=plt.rcParams["axes.labelsize"])
    handles = {m: Line2D([], [], markersize=5, **styles[m]) for m in models}
    handles.update({label: Line2D([], [], **style) for label, style in drawn.items()})
    fig.legend(handles.values(), handles.keys(), title="model", loc="outside right center",
               frameon=False)  # fmt: skip
    return fig


def build(inputs: Inputs) -> Built:
    """The section: the figure, its caption, and per dataset and noise level the sentence and
    the table. Skipped unless the usable runs vary the feature map."""
    runs = inputs.runs
    skip_unless_varies(runs, "features", "feature map axis")
    runs = with_yardsticks(runs)
    summary = feature_summary(runs, n_resamples=inputs.n_resamples, seed=inputs.seed)
    if summary.empty:
        raise Skip("no usable run has a finite test accuracy.")
    by_noise = len(levels(runs, "noise")) > 1
    styles = {LINEAR: dict(AFFINE_STYLE), **inputs.styles}
    figure = plot_feature_maps(summary, styles, by_noise=by_noise)
    models = model_runs(runs)
    hidden = models[models["activation"] != LINEAR]
    deep_affine = runs[runs["affine"].to_numpy(bool) & (runs["depth"] > 0).to_numpy()]
    seeds = int(summary["n"].max())
    caption = (
        "Test accuracy against the feature map applied to the inputs, one panel per dataset"
        f"{' and noise level' if by_noise else ''}: the linear model and each activation with "
        f"hidden layers, mean over {seeds} replicate{'s' if seeds != 1 else ''} with 95% "
        f"intervals{inputs.left_out()}; {REFERENCE_PHRASE}."
    )
    pooled = "depth 0"
    if not deep_affine.empty:
        names = ", ".join(levels(deep_affine, "activation"))
        pooled += f", and {names} at depth {fmt_list(levels(deep_affine, 'depth'))}"
    how = (
        "Test accuracy (%) by model and feature map, mean over replicates [95% interval]. The "
        f"linear model pools every network that is one affine map ({pooled}); each activation's "
        f"row averages its runs with hidden layers (depth {fmt_list(levels(hidden, 'depth'))}). "
        "Each model is compared across feature maps on the settings it ran on every map. "
        f"{note(summary)} Chance and the best possible accuracy (on the same test points; – for "
        "a CSV dataset) do not depend on the feature map."
    )
    findings = [
        "- " + finding(part, _where(dataset, noise), _references(summary, dataset, noise)[0])
        for dataset, noise, part in _blocks(summary)
    ]
    parts = [
        how,
        compact_table(summary).to_markdown(index=False, disable_numparse=True),
        "\n".join(findings),
    ]
    return Built(figure, caption, "\n\n".join(parts), data=summary)


SECTION = ("features_vs_hidden_layers.png", "Features vs hidden layers", build)
