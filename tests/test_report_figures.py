"""What each figure of the report draws, from small hand-made summary tables: panels, a line per
activation with its values, axis labels, titles, legend entries and visible tick labels."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import report_synthetic as synthetic  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from bench.report import figures  # noqa: E402
from bench.report.gallery import PLANE_LABELS, plot_decision_gallery, select_gallery  # noqa: E402
from bench.report.plotting import AFFINE_STYLE, activation_styles  # noqa: E402
from bench.report.results import prepare_runs  # noqa: E402

ACTIVATIONS = ("none", "relu", "tanh")  # in display order; "none" is affine below
DATASETS = ("circles", "moons", "spirals4")
STYLES = activation_styles(ACTIVATIONS, affine={"none"})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def summary(seed: int = 0, low: float = 0.5, high: float = 0.9, **by) -> pd.DataFrame:
    """A tidy summary, one row per combination of the ``by`` values, means drawn in [low, high]
    and intervals 0.05 either side."""
    frame = pd.DataFrame(list(itertools.product(*by.values())), columns=list(by))
    mean = np.random.default_rng(seed).uniform(low, high, len(frame))
    return frame.assign(mean=mean, low=mean - 0.05, high=mean + 0.05, n=3)


def activation_lines(ax) -> dict:
    """The lines of an axes labelled with an activation's name."""
    return {line.get_label(): line for line in ax.get_lines() if line.get_label() in ACTIVATIONS}


def tick_labels(ax, axis: str) -> list[str]:
    """The tick labels that are drawn (visible and not empty)."""
    ax.figure.canvas.draw()
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks if t.get_visible() and t.get_text()]


def rows_top_down(ax) -> list[str]:
    """The y tick labels of an interval-rows plot, from the top row down."""
    labels = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    return [t.get_text() for t in labels]


# -----------------------------------------------------------------------------
# styles


def test_affine_activations_are_grey_and_dashed_and_the_others_distinct():
    styles = activation_styles(["my_swish", "tanh", "my_linear", "relu"], affine={"my_linear"})
    assert list(styles) == ["relu", "tanh", "my_linear", "my_swish"]  # builtins, then plugins
    assert styles["my_linear"] == AFFINE_STYLE
    others = [to_hex(styles[n]["color"]) for n in ("relu", "tanh", "my_swish")]
    assert len(set(others)) == 3 and to_hex(AFFINE_STYLE["color"]) not in others

    many = activation_styles([f"act{i:02d}" for i in range(20)])
    assert len({to_hex(s["color"]) for s in many.values()}) == 20  # colour alone tells them apart
    assert len({str(s["marker"]) for s in many.values()}) == 20  # and so does the marker
    # the same names give the same styles, whichever figure asks
    assert activation_styles(list(reversed(list(many)))) == many


# -----------------------------------------------------------------------------
# accuracy against an axis, learning curves


def test_accuracy_against_depth_has_a_panel_per_dataset_and_a_line_per_activation():
    table = summary(dataset=DATASETS, activation=ACTIVATIONS, depth=[0, 1, 2])
    chance = {"circles": 0.5, "moons": 0.5, "spirals4": 0.25}
    bayes = {"circles": 0.9, "moons": 0.97, "spirals4": 0.8}  # on the same test points
    references = pd.DataFrame(
        {"dataset": DATASETS, "chance": [chance[d] for d in DATASETS],
         "bayes": [bayes[d] for d in DATASETS]}
    )  # fmt: skip
    fig = figures.plot_accuracy_against(
        table, "depth", references=references, styles=STYLES, col_wrap=2
    )

    assert [ax.get_title() for ax in fig.axes] == list(DATASETS)  # the fourth panel is removed
    for ax, dataset in zip(fig.axes, DATASETS, strict=True):
        lines = activation_lines(ax)
        assert list(lines) == list(ACTIVATIONS)
        for name, line in lines.items():
            part = table[(table["dataset"] == dataset) & (table["activation"] == name)]
            np.testing.assert_allclose(line.get_ydata(), part["mean"])
        assert lines["none"].get_linestyle() == "--"
        assert to_hex(lines["none"].get_color()) == to_hex(AFFINE_STYLE["color"])
        chance_line, best_line = [
            line for line in ax.get_lines() if line.get_label() not in ACTIVATIONS
        ]
        assert set(chance_line.get_ydata()) == {chance[dataset]}
        assert set(best_line.get_ydata()) == {bayes[dataset]}
        assert len(ax.collections) == len(ACTIVATIONS)  # one interval band each
        assert list(ax.get_xticks()) == [0, 1, 2]

    legend = fig.legends[0]
    assert legend.get_title().get_text() == "activation"
    assert [t.get_text() for t in legend.get_texts()] == [*ACTIVATIONS, "chance", "best possible"]
    assert fig.get_supxlabel() == "depth (hidden layers)"
    assert fig.get_supylabel() == "test accuracy (%)"

    for panel in fig.axes:  # 2 x 2, the fourth removed: every panel keeps its tick labels
        assert tick_labels(panel, "x") == ["0", "1", "2"]
        labels = tick_labels(panel, "y")
        assert labels and all(label.endswith("%") for label in labels)


