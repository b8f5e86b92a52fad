"""Runs -> cells: what the explore page shows per setting of the varying axes.

A *cell* is one setting of every axis that varies in the grid, except the seed axes
(``schema.SEED_AXES``); its runs are the replicates that intervals are computed over. The page
never sees a run row: per cell it gets the per-seed test accuracies (for the dots and for
pairing two cells by seed), their mean with a 95% bootstrap interval (``bench.stats``), the
mean and range over seeds of every measure, and pointers to its control, the best cell of its
data and its decision surface. A regression cell (n_classes 0) is scored by test R^2 instead
of accuracy (``score``), beside the R^2 of the noise-free function and of the best affine fit
(``yard``, bench.data.ceiling.r2_yardsticks, as in the report).

Failed runs (``error`` not empty) and diverged runs (``diverged``: the training loss stopped
being finite or grew 100-fold) are left out of every statistic and counted per cell, as in the
report.

The page opens on the lesson (``lesson``): the linear network (the affine control) beside the
activation that beats it by the most, on raw inputs.

A grid of several blocks (bench.results.blocks) is shown one block (study) at a time: each block lists
its cells, the axes that vary within it, and its own control, best and lesson, read among its
cells alone (``block_view``); the page opens on the main block's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.activations.builtins import BUILTINS
from bench.data.ceiling import ceiling, r2_yardsticks
from bench.data.datasets import BUILTIN_DATASETS, REGRESSION_DATASETS, DatasetError
from bench.data.features import FEATURE_MAPS
from bench.schema import AXES, DATA_AXES, DERIVED_AXES, METRICS, SEED_AXES, dataset_properties
from bench.spec import LATER_FIELDS
from bench.stats import bootstrap_ci

# The measures the page tabulates and plots, in this order: every per-run metric of the schema.
MEASURES: tuple[str, ...] = tuple(c.name for c in METRICS)
MEANINGS: dict[str, str] = {c.name: c.meaning for c in METRICS}


# Axes that change what is recorded about a run, not what it learns: two cells that differ only
# in these show the same function (and may share a decision surface).
BOOKKEEPING_AXES: tuple[str, ...] = ("eval_every", "target_acc")
# The level an axis is held at in the first view when the grid varies it: raw inputs and no
# regulariser (spec.LATER_FIELDS: the settings every run had before the axis existed).
REFERENCE_LEVELS: dict[str, object] = dict(LATER_FIELDS)


@dataclass(frozen=True)
class Layout:
    """Which axes a grid varies and their levels, in display order."""

    axes: tuple[str, ...]  # varying non-seed axes, in AXES order: a cell's key
    levels: dict[str, list]  # axis -> its distinct values (raw, as in runs.parquet)
    seed_axes: tuple[str, ...]  # the seed axes present in runs (all of them define a replicate)
    fixed: dict[str, object]  # every other axis -> its one value


def _ordered(axis: str, values) -> list:
    """Distinct values in display order: built-in activations, datasets and feature maps in
    their canonical order first (raw inputs first, as in the report), everything else sorted."""
    distinct = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    canonical = {
        "activation": [b.name for b in BUILTINS],
        "dataset": list(BUILTIN_DATASETS),
        "features": list(FEATURE_MAPS),
    }.get(axis, [])
    known = [v for v in canonical if v in distinct]
    rest = sorted((v for v in distinct if v not in canonical), key=lambda v: (str(type(v)), v))
    return known + rest


def grid_layout(runs: pd.DataFrame) -> Layout:
    """The varying axes of `runs` (at least one: activation, if nothing varies)."""
    present = [a for a in AXES if a in runs and a not in DERIVED_AXES]
    levels = {a: _ordered(a, runs[a]) for a in present}
    properties = dataset_properties(runs)  # set by each dataset (a real table's rows): no control
    varying = [a for a in present if a not in (*SEED_AXES, *properties) and len(levels[a]) > 1]
    if not varying:
        varying = ["activation"]
    fixed = {a: _python(levels[a][0]) for a in present if len(levels[a]) == 1 and a not in varying}
    fixed.update({a: "set by each dataset" for a in properties})
    seeds = tuple(a for a in SEED_AXES if a in runs)
    return Layout(tuple(varying), {a: levels[a] for a in varying}, seeds, fixed)


def level_labels(axis: str, levels: list) -> list[str]:
    """How the page names each level (and writes it in the URL): str(value), a CSV dataset by
    its file's stem unless two stems clash."""
    labels = [value_label(v) for v in levels]
    if axis == "dataset":
        stems = [Path(label).stem if label.lower().endswith(".csv") else label for label in labels]
        if len(set(stems)) == len(stems):
            labels = stems
    return labels


