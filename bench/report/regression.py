"""Regression: fitting a function. The report's section on the regression runs (n_classes 0).

Without an activation a network is one affine map, so on a regression dataset it can at best
fit the least-squares line (or plane) of its inputs; with one it can bend. This section shows
that from the runs alone: per dataset (and noise level, feature map when they vary) a table of
test R^2 by activation (the linear network first) and depth, each beside two yardsticks computed
from the data (bench.data.ceiling.r2_yardsticks), a sentence, a figure of the same numbers, and a
gallery of the fitted functions.

Every number is a :func:`bench.report.tables.summarize` row (:mod:`bench.report.
regression_summaries`); every comparative word follows :mod:`bench.report.wording` at the
printed precision: "higher"/"lower" only when the intervals do not overlap, ties named as ties.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.figure_kit import Built, Inputs, Skip
from bench.report.markdown import compare, fmt_list, note
from bench.report.regression_figures import (
    depth_phrase,
    plot_function_gallery,
    plot_r2_against_depth,
    select_fits,
)
from bench.report.regression_summaries import (
    RegressionSummaries,
    affine_name,
    block_keys,
    block_label,
    block_references,
    model_order,
    paired_word,
    printed,
    r2,
    r2_cell,
    r2_ci,
    rows_of,
)
from bench.report.results import levels
from bench.report.tables import cell
from bench.report.wording import top_group, top_phrase

WORDS = ("higher than", "lower than", "tied with")  # markdown.compare's words, ties named
READING = (
    "Regression runs are scored by their test $R^2$ (1 minus the residual over the total sum of "
    "squares on the test set: 1 is a perfect fit, 0 no better than the test targets' mean), "
    "beside two yardsticks computed from the same test set: the best possible, the $R^2$ of the "
    "noise-free function itself (only the target's noise is left; unknown for a CSV dataset), "
    "and the best line or plane, the least-squares affine fit of the inputs on the training "
    "set, which is the most a network without an activation can reach. $R^2$ is printed to "
    "three decimals and compared at that precision."
)


def _versus(a, b) -> str:
    """'higher than', 'lower than' or 'tied with', at the printed precision."""
    return compare(printed(pd.DataFrame([a])).iloc[0], printed(pd.DataFrame([b])).iloc[0], WORDS)


def _depths(depths: list) -> str:
    """'depth 2', 'depths 0 and 2', 'depths 0, 1 and 2'."""
    if len(depths) == 1:
        return f"depth {fmt_list(depths)}"
    return f"depths {fmt_list(depths[:-1])} and {fmt_list(depths[-1:])}"


def finding(rs: RegressionSummaries, key: tuple) -> str:
    """The sentence on one block: the linear network (every depth pooled) against the best
    line or plane, then the top at the greatest depth against the best possible and the linear
    network."""
    where = block_label(rs.blocks, key)
    best, line = block_references(rs, key)
    shape = affine_name(rs, key)
    linear = cell(rows_of(rs.by_activation, rs.blocks, key), activation=rs.control)
    sentences = []
    if linear is not None and np.isfinite(linear["mean"]):
        depths = levels(rows_of(rs.runs, rs.blocks, key)[lambda r: r["activation"] == rs.control],
                        "depth")  # fmt: skip
        text = (
            f"On {where} the linear network ({rs.control}, {_depths(depths)}) reaches "
            f"$R^2$ {r2_ci(linear)}"
        )
        if np.isfinite(line):
            word = paired_word(cell(rows_of(rs.to_line, rs.blocks, key), activation=rs.control))
            prose = "straight line" if shape == "line" else shape
            text += f", {word} the best {prose}'s {r2(line)}"
            if word in ("tied with", "equal to"):
                most = {"line": "a straight line", "plane": "a plane"}.get(
                    shape, "an affine map of its inputs"
                )
                text += f": a network without an activation is one affine map, so {most} is the "
                text += "most it can fit"
        sentences.append(text + ".")
    else:
        sentences.append(f"On {where} no linear network ran.")
    part = rows_of(rs.by_depth, rs.blocks, key)
    nonlinear = part[~part["activation"].isin(rs.affine)]
    if not nonlinear.empty:
        deepest = nonlinear["depth"].max()
        top = top_group(printed(nonlinear[nonlinear["depth"] == deepest]))
        if top is not None:
            leader = top.rows.iloc[0]
            clauses = []
            if np.isfinite(best):
                gap = rows_of(rs.to_best, rs.blocks, key)
                word = paired_word(cell(gap, activation=leader["activation"], depth=deepest))
                chance = _by_chance(rs, key) if word.startswith("higher") else ""
                clauses.append(f"{word} the best possible {r2(best)}{chance}")
            if linear is not None and np.isfinite(linear["mean"]):
                clauses.append(f"{_versus(leader, linear)} the linear network")
            text = f"At depth {deepest:g}, " + top_phrase(top, r2_ci)
            if clauses:
                text += f"; {top.names[0]} is " + " and ".join(clauses)
            if not np.isfinite(best):
                text += " (no best possible: the function behind a CSV file is unknown)"
            sentences.append(text + ".")
    return " ".join(sentences)


def _by_chance(rs: RegressionSummaries, key: tuple) -> str:
    """Why a fit can score above the best possible on a finite test set."""
    runs = rows_of(rs.runs, rs.blocks, key)
    points = int(round((runs["n_samples"] * runs["test_size"]).median()))
    return (
        f" (by chance: on {points} test points a fit can land nearer the noisy targets than the "
        "noise-free function does, which no model does on average)"
    )


def block_table(rs: RegressionSummaries, key: tuple) -> pd.DataFrame:
    """One block as a markdown-ready table: the best possible and the best line (or plane)
    first, then the activations (the linear network first); one column per depth."""
    part = rows_of(rs.by_depth, rs.blocks, key)
    depths = levels(part, "depth")
    best, line = block_references(rs, key)
    columns = [f"depth {d:g}" for d in depths]
    rows = {
        "*best possible*": [r2(best) if np.isfinite(best) else "–"] * len(depths),
        f"*best {affine_name(rs, key)}*": [r2(line) if np.isfinite(line) else "–"] * len(depths),
    }
    for activation in model_order(part["activation"].unique(), rs.affine):
        rows[activation] = [r2_cell(cell(part, activation=activation, depth=d)) for d in depths]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index.name = "activation"
    return table


# -----------------------------------------------------------------------------
# the sections


def _summaries(inputs: Inputs) -> RegressionSummaries:
    rs = inputs.regression
    if rs is None or rs.by_depth.empty:
        raise Skip("no regression run has a finite test $R^2$.")
    return rs


def _seeds(rs: RegressionSummaries) -> str:
    """'10 replicates' (a data sample and a seed each), or '3 seeds' on one data sample."""
    n = int(rs.by_depth["n"].max())
    runs = rs.by_depth.attrs["selection"].runs if "selection" in rs.by_depth.attrs else None
    samples = runs["data_seed"].nunique() if runs is not None and "data_seed" in runs else 1
    if samples > 1:
        return f"{n} replicate{'s' if n != 1 else ''}"
    return f"{n} seed{'s' if n != 1 else ''}"


def build_fit(inputs: Inputs) -> Built:
    """Test R^2 against depth (figure), then per block its sentence and table."""
    rs = _summaries(inputs)
    figure = plot_r2_against_depth(rs, inputs.styles)
    left = f"; {rs.left_out}" if rs.left_out else ""
    caption = (
        f"Test $R^2$ against depth, one panel per regression dataset, mean over {_seeds(rs)} "
        f"(each first averaged over the other axes) with 95% intervals{left}; the dash-dotted line is the best possible $R^2$ (the noise-free function "
        "on the same test points), the dashed one the best straight line or plane (the least-squares "
        "affine fit on the training set), the most a network without an activation can reach."
    )
    how = (
        "Test $R^2$ by activation and depth: mean over replicates [95% interval]; each "
        f"replicate is first averaged over the other axes. {note(rs.by_depth)} The first rows "
        "are the yardsticks, computed on the same test points: the best possible $R^2$ (– for a "
        "CSV dataset) and that of the best line or plane; a score is compared with them paired, "
        "run by run on the same test set (equal fits are called equal). All of it is in "
        "tables/regression_r2_vs_depth.csv."
    )
    parts = [how]
    for key in block_keys(rs):
        parts += [finding(rs, key), block_table(rs, key).to_markdown()]
    return Built(figure, caption, "\n\n".join(parts), data=table_csv(rs))


def build_gallery(inputs: Inputs) -> Built:
    """The fitted functions, from the stored surfaces."""
    rs = _summaries(inputs)
    surfaces = rs.results.surfaces
    if surfaces is None or surfaces.empty:
        raise Skip("no surface of a regression run was stored (surfaces.parquet).")
    selected, choice = select_fits(surfaces, rs.results.runs)
    figure = plot_function_gallery(selected, inputs.styles, rs.affine)
    widths = len(levels(selected, "width")) > 1
    caption = (
        "The functions the networks fitted, one seed per panel, datasets as rows (each at its "
        f"lowest noise), activations as columns, {depth_phrase(choice, widths)} (the deepest "
        "stored). One input: the fitted curve, the true function dashed and the test points "
        "at their targets; two: the predicted value as colour, the test points coloured by "
        "their targets on the same scale. The corner shows the run's test $R^2$."
    )
    return Built(figure, caption)


SECTIONS = (
    ("regression_r2_vs_depth.png", "Regression: fitting a function", build_fit),
    ("regression_fits.png", "Regression: the fitted functions", build_gallery),
)


def table_csv(rs: RegressionSummaries) -> pd.DataFrame:
    """Every block's summary by activation and depth, with its yardsticks."""
    return rs.by_depth.merge(rs.references, on=rs.blocks, how="left")