def test_noise_robustness_labels_its_axis_in_data_units():
    table = summary(dataset=["circles"], activation=ACTIVATIONS, noise=[0.03, 0.1, 0.2])
    fig = figures.plot_accuracy_against(table, "noise", styles=STYLES)
    assert fig.get_supxlabel() == "input noise (std, data units)"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(ACTIVATIONS)  # no chance
    assert tick_labels(fig.axes[0], "x") == ["0.03", "0.10", "0.20"]


def test_learning_curves_are_lines_without_markers_on_a_log_scale():
    table = summary(low=0.1, high=2.0, dataset=DATASETS[:2], activation=ACTIVATIONS,
                    epoch=[0, 100, 200])  # fmt: skip
    fig = figures.plot_learning_curves(table, styles=STYLES)
    assert [ax.get_title() for ax in fig.axes] == list(DATASETS[:2])
    for ax in fig.axes:
        assert ax.get_yscale() == "log"
        lines = activation_lines(ax)
        assert list(lines) == list(ACTIVATIONS)
        assert all(line.get_marker() in ("", "None", None) for line in lines.values())
        assert tick_labels(ax, "y")  # each panel keeps its own log scale
        assert tick_labels(ax, "x")
    assert fig.get_supylabel() == "test loss (cross-entropy, nats)"
    assert fig.get_supxlabel() == "epoch"


