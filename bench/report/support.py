"""The report's one selection rule: every comparison on common support.

A comparison sets *cells* side by side (for example activation x depth) within *facets* (for
example one panel per dataset). Each cell is a mean over runs, so two cells are comparable only
if they average over the same settings of every other axis. :func:`select` is the only way the
report picks the runs of a comparison; per facet:

1. the usable runs (neither failed nor diverged) with a finite metric, then ``where``;
2. a *stratum* axis (``STRATA``: ``features``) is never pooled: unless it is compared or
   faceted it is held at its reference value (raw inputs; a linear model on quadratic features
   is a nonlinear model of the data);
3. the *nuisance* axes are the other axes that vary inside at least one cell (not the seeds,
   which are the replicates, nor bookkeeping): an axis constant inside every cell, such as a
   stack's width, describes the cell rather than being averaged over;
4. each cell's support is its set of nuisance settings, where an axis that cannot matter for a
   run matches any value (``inert_axes``: at depth 0 there is no hidden layer, so activation,
   width and dropout change nothing); only the runs whose setting every cell has are kept;
5. a facet whose cells share no setting is skipped, with the reason.

The :class:`Selection` says what was pooled (``averaged``, computed from the kept runs) and what
was left out and why, in words every caption and table reuses (:meth:`Selection.note`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.data.features import FEATURE_MAPS
from bench.report.results import BOOKKEEPING_AXES, levels, ordered, usable
from bench.schema import AXES, SEED_AXES, dataset_properties

# Axes never pooled: held at their reference value unless compared or faceted.
STRATA: dict[str, Callable[[list], object]] = {
    "features": lambda values: ordered(values, FEATURE_MAPS)[0],  # raw inputs when present
}
# Axes that change nothing in a network without hidden layers.
INERT_AT_DEPTH_0 = ("activation", "width", "dropout")
ANY = "\x00any"  # an inert axis's setting: matches every value


@dataclass(frozen=True, eq=False)  # compared by identity: pandas compares frames' attrs
class Selection:
    """The runs of one comparison and how they were chosen."""

    runs: pd.DataFrame  # the kept runs
    compare: tuple[str, ...]  # the axes whose values are the compared cells
    within: tuple[str, ...]  # the facet axes (each facet has its own support)
    averaged: dict = field(default_factory=dict)  # nuisance axis -> values pooled in some cell
    held: dict = field(default_factory=dict)  # stratum axis -> the value it was held at
    left_out: tuple = ()  # (runs, reason) pairs
    skipped: tuple = ()  # facets with no common support: their reasons

    @property
    def n_left_out(self) -> int:
        return sum(n for n, _ in self.left_out)

    def averaged_phrase(self) -> str:
        """'noise (3 values: 0.03, 0.1, 0.2), width (3 values: 4, 8, 32)' or 'no other axis'."""
        if not self.averaged:
            return "no other axis"
        return ", ".join(
            f"{axis} ({len(values)} value{'s' if len(values) != 1 else ''}: "
            f"{', '.join(_fmt(v) for v in values)})"
            for axis, values in self.averaged.items()
        )

    def note(self) -> str:
        """The caption's sentence: what each cell averages over and what was left out."""
        text = f"Each cell averages over {self.averaged_phrase()}"
        held = [f"{axis} = {_fmt(value)}" for axis, value in self.held.items()]
        if held:
            text += f", on {' and '.join(held)} only"
        inert = [a for a in self.averaged if a in INERT_AT_DEPTH_0]
        depths = set(self.runs["depth"]) if "depth" in self.runs else set()
        if inert and 0 in depths and len(depths) > 1:  # a depth-0 cell has one network
            text += (
                f" (at depth 0 there is no hidden layer, so {' and '.join(inert)} change "
                "nothing and its cells average over the rest only)"
            )
        text += "."
        if self.left_out:
            text += " Left out: " + "; ".join(f"{n} runs {why}" for n, why in self.left_out) + "."
        if self.skipped:
            text += " Skipped: " + "; ".join(self.skipped) + "."
        return text


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float | np.floating) else str(value)


def nuisance_candidates(runs: pd.DataFrame, keep: Sequence[str]) -> list[str]:
    """The axes of ``runs`` that may be averaged over: not kept, not seeds, not bookkeeping."""
    skip = (*keep, *SEED_AXES, *BOOKKEEPING_AXES, *dataset_properties(runs))
    return [a for a in AXES if a in runs and a not in skip]


