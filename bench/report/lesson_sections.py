"""The report's first sections: the lead (the lesson in a few sentences and one picture) and
why the network without an activation fails (the measured facts, the ladder of yardsticks and
the hidden layer's view of the plane). Figures and tables are written through `Writers`, so
this module knows nothing of the report's folders."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import seaborn as sns

from bench.report.explanation import LADDER_FIGURE, explanation, ladder_caption, plot_ladder
from bench.report.lead import FIGURE as LEAD_FIGURE
from bench.report.lead import lead_caption, lead_sentences, lead_surfaces, plot_lead
from bench.report.lesson import RULE as LESSON_RULE
from bench.report.lesson import Lesson
from bench.report.markdown import fmt
from bench.report.representation import FIGURE as REPRESENTATION_FIGURE
from bench.report.representation import caption as representation_caption
from bench.report.representation import plot_representations, representations, representative_runs


class Writers(NamedTuple):
    figure: Callable  # (file name, matplotlib figure) -> None: writes figures/NAME
    table: Callable  # (frame, file name) -> None: writes tables/NAME


def lead_parts(lesson: Lesson, surfaces, write: Writers, explore_page: str | None) -> list[str]:
    """The first screen: the lesson's sentences, its figure, and the way to the explore page."""
    parts = [" ".join(lead_sentences(lesson))]
    rows = lead_surfaces(lesson, surfaces)
    if rows is not None:
        with sns.axes_style("white"):
            write.figure(LEAD_FIGURE, plot_lead(lesson, rows))
        parts.append(f"![The lesson](figures/{LEAD_FIGURE})\n\n*{lead_caption(lesson)}*")
    write.table(lesson.at_setting, "lesson.csv")
    if explore_page:
        parts.append(
            f"**Try it yourself:** [{explore_page}]({explore_page}) draws any two networks of "
            "this grid side by side, on any dataset and setting."
        )
    parts.append(
        f"*The setting: {LESSON_RULE} Here: {lesson.dataset}, noise {fmt(lesson.noise)}, "
        f"{lesson.depth} x {lesson.width}; means over {int(lesson.row(lesson.control)['n'])} "
        "replicates (table lesson.csv).*"
    )
    return parts


def why_parts(lesson: Lesson, results, styles: dict, write: Writers) -> list[str]:
    """Why the network without an activation fails: the measured facts, the ladder of
    yardsticks and the hidden layer's view of the plane."""
    parts = [
        "## Why the network without an activation fails",
        explanation(lesson, results.surfaces),
    ]
    with sns.axes_style("whitegrid"):
        if len(lesson.ladder):
            figure = plot_ladder(lesson.ladder, styles.get(lesson.control, {}), styles)
            write.figure(LADDER_FIGURE, figure)
            write.table(lesson.ladder, "yardstick_ladder.csv")
            parts.append(
                f"![From chance to the best possible](figures/{LADDER_FIGURE})\n\n"
                f"*{ladder_caption()}*"
            )
        drawn = representations(results.path, representative_runs(lesson, results.runs))
        if drawn:
            figure = plot_representations(drawn, [lesson.control, lesson.best])
            write.figure(REPRESENTATION_FIGURE, figure)
            parts.append(
                "**How the network bends the plane.** After its hidden layers, every classifier "
                "here is one affine map, its output layer, so a network learns by moving the "
                "points until one line separates them:"
            )
            parts.append(
                f"![How the network bends the plane](figures/{REPRESENTATION_FIGURE})\n\n"
                f"*{representation_caption(lesson)}*"
            )
    return parts
