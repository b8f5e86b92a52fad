"""How numbers are written: percentages with intervals, comparisons by interval overlap, and the
markdown tables of summary.md.

Comparisons say "higher than" or "lower than" only when the two 95% intervals do not overlap, and
"no different from" when they do (the rules are :mod:`bench.report.wording`'s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.results import activation_order, levels
from bench.report.tables import cell

HIGHER = ("higher than", "lower than", "no different from")

BETTER = ("better than", "worse than", "no better than")


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.8123 -> '81.2%' ('n/a' for NaN)."""
    return "n/a" if not np.isfinite(x) else f"{100 * x:.{digits}f}%"


def pct_ci(row) -> str:
    """'81.2% [79.0, 83.1]' from a row with mean, low, high (the interval omitted if unknown)."""
    return _interval(row, "{mean}% [{low}, {high}]", "{mean}% (one seed, no interval)", "n/a")


def table_cell(row) -> str:
    """'81.2 [79.0, 83.1]' (percent) for a markdown table; '–' when there is no value."""
    return _interval(row, "{mean} [{low}, {high}]", "{mean}", "–")


def _interval(row, both: str, point_only: str, missing: str) -> str:
    """A row's mean, low and high as percentages with one decimal, in the template that fits:
    ``both`` bounds known, ``point_only`` (one seed), ``missing`` (no row or no mean)."""
    if row is None or not np.isfinite(row["mean"]):
        return missing
    values = {k: f"{100 * row[k]:.1f}" for k in ("mean", "low", "high")}
    if not (np.isfinite(row["low"]) and np.isfinite(row["high"])):
        return point_only.format(**values)
    return both.format(**values)


def iqm_row(row) -> dict:
    """A ranking row's IQM as a mean, low, high row."""
    return {"mean": row["iqm"], "low": row["iqm_low"], "high": row["iqm_high"]}


def compare(a, b, words: tuple[str, str, str] = HIGHER) -> str:
    """'higher than', 'lower than' or 'no different from' (or the given ``words``): a against b,
    by whether their 95% intervals overlap.

    With an interval missing (one seed) the means decide, and the phrase says so.
    """
    higher, lower, same = words
    if all(np.isfinite([a["low"], a["high"], b["low"], b["high"]])):
        if a["low"] > b["high"]:
            return higher
        if a["high"] < b["low"]:
            return lower
        return same
    if a["mean"] == b["mean"]:
        return same
    word = higher if a["mean"] > b["mean"] else lower
    return f"{word} (one seed, no interval)"


def fmt(value) -> str:
    """An axis value as the report prints it: floats in their shortest form."""
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def fmt_list(values) -> str:
    return ", ".join(fmt(v) for v in values)


# -----------------------------------------------------------------------------
# markdown tables


def accuracy_pivot(
    summary: pd.DataFrame, column: str, references: dict[str, dict] | None = None
) -> pd.DataFrame:
    """A summary by activation x ``column`` as a table: activations as rows, the column's values
    as columns, 'mean [low, high]' (percent) in each cell. ``references`` adds rows above them:
    {row label: {column value: fraction}} (chance, the best possible accuracy)."""
    rows, columns = activation_order(summary["activation"]), levels(summary, column)
    labels = [f"{column} {fmt(v)}" if column != "dataset" else fmt(v) for v in columns]
    pivot = pd.DataFrame(index=pd.Index(rows, name="activation"))
    for label, value in zip(labels, columns, strict=True):
        pivot[label] = [table_cell(cell(summary, activation=a, **{column: value})) for a in rows]
    if references:
        extra = pd.DataFrame(
            [
                [_reference_cell(values.get(v, np.nan)) for v in columns]
                for values in references.values()
            ],
            index=pd.Index([f"*{name}*" for name in references], name="activation"),
            columns=labels,
        )
        pivot = pd.concat([extra, pivot])
    return pivot


def _reference_cell(value: float) -> str:
    return f"{100 * value:.1f}" if np.isfinite(value) else "–"


def note(summary: pd.DataFrame, intervals: bool = False) -> str:
    """What a summary's cells average over and what its selection left out
    (:meth:`bench.report.support.Selection.note`), and, with ``intervals``, what its intervals
    cover (said once, in the report's "How to read", so captions leave it out)."""
    selection = summary.attrs.get("selection")
    text = selection.note() if selection is not None else ""
    return (text + " " + INTERVALS).strip() if intervals else text


INTERVALS = (
    "Intervals: 95% two-level bootstrap, resampling the data samples and then the "
    "initialisation seeds within each, so they cover both the test set drawn and the seed."
)


def yardstick_markdown(yardsticks: pd.DataFrame) -> str:
    """Chance, the best possible on the same test points and the expected best possible, a row
    per dataset and noise level (percent)."""
    table = pd.DataFrame(
        {
            "dataset": yardsticks["dataset"],
            "noise": [fmt(v) for v in yardsticks["noise"]],
            "chance": [_reference_cell(v) for v in yardsticks["chance"]],
            "best straight line, these test points": [
                _reference_cell(v) for v in yardsticks["line"]
            ],
            "best possible, these test points": [_reference_cell(v) for v in yardsticks["bayes"]],
            "best possible, expected": [_reference_cell(v) for v in yardsticks["ceiling"]],
        }
    )
    return table.to_markdown(index=False)


def ranking_markdown(ranking: pd.DataFrame) -> str:
    reference = ranking.attrs.get("reference", "relu")
    table = pd.DataFrame(
        {
            "activation": ranking["activation"],
            "tier": ranking["tier"],
            "IQM test accuracy (%) [95% CI]": [
                table_cell(iqm_row(r)) for _, r in ranking.iterrows()
            ],
            f"P(> {reference}) [95% CI]": [
                "reference"
                if r.activation == reference
                else _probability(r.p_improve, r.p_low, r.p_high)
                for r in ranking.itertuples()
            ],
            "tasks": ranking["n_tasks"],
            "replicates": ranking["n_replicates"],
        }
    )
    return table.to_markdown(index=False)


def _probability(p: float, low: float, high: float) -> str:
    if not np.isfinite(p):
        return "–"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{p:.2f}"
    return f"{p:.2f} [{low:.2f}, {high:.2f}]"