def value_label(value) -> str:
    """A value as the page writes it: str(value), booleans as true/false."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(_python(value))


def is_numeric(levels: list) -> bool:
    """Whether an axis's levels are numbers, so a line through them means something."""
    return all(isinstance(v, (int, float, np.integer, np.floating)) for v in levels) and not any(
        isinstance(v, (bool, np.bool_)) for v in levels
    )


def _python(value):
    """A numpy scalar as the plain Python value (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _round(x: float, digits: int = 5) -> float | None:
    """JSON-friendly: NaN and infinities become None (null)."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


# --------------------------------------------------------------------------- per cell


def cell_index(
    runs: pd.DataFrame, layout: Layout, blocks: list[set[str]] | None = None
) -> tuple[pd.DataFrame, list[list[int]]]:
    """(`runs` with three columns added, each block's cells).

    The columns: `key` (the tuple of a run's level indices, one per varying axis), `cell` (its
    cell's position: cells follow level order) and `replicate` (the tuple of its seed axes'
    values). `blocks` holds each block's run ids (None: one block of every run). A cell is a key
    and the runs a block holds with it, so a cell two blocks share is one cell when they hold
    the same runs of it (the usual case: a run two blocks share is stored once); if they hold
    different seeds of it, each block gets its own cell with that key, and a run in both is
    repeated, once per cell. Runs in no block are left out.
    """
    runs = runs.copy()
    codes = [
        pd.Categorical(runs[a], categories=layout.levels[a]).codes.astype(np.int64)
        for a in layout.axes
    ]  # (axes, runs)
    runs["key"] = list(zip(*codes, strict=True))
    runs["replicate"] = list(zip(*(runs[a].map(_python) for a in layout.seed_axes), strict=True))
    if blocks is None:
        blocks = [set(runs["run_id"])]
    first: dict[tuple, int] = {}  # (key, run ids) -> the first block that holds it
    held: list[list[tuple]] = []  # per block, its (key, run ids)
    for b, ids in enumerate(blocks):
        mine = runs[runs["run_id"].isin(ids)]
        by_key: dict[tuple, set[str]] = {}
        for rid, key in zip(mine["run_id"], mine["key"], strict=True):
            by_key.setdefault(key, set()).add(rid)
        held.append([(key, frozenset(rids)) for key, rids in by_key.items()])
        for cell in held[-1]:
            first.setdefault(cell, b)
    order = sorted(first, key=lambda cell: (cell[0], first[cell]))
    position = {cell: i for i, cell in enumerate(order)}
    table = pd.DataFrame(
        [(rid, position[cell]) for cell in order for rid in sorted(cell[1])],
        columns=["run_id", "cell"],
    )
    runs = runs.merge(table, on="run_id").reset_index(drop=True)  # a run in two cells: twice
    return runs, [sorted(position[cell] for cell in cells) for cells in held]


def function_key(runs: pd.DataFrame, layout: Layout) -> pd.Series:
    """Per run of `cell_index(runs)`, its cell's key without the BOOKKEEPING_AXES: runs with
    the same function key learned the same kind of function (only what was recorded differs)."""
    keep = [j for j, a in enumerate(layout.axes) if a not in BOOKKEEPING_AXES]
    return runs["key"].map(lambda key: tuple(key[j] for j in keep))


def _measures(ok: pd.DataFrame) -> list[list[float | None]]:
    """[mean, min, max] over the cell's successful runs, per measure (None where unmeasured)."""
    out = []
    for name in MEASURES:
        values = ok[name].to_numpy(float) if name in ok else np.array([])
        values = values[np.isfinite(values)]
        if values.size == 0:
            out.append([None, None, None])
        else:
            out.append([_round(values.mean()), _round(values.min()), _round(values.max())])
    return out