def headline(rs: RegressionSummaries) -> str:
    """A bullet per block: the top at the greatest depth beside the yardsticks, and the linear
    network."""
    lines = [
        "Regression (test $R^2$, 1 is a perfect fit; mean over replicates [95% interval]): per "
        "dataset, the best activation at the greatest depth, or those tied at the top, beside "
        "the best possible $R^2$ and the best line's or plane's:",
        "",
    ]
    for key in block_keys(rs):
        best, line = block_references(rs, key)
        part = rows_of(rs.by_depth, rs.blocks, key)
        nonlinear = part[~part["activation"].isin(rs.affine)]
        linear = cell(rows_of(rs.by_activation, rs.blocks, key), activation=rs.control)
        possible = r2(best) if np.isfinite(best) else "unknown"
        yardsticks = f"best possible {possible}, best {affine_name(rs, key)} {r2(line)}"
        line_text = f"- **{block_label(rs.blocks, key)}** ({yardsticks})"
        clauses = []
        if not nonlinear.empty:
            deepest = nonlinear["depth"].max()
            top = top_group(printed(nonlinear[nonlinear["depth"] == deepest]))
            if top is not None:
                clauses.append(f"at depth {deepest:g}, {top_phrase(top, r2_ci)}")
        if linear is not None and np.isfinite(linear["mean"]):
            clauses.append(f"the linear network ({rs.control}) {r2_ci(linear)}")
        lines.append(line_text + (": " + "; ".join(clauses) if clauses else "") + ".")
    return "\n".join(lines) if len(lines) > 2 else ""
