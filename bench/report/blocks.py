"""A grid's studies: the main block is the report's body; every further block gets a section
titled by its question (bench.results.blocks: the manifest keeps each run's blocks).

A further block is read against the main block: its *contrast* axes are those it varies over
values the main block never ran (features = quadratic, a dataset of its own, ...); its *models*
are the other settings that tell its networks apart (activation, and depth when it varies). The
section compares every model across the contrast on their common support
(bench.report.support), one panel per dataset: one figure, one compact table, one paragraph.
A block of regression runs is the same study scored by R^2: the regression section, titled by
the block's question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report import figures, regression
from bench.report.figure_kit import REFERENCE_PHRASE, Built, Inputs, Skip
from bench.report.markdown import HIGHER, compare, fmt, note, pct_ci, table_cell
from bench.report.plotting import MARKERS, activation_styles
from bench.report.regression_summaries import regression_summaries
from bench.report.results import (
    BOOKKEEPING_AXES,
    Results,
    is_regression,
    levels,
    restrict,
    usable,
)
from bench.report.summaries import references
from bench.report.tables import summarize
from bench.report.yardsticks import with_yardsticks
from bench.results.blocks import Blocks, block_title
from bench.schema import AXES, SEED_AXES

FACETS = ("dataset",)  # a panel each
MODEL_AXES = ("activation", "depth")  # what names a model in a block's table and legend


@dataclass(frozen=True)
class Study:
    """One further block: its runs (as results), name, question and its main block's runs."""

    name: str
    question: str
    results: Results
    main: pd.DataFrame  # the main block's runs: what the contrast is read against


def studies(results: Results, blocks: Blocks) -> tuple[Results, list[Study]]:
    """The main block's results and the further blocks' studies (none for a grid of one
    block: then the main block is every run)."""
    names = blocks.names()
    if len(names) < 2:
        return results, []
    main = restrict(results, blocks.run_ids(names[0]))
    further = [
        Study(name, blocks.question(name), restrict(results, blocks.run_ids(name)), main.runs)
        for name in names[1:]
    ]
    return main, [s for s in further if len(s.results.runs)]


def title(study: Study) -> str:
    return block_title(study.name, study.question)


def sections(study: Study) -> list[tuple[str, str, Callable[[Inputs], Built]]]:
    """The figures of one study: (file name, title, builder)."""
    stem = f"block_{study.name}"
    if is_regression(study.results.runs).all():
        fit, gallery = regression.SECTIONS
        return [
            (f"{stem}.png", title(study), _regression(study, fit[2])),
            (f"{stem}_fits.png", f"{title(study)}: the fitted functions", _regression(study, gallery[2])),
        ]  # fmt: skip
    return [(f"{stem}.png", title(study), lambda inputs: build(study, inputs))]


def _regression(study: Study, builder: Callable[[Inputs], Built]) -> Callable[[Inputs], Built]:
    def build_section(inputs: Inputs) -> Built:
        rs = regression_summaries(study.results, n_resamples=inputs.n_resamples, seed=inputs.seed)
        return builder(Inputs(study.results, None, inputs.styles, inputs.n_resamples,
                              inputs.seed, rs))  # fmt: skip

    return build_section


def contrast_axes(block: pd.DataFrame, main: pd.DataFrame) -> list[str]:
    """The axes the block varies over values the main block never ran, facets aside; else the
    axes it varies that are not a model's (so a block that re-slices the main one still has a
    contrast)."""
    varying = [
        a for a in AXES
        if a in block and a not in (*SEED_AXES, *BOOKKEEPING_AXES, *FACETS)
        and len(levels(block, a)) > 1
    ]  # fmt: skip
    new = [a for a in varying if a in main and not set(levels(block, a)) <= set(main[a])]
    new += [a for a in varying if a not in main]
    return new or [a for a in varying if a not in MODEL_AXES][:1]


AFFINE_DASHES = ("--", (0, (1, 1.5)))


def model_labels(runs: pd.DataFrame) -> pd.Series:
    """'none, depth 0', 'relu, depth 2': the activation, and the depth when the runs vary it."""
    label = runs["activation"].astype(str)
    if "depth" in runs and runs["depth"].nunique() > 1:
        label = label + ", depth " + runs["depth"].map(fmt)
    return label


