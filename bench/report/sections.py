"""The report's figures with their captions: one builder per figure, reading the summaries.

A builder returns the figure and its caption, or raises :class:`Skip` with the reason the results
cannot show it. Captions quote the same summary rows that the figures draw.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from bench.report import feature_maps, figures, mechanism, regression, theory
from bench.report.figure_kit import REFERENCE_PHRASE, Built, Inputs, Skip, skip_unless_varies
from bench.report.gallery import plot_decision_gallery, select_gallery
from bench.report.markdown import fmt, fmt_list, iqm_row, note, pct_ci
from bench.report.notice import depth_notice, gallery_notice, heatmap_notice, overfitting_notice
from bench.report.results import levels, seed_axes, task_axes, usable, with_hidden_layers
from bench.report.summaries import Summaries, learning_curve_runs, references
from bench.report.tables import cell
from bench.report.wording import top_group, top_phrase
from bench.schema import dataset_properties


def _seed_phrase(runs: pd.DataFrame) -> str:
    """'10 replicates (2 data samples x 5 seeds)', or '3 seeds' when the data sample is fixed."""
    runs = usable(runs)
    axes = seed_axes(runs)
    n = runs.groupby(axes).ngroups if axes else 1
    samples = runs["data_seed"].nunique() if "data_seed" in runs else 1
    if samples > 1:
        seeds = runs["seed"].nunique() if "seed" in runs else 1
        return f"{n} replicates ({samples} data samples x {seeds} seeds)"
    return f"{n} seed{'s' if n != 1 else ''}"


def _networks(s: Summaries) -> str:
    """'networks with hidden layers; 1 diverged run left out'."""
    return "networks with hidden layers" + (f"; {s.left_out}" if s.left_out else "")


# -----------------------------------------------------------------------------
# the builders, in the report's order


def _gallery(inputs: Inputs) -> Built:
    surfaces = inputs.results.surfaces
    if surfaces is None or surfaces.empty:
        raise Skip("no decision surfaces were stored (surfaces.parquet is absent or empty).")
    selected, choice = select_gallery(surfaces, inputs.results.runs)
    figure = plot_decision_gallery(selected)
    noises = {d: choice["noise"][d] for d in levels(selected, "dataset")}
    if len(set(noises.values())) == 1:
        noise = f"noise {fmt(next(iter(noises.values())))}"
    else:
        noise = "the lowest stored noise: " + ", ".join(f"{d} {fmt(n)}" for d, n in noises.items())
    shapes = {(choice["depth"][a], choice["width"][a]) for a in choice["depth"]}
    if len(shapes) == 1:
        depth, width = next(iter(shapes))
        networks = f"networks with {fmt(depth)} hidden layers of {fmt(width)} units"
    else:
        networks = (
            "networks of each activation's median depth and width ("
            + ", ".join(
                f"{a}: {fmt(choice['depth'][a])} x {fmt(choice['width'][a])}"
                for a in choice["depth"]
            )
            + ")"
        )
    raw = (
        " on raw inputs"
        if "features" in selected and levels(inputs.results.runs, "features")[1:]
        else ""
    )
    caption = (
        f"Decision surfaces of {networks}{raw}, one seed per panel, at {noise}, "
        "with the test points on top. Two-class panels shade the probability of class 1 from "
        "blue (class 0) to orange (class 1), with the 50% boundary in black; multi-class panels "
        "colour the predicted class, paler where the network is less sure (the class key is "
        "on the right). The corner shows the run's test accuracy, and its setting's mean over the "
        "replicates where the run drawn is more than 5 points from it (a stuck seed, say)."
    )
    shown = [c for c in GALLERY_COLUMNS if c in selected]
    data = selected[shown].sort_values(["dataset", "activation"], kind="stable")
    s = inputs.summaries
    notice = gallery_notice(selected, s.control, s.chance) if s is not None else ""
    return Built(figure, caption, text=notice, data=data)  # sorted: shards merge in any order


GALLERY_COLUMNS = (
    "dataset", "activation", "depth", "width", "noise", "features", "seed", "data_seed",
    "run_id", "test_acc", "cell_mean",
)  # fmt: skip


def _accuracy_against(inputs: Inputs, axis: str, summary: pd.DataFrame) -> Figure:
    """Test accuracy against ``axis``, a panel per dataset, with the yardsticks of the same runs
    (chance, the best possible on the same test points); skipped unless the axis varies."""
    skip_unless_varies(inputs.runs, axis, f"{axis} axis")
    if summary.empty:
        raise Skip(f"no {axis} setting is shared by the compared cells. {note(summary)}")
    lines = references(summary, ["dataset", axis])
    return figures.plot_accuracy_against(summary, axis, references=lines, styles=inputs.styles)


def _accuracy_vs_depth(inputs: Inputs) -> Built:
    runs, s = inputs.runs, inputs.summaries
    top = top_group(s.at_deepest)
    if top is None:
        skip_unless_varies(runs, "depth", "depth axis")
        raise Skip(f"no usable run at the greatest depth ({fmt(s.deepest)}).")
    fig = _accuracy_against(inputs, "depth", s.by_dataset_depth)
    caption = (
        f"Test accuracy against depth, one panel per dataset: mean over {_seed_phrase(runs)} "
        f"(each first averaged over the other axes){inputs.left_out()}; {REFERENCE_PHRASE}. "
        f"Depth 0 is logistic regression. {note(s.by_dataset_depth)} At the "
        f"greatest depth ({fmt(s.deepest)}), across datasets: {top_phrase(top, pct_ci)}"
    )
    linear = cell(s.at_deepest, activation=s.control)
    if linear is not None and s.control not in top.names:
        caption += f"; {s.control} gets {pct_ci(linear)}"
    notice = depth_notice(s, n_resamples=inputs.n_resamples, seed=inputs.seed)
    return Built(fig, caption + ".", text=notice, data=s.by_dataset_depth)


def _heatmaps(inputs: Inputs) -> Built:
    runs = with_hidden_layers(inputs.runs)
    who = "the networks with hidden layers have"
    skip_unless_varies(runs, "depth", "width x depth map", who)
    skip_unless_varies(runs, "width", "width x depth map", who)
    summary = inputs.summaries.by_width_depth
    if summary.empty:
        raise Skip(f"no setting is shared by every width and depth. {note(summary)}")
    fig = figures.plot_width_depth_heatmaps(summary)
    caption = (
        "Mean test accuracy (%) for every width and depth, one map per activation, on one colour "
        f"scale (networks with hidden layers). {note(summary)}"
    )
    notice = heatmap_notice(summary, inputs.summaries.control)
    return Built(fig, caption, text=notice, data=summary)


def _noise(inputs: Inputs) -> Built:
    runs, s = inputs.runs, inputs.summaries
    fig = _accuracy_against(inputs, "noise", s.by_dataset_noise)
    noises = levels(runs, "noise")
    caption = (
        f"Test accuracy against input noise, one panel per dataset, mean over "
        f"{_seed_phrase(runs)} ({_networks(s)}); {REFERENCE_PHRASE}, which falls as noise "
        f"blurs the classes into each other. {note(s.by_dataset_noise)}"
    )
    top = top_group(s.noise_fall, highest=False)
    if top is not None:

        def points(row) -> str:
            values = [f"{100 * row[k]:.1f}" for k in ("mean", "low", "high")]
            return f"{values[0]} points [{values[1]}, {values[2]}]"

        verdict = (
            top_phrase(top, points, "the most robust")
            if len(s.noise_fall) > 1
            else f"only {top.names[0]} qualifies: {points(top.rows.iloc[0])}"
        )
        caption += (
            " Robustness is measured against the task: how many points further each activation "
            "falls behind the best possible on the same test points from noise "
            f"{fmt(noises[0])} to {fmt(noises[-1])} (the best possible falls too; negative: it "
            "closes the gap), paired by replicate and averaged over datasets, among the "
            "activations in the top tied group and well above chance on every dataset at noise "
            f"{fmt(noises[0])} (one that starts lower has less to lose): {verdict}."
        )
    if s.not_compared:
        caption += (
            " Not compared for robustness: "
            + "; ".join(
                f"{name} ({', '.join(reasons)})" for name, reasons in s.not_compared.items()
            )
            + "."
        )
    return Built(fig, caption, data=s.by_dataset_noise)


AXIS_TITLES = {"label_noise": "Robustness to flipped training labels"}


def _other_axis(axis: str) -> Callable[[Inputs], Built]:
    """The builder of the figure of test accuracy against one more axis that varies."""

    def build(inputs: Inputs) -> Built:
        runs, s = inputs.runs, inputs.summaries
        axis_summaries = s.by_axis[axis]
        fig = _accuracy_against(inputs, axis, axis_summaries.by_dataset)
        caption = (
            f"Test accuracy against {axis} ({fmt_list(levels(runs, axis))}), one panel per "
            f"dataset, mean over {_seed_phrase(runs)} ({_networks(s)}); {REFERENCE_PHRASE}. "
            f"{note(axis_summaries.by_dataset)}"
        )
        if axis == "label_noise":
            caption += (
                " Only training labels are flipped; test labels stay clean, so the best possible "
                "accuracy does not move."
            )
        return Built(fig, caption, data=axis_summaries.by_dataset)

    return build


def _learning_curves(inputs: Inputs) -> Built:
    results = inputs.results
    if results.curves.empty or "test_loss" not in results.curves:
        raise Skip("curves.parquet is absent or empty.")
    if inputs.summaries.curves.empty:
        raise Skip("no run with hidden layers that neither failed nor diverged has a curve.")
    fig = figures.plot_learning_curves(inputs.summaries.curves, styles=inputs.styles)
    caption = (
        f"Test loss against epoch, one panel per dataset, mean over {_seed_phrase(results.runs)} "
        f"with 95% bands ({_networks(inputs.summaries)}). {note(inputs.summaries.curves)}"
    )
    if len(levels(results.runs, "epochs")) > 1:
        caption += " Runs with different epoch budgets are pooled at each epoch they reach."
    chosen = inputs.summaries.curves.attrs["selection"].runs
    notice = overfitting_notice(inputs.summaries.curves, learning_curve_runs(results.curves, chosen),
                                n_resamples=inputs.n_resamples, seed=inputs.seed)  # fmt: skip
    return Built(fig, caption, text=notice, data=inputs.summaries.curves)


def _learned(inputs: Inputs) -> Built:
    learned = inputs.summaries.learned
    if learned.empty:
        raise Skip("no activation in the grid has learnable parameters.")
    fig = figures.plot_learned_parameters(learned, styles=inputs.styles)
    caption = (
        "The trained value of each learnable activation parameter (runs.parquet's act_params), "
        "averaged over a network's hidden layers, against depth, mean over seeds with 95% "
        "bootstrap intervals."
    )
    return Built(fig, caption, data=learned)


def _ranking(inputs: Inputs) -> Built:
    ranking = inputs.summaries.ranking
    if len(ranking) < 2:
        raise Skip("fewer than two activations share a task, so there is nothing to rank.")
    row_height = 0.32  # inches per activation, plus room for the axis labels
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, row_height * len(ranking) + 1.5))
    figures.plot_iqm_ranking(ranking, ax=left, styles=inputs.styles)
    figures.plot_probability_of_improvement(ranking, ax=right, styles=inputs.styles)
    fig.tight_layout()
    first, reference = ranking.iloc[0], ranking.attrs["reference"]
    top = top_group(ranking, columns=("iqm", "iqm_low", "iqm_high"))
    runs = inputs.results.runs
    properties = dataset_properties(runs)  # a dataset's own rows are not a task axis
    varying = [a for a in task_axes(runs)
               if a not in properties and len(levels(with_hidden_layers(runs), a)) > 1]  # fmt: skip
    caption = (
        f"Left: interquartile mean (IQM) of test accuracy over {int(first['n_tasks'])} tasks "
        f"(every combination of {', '.join(varying) or 'the fixed axes'}) and "
        f"{int(first['n_replicates'])} replicates, networks with hidden layers, with 95% "
        "stratified-bootstrap intervals (rliable). Right: the probability that an activation "
        f"beats {reference} on a randomly chosen task (0.5: no different). By IQM: "
        f"{top_phrase(top, lambda row: pct_ci(iqm_row(row)), 'first')}."
    )
    return Built(fig, caption, data=ranking)


Builder = Callable[[Inputs], Built]
FIGURES: tuple[tuple[str, str, Builder], ...] = (
    ("decision_boundaries.png", "Decision boundaries", _gallery),
    ("accuracy_vs_depth.png", "Test accuracy against depth", _accuracy_vs_depth),
    ("width_depth_heatmaps.png", "Width and depth", _heatmaps),
    ("noise_robustness.png", "Robustness to input noise", _noise),
    ("learning_curves.png", "Learning curves", _learning_curves),
    ("mechanism.png", "Mechanism", mechanism.build),
    theory.SECTION,
    ("ranking.png", "Ranking", _ranking),
)
FIGURE_FILES = tuple(filename for filename, _, _ in FIGURES)
LEARNED = ("learned_parameters.png", "Learned activation parameters", _learned)


def figure_plan(
    s: Summaries | None, with_regression: bool = False
) -> list[tuple[str, str, Builder]]:
    """Every figure of this report in order: the fixed ones, the feature maps' section (after
    the depth figure) when the feature map varies, a figure per other axis that varies (after
    the noise figure), and the learned parameters when there are any; all of them from the
    classification runs' summaries ``s`` (None: no classification run, no such figure). Then,
    ``with_regression``, the regression section (bench.report.regression)."""
    tail = list(regression.SECTIONS) if with_regression else []
    if s is None:
        return tail
    plan = list(FIGURES)
    after_noise = FIGURE_FILES.index("noise_robustness.png") + 1
    plan[after_noise:after_noise] = [
        (
            f"accuracy_vs_{axis}.png",
            AXIS_TITLES.get(axis, f"Test accuracy against {axis}"),
            _other_axis(axis),
        )
        for axis in s.by_axis
        if axis != "features"  # the feature maps' own section below replaces its generic figure
    ]
    if "features" in s.by_axis:
        plan.insert(FIGURE_FILES.index("accuracy_vs_depth.png") + 1, feature_maps.SECTION)
    if not s.learned.empty:
        plan.insert(plan.index(FIGURES[-1]), LEARNED)
    return plan + tail