def test_width_depth_heatmaps_print_the_means_on_one_colour_scale():
    table = summary(activation=ACTIVATIONS, depth=[1, 2, 4], width=[4, 16])
    fig = figures.plot_width_depth_heatmaps(table)
    panels = [ax for ax in fig.axes if ax.get_title()]
    (colorbar,) = [ax for ax in fig.axes if not ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(ACTIVATIONS)
    assert colorbar.get_ylabel() == "mean test accuracy (%)"
    for ax, name in zip(panels, ACTIVATIONS, strict=True):
        expected = [f"{100 * m:.0f}" for m in table.loc[table["activation"] == name, "mean"]]
        assert sorted(t.get_text() for t in ax.texts) == sorted(expected)
        assert tick_labels(ax, "x") == ["4", "16"]
        assert tick_labels(ax, "y") == ["1", "2", "4"]
    assert fig.get_supxlabel() == "width (units per hidden layer)"
    assert fig.get_supylabel() == "depth (hidden layers)"


# -----------------------------------------------------------------------------
# mechanism and ranking


@pytest.mark.parametrize(
    ("scale", "suffix"), [("log", ""), ("percent", "%"), ("linear", "")], ids=str
)
def test_a_measure_against_depth(scale, suffix):
    table = summary(low=0.2, high=0.8, activation=ACTIVATIONS, depth=[1, 2, 3])
    ax = figures.plot_against_depth(table, ylabel="a measure (unit)", scale=scale, styles=STYLES)
    assert ax.get_yscale() == ("log" if scale == "log" else "linear")
    assert list(activation_lines(ax)) == list(ACTIVATIONS)
    assert ax.get_xlabel() == "depth (hidden layers)" and ax.get_ylabel() == "a measure (unit)"
    assert tick_labels(ax, "x") == ["1", "2", "3"]
    labels = tick_labels(ax, "y")
    assert labels and all(label.endswith(suffix) for label in labels)


def test_linear_fit_r2_has_a_row_per_activation_in_display_order():
    table = summary(activation=["tanh", "none", "relu"])
    ax = figures.plot_linear_fit_r2(table, styles=STYLES)
    assert rows_top_down(ax) == list(ACTIVATIONS)
    assert ax.get_xlabel() == "$R^2$ of an affine fit to the logits (1 = linear)"


def test_ranking_rows_are_best_first_and_name_the_reference():
    ranking = pd.DataFrame(
        {
            "activation": ["relu", "tanh", "none"],
            "iqm": [0.9, 0.8, 0.5],
            "iqm_low": [0.85, 0.75, 0.45],
            "iqm_high": [0.95, 0.85, 0.55],
            "p_improve": [np.nan, 0.3, 0.0],
            "p_low": [np.nan, 0.2, 0.0],
            "p_high": [np.nan, 0.4, 0.05],
        }
    )
    ranking.attrs["reference"] = "relu"
    fig, (left, right) = plt.subplots(1, 2)
    figures.plot_iqm_ranking(ranking, left, styles=STYLES)
    figures.plot_probability_of_improvement(ranking, right, styles=STYLES)
    assert rows_top_down(left) == rows_top_down(right) == ["relu", "tanh", "none"]
    assert left.get_xlabel() == "IQM of test accuracy (%)"
    assert all(label.endswith("%") for label in tick_labels(left, "x"))
    assert right.get_xlabel() == "P(activation > relu) (probability)"
    (note,) = right.texts
    assert note.get_text() == "reference" and note.get_position()[1] == 2  # relu's row, the top
    assert any(set(line.get_xdata()) == {0.5} for line in right.get_lines())  # "no different"


# -----------------------------------------------------------------------------
# the decision-surface gallery


@pytest.fixture(scope="module")
def gallery_rows():
    """Surfaces of none and relu on circles (input plane) and spirals4 (PCA plane); the run of
    none on spirals4 failed, so its surface is not stored."""
    runs = synthetic.make_runs(
        activations=("none", "relu"), datasets=("circles", "spirals4"), depths=(2,),
        widths=(10,), noises=(0.03,), seeds=(0,),
    )  # fmt: skip
    rows, _ = select_gallery(synthetic.make_surfaces(runs), prepare_runs(runs))
    return rows


def test_gallery_has_activations_as_rows_and_datasets_as_columns(gallery_rows):
    fig = plot_decision_gallery(gallery_rows)
    *panels, colorbar = fig.axes
    grid = np.asarray(panels).reshape(2, 2)
    assert [ax.get_title() for ax in grid[0]] == ["circles", "spirals4 (PCA)"]
    assert [ax.get_ylabel() for ax in grid[:, 0]] == ["none", "relu"]
    assert colorbar.get_ylabel() == "P(class 1), two-class panels"
    assert [t.get_text() for t in grid[0, 1].texts] == ["not stored"]
    (key,) = fig.legends  # the class key of the four-class panels
    assert [t.get_text() for t in key.get_texts()] == [f"class {k}" for k in range(4)]


def test_gallery_draws_the_stored_test_points_and_accuracy(gallery_rows):
    fig = plot_decision_gallery(gallery_rows)
    panel = np.asarray(fig.axes[:4]).reshape(2, 2)[1, 0]  # relu on circles
    row = gallery_rows.set_index(["activation", "dataset"]).loc[("relu", "circles")]
    (points,) = panel.collections[-1:]
    np.testing.assert_allclose(points.get_offsets(), np.c_[row["test_x"], row["test_y"]])
    assert [t.get_text() for t in panel.texts] == [f"{100 * row['test_acc']:.0f}%"]


def test_gallery_axis_labels_name_the_plane(gallery_rows):
    circles = gallery_rows[gallery_rows["dataset"] == "circles"]
    fig = plot_decision_gallery(circles)
    assert (fig.get_supxlabel(), fig.get_supylabel()) == PLANE_LABELS["input"]
    spirals = gallery_rows[gallery_rows["dataset"] == "spirals4"]
    fig = plot_decision_gallery(spirals)
    assert (fig.get_supxlabel(), fig.get_supylabel()) == PLANE_LABELS["pca"]
    both = plot_decision_gallery(gallery_rows).get_supxlabel()
    assert PLANE_LABELS["input"][0] in both and PLANE_LABELS["pca"][0] in both


def test_gallery_prefers_the_notebook_network_else_the_median_one():
    runs = synthetic.make_runs(
        activations=("relu",), datasets=("circles",), depths=(1, 3, 4), widths=(4, 8),
        noises=(0.03, 0.2), seeds=(0, 1),
    )  # fmt: skip
    rows, choice = select_gallery(synthetic.make_surfaces(runs), prepare_runs(runs))
    assert (choice["depth"], choice["width"], choice["noise"]) == (
        {"relu": 3},
        {"relu": 4},
        {"circles": 0.03},
    )
    assert len(rows) == 1 and rows["seed"].item() == 0


def test_categorical_and_log_axes():
    """optimizer is drawn at evenly spaced, named positions; lr on a log scale."""
    table = summary(dataset=["circles"], activation=ACTIVATIONS, optimizer=["sgd", "adam"])
    fig = figures.plot_accuracy_against(table, "optimizer", styles=STYLES)
    assert tick_labels(fig.axes[0], "x") == ["adam", "sgd"]
    table = summary(dataset=["circles"], activation=ACTIVATIONS, lr=[0.001, 0.01, 0.1])
    fig = figures.plot_accuracy_against(table, "lr", styles=STYLES)
    assert fig.axes[0].get_xscale() == "log"
    assert tick_labels(fig.axes[0], "x") == ["0.001", "0.01", "0.1"]
    assert fig.get_supxlabel() == "learning rate"


def test_mechanism_panels_have_titles_and_say_what_is_undefined():
    table = summary(low=1, high=50, activation=["none", "relu"], depth=[1, 2])
    ax = figures.plot_against_depth(
        table, ylabel="linear regions (count)", scale="log", styles=STYLES,
        title="Linear regions", undefined="no count for tanh",
    )  # fmt: skip
    assert ax.get_title() == "Linear regions"
    assert [t.get_text() for t in ax.texts] == ["no count for tanh"]
    r2 = figures.plot_linear_fit_r2(summary(activation=ACTIVATIONS), styles=STYLES)
    assert r2.get_title()


def test_learned_parameters_have_a_panel_per_parameter():
    table = summary(activation=["prelu"], parameter=["slope", "bias.mean"], depth=[1, 2])
    table = table.rename(columns={})
    fig = figures.plot_learned_parameters(table)
    assert sorted(ax.get_title() for ax in fig.axes) == [
        "prelu: bias (mean over units)", "prelu: slope",
    ]  # fmt: skip
    for ax in fig.axes:
        assert tick_labels(ax, "x") == ["1", "2"]