def build(study: Study, inputs: Inputs) -> Built:
    runs = with_yardsticks(usable(study.results.runs))
    if runs.empty:
        raise Skip("every run of this block failed or diverged.")
    contrast = contrast_axes(runs, study.main)
    if not contrast:
        raise Skip("the block varies nothing but its datasets and seeds.")
    axis = contrast[0]
    runs = runs.assign(model=model_labels(runs))
    order = list(dict.fromkeys(runs.sort_values(["affine", "activation", "depth"],
                                                ascending=[False, True, True])["model"]))  # fmt: skip
    summary = summarize(
        runs, ["dataset", "model", axis], within=["dataset"],
        n_resamples=inputs.n_resamples, seed=inputs.seed,
    )  # fmt: skip
    if summary.empty:
        raise Skip(f"no setting is shared by every model and {axis}. {note(summary)}")
    affine = set(runs.loc[runs["affine"] | (runs["depth"] == 0), "model"])
    styles = activation_styles(order, affine)
    for k, model in enumerate(m for m in order if m in affine):  # affine models: grey, own marker
        # and their own dashes, the second hollow: two linear models often coincide exactly
        styles[model] = {**styles[model], "marker": MARKERS[k % len(MARKERS)],
                         "linestyle": AFFINE_DASHES[k % len(AFFINE_DASHES)]}  # fmt: skip
        if k % 2:
            styles[model]["markerfacecolor"] = "white"
    plotted = summary.rename(columns={"model": "activation"})
    figure = figures.plot_accuracy_against(
        plotted, axis, references=references(plotted, ["dataset", axis]), styles=styles
    )
    caption = (
        f"Test accuracy against {axis}, one panel per dataset, for each model of this block "
        f"(activation{', depth' if 'depth' in order[0] else ''}), mean over replicates with 95% "
        f"intervals; {REFERENCE_PHRASE}. {note(summary)}"
    )
    table = _table(summary, axis, order)
    text = "\n\n".join([_paragraph(summary, axis, order), table.to_markdown(index=False,
                                                                             disable_numparse=True)])  # fmt: skip
    return Built(figure, caption, text, data=summary)


def _table(summary: pd.DataFrame, axis: str, order: list[str]) -> pd.DataFrame:
    """A row per dataset and model; a column per value of the contrast, then chance and the
    best possible on the same test points (%)."""
    values = levels(summary, axis)
    rows = []
    for dataset in levels(summary, "dataset"):
        part = summary[summary["dataset"] == dataset]
        yard = part[["chance", "bayes"]].mean() if "bayes" in part else None
        for model in [m for m in order if m in set(part["model"])]:
            here = part[part["model"] == model]
            row = {"dataset": dataset, "model": model}
            for value in values:
                match = here[here[axis] == value]
                row[f"{axis} {fmt(value)}"] = table_cell(match.iloc[0] if len(match) else None)
            if yard is not None:
                row["chance"] = _number(yard["chance"])
                row["best possible"] = _number(yard["bayes"])
            rows.append(row)
    return pd.DataFrame(rows)


def _number(value: float) -> str:
    return f"{100 * value:.1f}" if np.isfinite(value) else "–"


def _paragraph(summary: pd.DataFrame, axis: str, order: list[str]) -> str:
    """Per dataset, each model at the contrast's first value against the others, in the words
    of bench.report.wording ("higher than" only when the intervals do not overlap)."""
    values = levels(summary, axis)
    first, others = values[0], values[1:]
    sentences = []
    for dataset in levels(summary, "dataset"):
        part = summary[summary["dataset"] == dataset]
        clauses = []
        for model in [m for m in order if m in set(part["model"])]:
            here = part[part["model"] == model].set_index(axis)
            if first not in here.index:
                continue
            for value in others:
                if value in here.index:
                    word = compare(here.loc[value], here.loc[first], HIGHER)
                    clauses.append(
                        f"{model} with {axis} {fmt(value)} {pct_ci(here.loc[value])}, {word} "
                        f"with {fmt(first)} ({pct_ci(here.loc[first])})"
                    )
        if clauses:
            sentences.append(f"On {dataset}: " + "; ".join(clauses) + ".")
    return " ".join(sentences)
