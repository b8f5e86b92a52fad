"""A results folder -> the explore page's data: one JSON document.

    runs.parquet      -> axes (varying, with their levels), replicates, cells (cells.py)
    surfaces.parquet  -> surfaces + tests (encode.py), one surface index per cell
    curves.parquet    -> curves + epochs (encode.py), one curve record per cell
    manifest.json     -> the grid's name and description, and its blocks (bench.results.blocks): per
                         block its cells, axes and first view (cells.block_view)

Each part is a top-level key of the document, so `part_bytes` can say what the page weighs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench import colors
from bench.explore.cells import (
    MEANINGS,
    MEASURES,
    add_ceilings,
    block_view,
    cell_index,
    function_key,
    grid_layout,
    is_numeric,
    level_labels,
    summarise_cells,
    usable,
    value_label,
)
from bench.explore.encode import encode_curves, encode_surfaces
from bench.results.blocks import MAIN, block_title, load_blocks
from bench.results.store import Store
from bench.schema import CURVE_METRICS, SURFACE_KEY

FORMAT_VERSION = 1
# Above this many bytes of surface data (the default grid needs about 4 MB), surfaces are
# shipped at half resolution, then a quarter, ..., so a page stays well under 10 MB.
SURFACE_BUDGET = 6_000_000

# The page's parts as `part_bytes` groups the document's keys.
PARTS = {
    "surfaces": ("surfaces", "tests"),
    "runs summary": ("cells", "blocks", "axes", "replicates", "fixed", "measures"),
    "curves": ("curves", "epochs"),
}


def _or_none(table: pd.DataFrame) -> pd.DataFrame | None:
    return table if len(table) else None


def explore_data(results_dir: Path | str, title: str | None = None) -> dict:
    """The page's whole data, JSON-ready. Raises FileNotFoundError without runs.parquet."""
    results_dir = Path(results_dir)
    store = Store(results_dir)
    tables = store.read_tables()  # one merge's tables, even while a run is writing
    runs = _or_none(tables["runs"])
    if runs is None:
        raise FileNotFoundError(f"no runs in {results_dir} (runs.parquet is missing or empty)")
    if "error" not in runs:
        runs["error"] = ""
    layout = grid_layout(runs)
    blocks = _blocks(results_dir, runs)
    runs, block_cells = cell_index(runs, layout, [ids for _, _, ids in blocks])
    runs["function"] = function_key(runs, layout)
    replicates = sorted(set(runs["replicate"]))
    replicate_index = {r: i for i, r in enumerate(replicates)}

    cells = summarise_cells(runs, layout, replicates)
    add_ceilings(cells, layout)
    surfaces, tests = _surfaces(_or_none(tables["surfaces"]), runs, replicate_index, cells)
    failed, diverged = usable(runs)
    curves, epochs = encode_curves(_or_none(tables["curves"]), runs[~failed & ~diverged])
    grid = store.read_manifest().get("grid")
    grid = grid if isinstance(grid, dict) else {}
    name = str(grid.get("name") or results_dir.name)
    once = ~runs["run_id"].duplicated()  # a run in two cells (see cell_index) counts once
    return {
        "version": FORMAT_VERSION,
        "title": title or f"nonlinbench explore: {name}",
        "grid": {
            "name": name,
            "description": " ".join(str(grid.get("description", "")).split()),
            "runs": int(once.sum()),
            "failed": int((failed & once).sum()),
            "diverged": int((diverged & once).sum()),
        },
        "axes": [
            {
                "name": a,
                "levels": level_labels(a, layout.levels[a]),
                "numeric": is_numeric(layout.levels[a]),
            }
            for a in layout.axes
        ],
        "fixed": {a: value_label(v) for a, v in layout.fixed.items()},
        "seedAxes": list(layout.seed_axes),
        # the studies, main first; the page shows one at a time (its first control when there
        # are several). Each block's first view (an empty fragment: the main block's) is its
        # lesson: A the linear network, B the activation that beats it by the most, on raw
        # inputs (cells.lesson), read within the block, as are its cells' control and best.
        "blocks": [
            {"name": b, "question": q, "title": block_title(b, q), **block_view(cells, layout, c)}
            for (b, q, _), c in zip(blocks, block_cells, strict=True)
        ],
        "replicates": [[str(v) for v in r] for r in replicates],
        "measures": [{"name": m, "meaning": MEANINGS[m]} for m in MEASURES],
        "curveMetrics": list(CURVE_METRICS),
        "cells": cells,
        "colours": _colours(layout, runs),
        "surfaceKey": list(SURFACE_KEY),
        "surfaces": surfaces,
        "tests": tests,
        "curves": curves,
        "epochs": epochs,
    }


def _blocks(results_dir: Path, runs: pd.DataFrame) -> list[tuple[str, str, set[str]]]:
    """(name, question, run ids) of each block (bench.results.blocks) that holds a stored run, main
    first; one block of every run when the manifest has one block, or none it can read (an
    older format), or none that holds a stored run."""
    try:
        blocks = load_blocks(results_dir)
    except (OSError, ValueError, KeyError, TypeError):
        blocks = None
    stored = set(runs["run_id"])
    found = [
        (name, blocks.question(name), blocks.run_ids(name) & stored)
        for name in (blocks.names() if blocks is not None else [])
    ]
    found = [block for block in found if block[2]]
    if len(found) < 2:
        name, question = found[0][:2] if found else (MAIN, "")
        return [(name, question, stored)]
    return found


def _colours(layout, runs: pd.DataFrame) -> dict:
    """The report's colours (bench.colors): classes, the regression value scale, and one per
    activation level (affine activations grey), in the order of the activation axis."""
    activations = layout.levels.get("activation", [layout.fixed.get("activation", "")])
    flags = runs["affine"].fillna(False).astype(bool) if "affine" in runs else None
    affine = set(runs.loc[flags, "activation"]) if flags is not None else set()
    return {
        "classes": list(colors.CLASS_COLOURS),
        "twoClass": colors.two_class_stops(),
        "shade": list(colors.MULTICLASS_SHADE),
        "values": list(colors.VALUE_COLOURS),
        "activations": list(colors.activation_colours(activations, affine).values()),
    }


def _surfaces(table: pd.DataFrame | None, runs, replicate_index, cells) -> tuple[list, list]:
    """Surface records within SURFACE_BUDGET bytes; sets each cell's `surface` index (None:
    none stored for this cell) and `near` (then, the surface stored for its SURFACE_KEY
    setting, which belongs to another cell; None otherwise)."""
    records, tests = [], []
    per_cell = nearest = [None] * len(cells)
    if table is not None and not table.empty:
        stride = 1
        while True:
            records, tests, per_cell, nearest = encode_surfaces(
                table, runs, replicate_index, stride
            )
            size = sum(len(r["data"]) for r in records)
            if not records or size <= SURFACE_BUDGET or records[0]["res"] <= 25:
                break
            stride *= 2
    for cell, index, near in zip(cells, per_cell, nearest, strict=True):
        cell["surface"] = index
        cell["near"] = near
    return records, tests


def part_bytes(data: dict) -> dict[str, int]:
    """Bytes of the page's JSON per part (surfaces, runs summary, curves), and in all."""
    sizes = {
        part: sum(len(json.dumps(data[k], separators=(",", ":"))) for k in keys)
        for part, keys in PARTS.items()
    }
    sizes["total"] = len(json.dumps(data, separators=(",", ":")))
    return sizes
