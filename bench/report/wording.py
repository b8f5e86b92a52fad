"""The rules that decide every comparative word in the report.

The report says what the 95% intervals support and no more:

* **Best, first.** One activation is called *best* (or said to *rank first*) only when its
  interval lies wholly above every other activation's interval. Otherwise the report names the
  *tied group*: the highest mean and every activation whose interval overlaps its interval
  ("tanh, gelu, silu: tied"). With one seed there is no interval, so nothing is called best.
* **Tiers.** The ranking table's tiers apply the same rule in turn: tier 1 is the tied group at
  the top; tier 2 the tied group at the top of the rest; and so on.
* **Higher, lower.** "higher than" or "lower than" only when two intervals do not overlap; "no
  different from" when they do (:func:`bench.report.markdown.compare`).
* **Chance.** A result is *at chance* when its mean is at most AT_CHANCE above chance (the
  test set's largest class share) or anywhere below it: one wording for "no better than always
  guessing the largest class", however far below that a small test set puts it. It is *well
  above chance* when its interval's lower end is at least WELL_ABOVE above chance. Only results well above chance are compared for robustness: a network at
  chance loses nothing to noise because it has nothing to lose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

AT_CHANCE = 0.05  # at most 5 points above chance, or below it
WELL_ABOVE = 0.10  # the interval's lower end 10 points or more above chance

RULE = (
    "An activation is called best only when its 95% interval lies wholly above every other's; "
    "otherwise the activations whose intervals overlap the highest mean's are named as tied. "
    '"Higher" and "lower" need intervals that do not overlap. A result at most '
    f"{100 * AT_CHANCE:.0f} points above chance (the test set's largest class share), or below "
    f"it, is called at chance, and one whose interval starts {100 * WELL_ABOVE:.0f} points or more above chance "
    "well above it; only those are compared for robustness."
)


@dataclass(frozen=True)
class Top:
    """The top of a summary by the rule above."""

    names: list[str]  # the tied group, highest mean first (one name: a clear best)
    rows: pd.DataFrame  # their summary rows, in that order
    clear: bool  # one name whose interval lies above every other's
    has_intervals: bool  # False with one seed: means only, nothing is called best


def _bounds(rows: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, ...]:
    mean, low, high = (rows[c].to_numpy(float) for c in columns)
    return mean, np.where(np.isfinite(low), low, mean), np.where(np.isfinite(high), high, mean)


def top_group(
    summary: pd.DataFrame,
    key: str = "activation",
    columns: Sequence[str] = ("mean", "low", "high"),
    *,
    highest: bool = True,
) -> Top | None:
    """The best row of ``summary`` if its interval excludes every other's, else the tied group;
    None without a finite mean. ``highest=False`` looks for the lowest instead (the least
    accuracy lost, say)."""
    rows = summary[np.isfinite(summary[columns[0]].to_numpy(float))]
    if rows.empty:
        return None
    rows = rows.sort_values(columns[0], ascending=not highest, kind="stable")
    mean, low, high = _bounds(rows, columns)
    if not highest:  # mirror the intervals: the lowest becomes the highest
        mean, low, high = -mean, -high, -low
    has_intervals = bool(np.isfinite(rows[columns[1]].to_numpy(float)).all())
    overlaps = high >= low[0]  # the leader's interval meets theirs (the leader's own included)
    tied = rows[overlaps]
    clear = has_intervals and len(tied) == 1
    return Top(list(tied[key]), tied, clear, has_intervals)


def tiers(summary: pd.DataFrame, columns: Sequence[str] = ("mean", "low", "high")) -> list[int]:
    """A tier per row of ``summary`` (in its order): the rule above applied to the top, then
    to the top of the rest, and so on. Rows without a finite mean get tier 0."""
    mean, low, high = _bounds(summary, columns)
    tier = np.zeros(len(summary), dtype=int)
    remaining = [i for i in np.argsort(-mean, kind="stable") if np.isfinite(mean[i])]
    level = 0
    while remaining:
        level += 1
        leader = remaining[0]
        group = [i for i in remaining if high[i] >= low[leader]]
        tier[group] = level
        remaining = [i for i in remaining if i not in group]
    return tier.tolist()


def top_phrase(top: Top, quote: Callable[[pd.Series], str], what: str = "best") -> str:
    """'tanh is best (95.9% [95.8, 96.0])'; for a tie, 'tanh, gelu and silu are tied (tanh
    95.9% [95.8, 96.0]; gelu ...)' or, when every quote is the same, 'elu and gelu are tied at
    100.0% [100.0, 100.0]'; without intervals, 'tanh has the highest mean (...; one seed, so
    none is called best)'."""
    first = top.rows.iloc[0]
    if not top.has_intervals:
        return (
            f"{top.names[0]} has the highest mean ({quote(first)}; one seed, so none is called "
            f"{what})"
        )
    if top.clear:
        return f"{top.names[0]} is {what} ({quote(first)})"
    names = ", ".join(top.names[:-1]) + f" and {top.names[-1]}"
    quotes = [quote(row) for _, row in top.rows.iterrows()]
    if len(set(quotes)) == 1:
        return f"{names} are tied at {quotes[0]}"
    each = "; ".join(f"{n} {q}" for n, q in zip(top.names, quotes, strict=True))
    return f"{names} are tied ({each})"


def chance_status(mean: float, low: float, chance: float) -> str:
    """'at chance', 'well above chance' or 'above chance' by the rule above."""
    if not (np.isfinite(mean) and np.isfinite(chance)):
        return "unknown"
    if mean - chance <= AT_CHANCE:
        return "at chance"
    low = low if np.isfinite(low) else mean
    return "well above chance" if low >= chance + WELL_ABOVE else "above chance"