def usable(runs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(failed, diverged) masks of `runs`: failed runs have an `error`; diverged ones trained
    but their loss stopped being finite or grew 100-fold (counted apart from failed ones)."""
    failed = runs["error"].fillna("").astype(str).str.len() > 0
    if "diverged" in runs:
        diverged = runs["diverged"].fillna(False).astype(bool) & ~failed
    else:
        diverged = pd.Series(False, index=runs.index)
    return failed, diverged


def summarise_cells(runs: pd.DataFrame, layout: Layout, replicates: list[tuple]) -> list[dict]:
    """One JSON-ready record per cell of `cell_index(runs)`, in cell order.

    Keys: k (level index per axis), n (runs), failed, diverged, s (replicate indices into
    `replicates`) and acc (their test scores, same order; failed and diverged runs left out),
    ci ([mean, low, high],
    95% bootstrap over replicates), m ([mean, min, max] per MEASURES), classes, affine. The
    score is the test accuracy, or for a regression cell the test R^2: such a cell also has
    score ("test_r2") and yard ([best possible, best affine] R^2, None where unknown).
    """
    replicate_index = {r: i for i, r in enumerate(replicates)}
    records = []
    for _, group in runs.groupby("cell", sort=True):
        failed, diverged = usable(group)
        ok = group[~failed & ~diverged].sort_values(list(layout.seed_axes))
        classes = group["n_classes"].dropna() if "n_classes" in group else pd.Series([])
        regression = is_regression(group, classes)
        acc = ok["test_r2" if regression else "test_acc"].to_numpy(float)
        keep = np.isfinite(acc)
        ci = bootstrap_ci(acc)
        records.append(
            {
                "k": [int(i) for i in group["key"].iloc[0]],
                "n": int(len(group)),
                "failed": int(failed.sum()),
                "diverged": int(diverged.sum()),
                "s": [replicate_index[r] for r in ok["replicate"][keep]],
                "acc": [_round(a) for a in acc[keep]],
                "ci": [_round(v) for v in ci],
                "m": _measures(ok),
                "classes": int(classes.max()) if len(classes) else None,
                "affine": bool(group["affine"].fillna(False).astype(bool).any())
                if "affine" in group
                else False,
            }
        )
        if regression:
            records[-1].update(score="test_r2", yard=r2_yardstick_means(ok))
    return records


def is_regression(group: pd.DataFrame, classes: pd.Series) -> bool:
    """A cell of regression runs: n_classes 0, or (every run failed) a regression dataset."""
    if len(classes):
        return bool(classes.max() == 0)
    return bool(group["dataset"].astype(str).isin(REGRESSION_DATASETS).any())


def r2_yardstick_means(ok: pd.DataFrame) -> list[float | None]:
    """[best possible, best affine] R^2 averaged over a regression cell's runs' data (the data
    seeds of its replicates); None where the data cannot be made again or has no known function."""
    axes = [a for a in DATA_AXES if a in ok]
    values = []
    for key in ok[axes].itertuples(index=False, name=None):
        try:
            values.append(r2_yardsticks(**{a: _python(v) for a, v in zip(axes, key, strict=True)}))
        except (DatasetError, OSError, TypeError, ValueError):
            values.append((np.nan, np.nan))
    if not values:
        return [None, None]
    means = np.asarray(values, dtype=float).mean(0)  # NaN where any run's is unknown
    return [_round(v) for v in means]


# --------------------------------------------------------------------------- yardsticks


def _ceiling(record: dict, layout: Layout) -> float | None:
    """The best possible (Bayes) accuracy of the cell's data: bench.data.ceiling, as in the report."""
    value = {a: layout.levels[a][record["k"][j]] for j, a in enumerate(layout.axes)}
    dataset = value.get("dataset", layout.fixed.get("dataset"))
    noise = value.get("noise", layout.fixed.get("noise"))
    try:
        return ceiling(str(dataset), float(noise))
    except (DatasetError, TypeError, ValueError):
        return None


def add_ceilings(records: list[dict], layout: Layout) -> None:
    """Adds to each record `ceiling`, the best possible accuracy of its data (None for CSV and
    regression data; a regression cell's yardsticks are its `yard`)."""
    for r in records:
        r["ceiling"] = _ceiling(r, layout)


def yardsticks(records: list[dict], layout: Layout) -> tuple[list, list]:
    """(control, best): per record, the index in `records` of its control (the cell that
    differs only in using the linear control, the first affine activation; None if absent) and
    of the best (the cell with the highest mean test score among those with the same data:
    dataset, noise and the other data axes). Pass one block's records: both are read within it.
    """
    by_key = {tuple(r["k"]): i for i, r in enumerate(records)}
    axes = list(layout.axes)
    act = axes.index("activation") if "activation" in axes else None
    affine = [r["k"][act] for r in records if r["affine"]] if act is not None else []
    control_level = min(affine) if affine else None  # levels are in display order
    data_axes = [i for i, a in enumerate(axes) if a in DATA_AXES and a not in SEED_AXES]

    best: dict[tuple, int] = {}
    for i, r in enumerate(records):
        group = tuple(r["k"][j] for j in data_axes)
        mean = r["ci"][0]
        if mean is not None and (group not in best or mean > records[best[group]]["ci"][0]):
            best[group] = i
    control: list[int | None] = []
    for i, r in enumerate(records):
        if act is None:  # one activation in the grid: the cell is its own control, or has none
            control.append(i if r["affine"] else None)
        elif control_level is None:
            control.append(None)
        else:
            key = list(r["k"])
            key[act] = control_level
            control.append(by_key.get(tuple(key)))
    return control, [best.get(tuple(r["k"][j] for j in data_axes)) for r in records]


# --------------------------------------------------------------------------- the first view


def _at_reference(record: dict, layout: Layout) -> bool:
    """Whether a cell holds every varying axis that has a reference level (REFERENCE_LEVELS:
    raw inputs, no regulariser) at it, where the grid has that level."""
    for j, axis in enumerate(layout.axes):
        if axis in REFERENCE_LEVELS and REFERENCE_LEVELS[axis] in layout.levels[axis]:
            if layout.levels[axis][record["k"][j]] != REFERENCE_LEVELS[axis]:
                return False
    return True


def lesson(records: list[dict], layout: Layout, control: list[int | None]) -> dict:
    """The first view, {"a": key, "b": key or None}: A is the affine control (the linear
    network) and B the activation that beats it by the most (mean test score), among the cells
    on raw inputs and without regularisers (REFERENCE_LEVELS), classification before regression.
    So the page opens on the dataset, depth (and other settings) where an activation matters
    most. Without a control in the grid: the first cell at the reference levels, alone.
    `control` is `yardsticks(records, layout)[0]`; pass one block's records for its view."""
    if not records:
        return {"a": None, "b": None}
    controls = {id(r): c for r, c in zip(records, control, strict=True)}

    def gain(r: dict) -> float | None:
        c = controls[id(r)]
        if r["affine"] or c is None or records[c] is r:
            return None
        mine, theirs = r["ci"][0], records[c]["ci"][0]
        return None if mine is None or theirs is None else mine - theirs

    reference = [r for r in records if _at_reference(r, layout)] or records
    for regression in (False, True):
        pool = [r for r in reference if ("score" in r) == regression and gain(r) is not None]
        if pool:
            best = max(pool, key=gain)  # the first of equals, in cell order
            return {"a": list(records[controls[id(best)]]["k"]), "b": list(best["k"])}
    return {"a": list(reference[0]["k"]), "b": None}


# --------------------------------------------------------------------------- blocks


def block_view(records: list[dict], layout: Layout, cells: list[int]) -> dict:
    """What the page needs to show one block (study) whose cells are `cells` (indices into
    `records`): axes (the indices of the axes that vary within it; at least one), levels (per
    axis, the level indices its cells use), fixed (the axes the grid varies but it holds at one
    level, by index), control and best (per cell of `cells`, as `yardsticks` reads them within
    the block, as indices into `records`), start (its first view, `lesson`), measure (the
    overview's first measure: its first cell's score) and runs, failed and diverged (counts)."""
    mine = [records[i] for i in cells]
    control, best = yardsticks(mine, layout)

    def glob(j: int | None) -> int | None:  # an index into `mine` -> one into `records`
        return None if j is None else cells[j]

    levels = [sorted({r["k"][j] for r in mine}) for j in range(len(layout.axes))]
    varying = [j for j, used in enumerate(levels) if len(used) > 1]
    if not varying and layout.axes:  # one cell: show one axis, as grid_layout does
        varying = [layout.axes.index("activation") if "activation" in layout.axes else 0]
    return {
        "cells": list(cells),
        "axes": varying,
        "levels": levels,
        "fixed": [j for j, used in enumerate(levels) if j not in varying and used],
        "control": [glob(c) for c in control],
        "best": [glob(b) for b in best],
        "start": lesson(mine, layout, control),
        "measure": next((r.get("score", "test_acc") for r in mine), "test_acc"),
        "runs": sum(r["n"] for r in mine),
        "failed": sum(r["failed"] for r in mine),
        "diverged": sum(r["diverged"] for r in mine),
    }