def inert_axes(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run and axis, whether the axis cannot change that run's network (bool frame over
    INERT_AT_DEPTH_0): every one of them at depth 0."""
    shallow = (runs["depth"] == 0).to_numpy(bool) if "depth" in runs else np.zeros(len(runs), bool)
    return pd.DataFrame({a: shallow for a in INERT_AT_DEPTH_0}, index=runs.index)


def select(
    runs: pd.DataFrame,
    compare: Sequence[str],
    within: Sequence[str] = (),
    *,
    metric: str | None = "test_acc",
    where: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Selection:
    """The runs of a comparison of ``compare``'s cells within each facet of ``within``, on
    common support (see the module docstring). ``metric``: runs without a finite value are not
    usable for it (None: keep them)."""
    compare, within = tuple(compare), tuple(within)
    if runs.empty:
        return Selection(runs, compare, within)
    runs = usable(runs)
    if metric is not None and metric in runs:
        values = pd.to_numeric(runs[metric], errors="coerce").astype(float)
        runs = runs[np.isfinite(values.to_numpy())]
    if where is not None:
        runs = where(runs)
    left_out: list[tuple[int, str]] = []
    held = {}
    for axis, reference in STRATA.items():
        if axis in (*compare, *within) or axis not in runs:
            continue
        values = levels(runs, axis)
        if len(values) < 2:
            continue
        value = reference(values)
        held[axis] = value
        for other in values:
            if other != value:
                n = int((runs[axis] == other).sum())
                left_out.append(
                    (n, f"with {axis} = {_fmt(other)} ({axis} is held at {_fmt(value)})")
                )
        runs = runs[runs[axis] == value]
    if runs.empty:
        return Selection(runs, compare, within, {}, held, tuple(left_out))

    nuisance = [a for a in nuisance_candidates(runs, (*compare, *within)) if a not in held]
    keys = [*within, *compare]
    varying = [a for a in nuisance if _varies_inside_a_cell(runs, keys, a)]
    kept, skipped = [], []
    facets = runs.groupby(list(within), sort=True, dropna=False) if within else [((), runs)]
    for facet, part in facets:
        chosen = _common_support(part, compare, varying)
        if chosen.empty:
            name = ", ".join(f"{a} = {_fmt(v)}" for a, v in zip(within, _tuple(facet), strict=True))
            skipped.append(
                f"{name or 'all runs'}: no setting of {', '.join(varying)} is shared by every "
                "compared cell"
            )
            continue
        kept.append(chosen)
    result = pd.concat(kept) if kept else runs.iloc[0:0]
    dropped = runs.loc[runs.index.difference(result.index)]
    left_out += _reasons(dropped, result, varying)
    averaged = {}
    for axis in varying:
        mask = ~inert_axes(result)[axis] if axis in INERT_AT_DEPTH_0 else slice(None)
        values = levels(result.loc[mask], axis)
        if len(values) > 1:
            averaged[axis] = values
    return Selection(result, compare, within, averaged, held, tuple(left_out), tuple(skipped))


def _tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _varies_inside_a_cell(runs: pd.DataFrame, keys: list[str], axis: str) -> bool:
    """Whether ``axis`` takes two values among the runs of one cell (inert settings aside)."""
    part = runs[~inert_axes(runs)[axis]] if axis in INERT_AT_DEPTH_0 else runs
    if part.empty:
        return False
    if not keys:
        return part[axis].nunique(dropna=False) > 1
    return bool((part.groupby(keys, dropna=False)[axis].nunique(dropna=False) > 1).any())


def _settings(runs: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Each run's setting of ``axes``, with ANY where the axis is inert for that run."""
    settings = runs[axes].astype(object).copy()
    inert = inert_axes(runs)
    for axis in axes:
        if axis in inert:
            settings.loc[inert[axis].to_numpy(), axis] = ANY
    return settings


def _common_support(part: pd.DataFrame, compare: tuple, axes: list[str]) -> pd.DataFrame:
    """The runs of one facet whose setting of ``axes`` every compared cell has."""
    if not axes or not compare:
        return part
    settings = _settings(part, axes)
    # every concrete setting: each run's, with its ANY axes expanded over the axis's values
    values = {a: [v for v in settings[a].unique() if v != ANY] for a in axes}
    rows = {tuple(r) for r in settings.itertuples(index=False, name=None)}
    concrete: set[tuple] = set()
    for row in rows:
        options = [values[a] or [ANY] if v == ANY else [v] for a, v in zip(axes, row, strict=True)]
        concrete.update(_product(options))
    cells = part.groupby(list(compare), sort=False, dropna=False).indices
    shared = concrete
    for index in cells.values():
        have = {tuple(r) for r in settings.iloc[index].itertuples(index=False, name=None)}
        exact = {h for h in have if ANY not in h}
        loose = [h for h in have if ANY in h]
        shared = {c for c in shared if c in exact or any(_matches(h, c) for h in loose)}
        if not shared:
            return part.iloc[0:0]
    keep = [
        row in shared if ANY not in row else any(_matches(row, c) for c in shared)
        for row in settings.itertuples(index=False, name=None)
    ]
    return part[np.asarray(keep, dtype=bool)]


def _matches(setting: tuple, concrete: tuple) -> bool:
    return all(s == ANY or s == c for s, c in zip(setting, concrete, strict=True))


def _product(options: list[list]) -> list[tuple]:
    out = [()]
    for values in options:
        out = [(*head, v) for head in out for v in values]
    return out


def _reasons(dropped: pd.DataFrame, kept: pd.DataFrame, axes: list[str]) -> list[tuple[int, str]]:
    """Why runs were dropped by the support rule: the axis values that no kept run has, when one
    explains them, else the settings in general."""
    if dropped.empty:
        return []
    reasons = []
    remaining = dropped
    for axis in axes:
        missing = [v for v in levels(remaining, axis) if v not in set(kept[axis])]
        for value in missing:
            these = remaining[remaining[axis] == value]
            reasons.append(
                (len(these), f"with {axis} = {_fmt(value)}: not run for every compared cell")
            )
            remaining = remaining.drop(these.index)
    if len(remaining):
        names = ", ".join(axes)
        reasons.append((len(remaining), f"whose setting of {names} not every compared cell has"))
    return reasons
