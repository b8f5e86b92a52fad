"""Compact encodings of decision surfaces and learning curves for the explore page.

Both travel as base64 text of zlib-compressed little-endian arrays, which the page inflates
with the browser's own DecompressionStream("deflate"), one surface or curve at a time:

    surface  uint8[2 * res * res]  prob quantised to 0..255, then pred (class index),
                                   each row-major [iy, ix] with iy = 0 at y_min; a regression
                                   surface's prob is the predicted value, quantised over its
                                   record's range [lo, hi] (value = lo + q / 255 * (hi - lo))
    curves   uint16[4, 3, epochs]  CURVE_METRICS (a regression cell: REGRESSION_CURVES, its
                                   record's names) x (mean, min, max over seeds) x epoch;
                                   value = offset[metric] + q / 65534 * scale[metric] (offset
                                   0 unless given), q = 65535 means missing

A surface is smooth, so it compresses about fivefold: the default grid's 1,455 surfaces at
full resolution fit in a few MB.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pandas as pd

from bench.schema import CURVE_METRICS, REGRESSION_CURVES, SURFACE_KEY

MISSING_U16 = 65535  # a curve point that is NaN or infinite
_STATS = ("mean", "min", "max")  # the band is the range over seeds


def pack(array: np.ndarray) -> str:
    """An array as base64 text of its zlib-compressed little-endian bytes."""
    raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def unpack(text: str, dtype) -> np.ndarray:
    """The inverse of `pack` (for tests and checks)."""
    raw = zlib.decompress(base64.b64decode(text))
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))


def _r(x) -> float | None:
    """A coordinate for JSON: 4 decimals (a 100th of a pixel here), None if not finite."""
    x = float(x)
    return round(x, 4) if np.isfinite(x) else None


# --------------------------------------------------------------------------- surfaces


def _targets(row: pd.Series) -> np.ndarray:
    """A regression surface's test targets ((0,) for a classification surface)."""
    targets = row.get("test_target")
    return np.asarray(targets if targets is not None else [], dtype=float)


def value_range(row: pd.Series) -> list[float] | None:
    """A regression surface's [lo, hi]: its predicted values and test targets together (None
    for a classification surface, whose prob is a probability)."""
    targets = _targets(row)
    if targets.size == 0:
        return None
    values = np.concatenate([np.asarray(row["prob"], dtype=float), targets])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    return [round(lo, 5), round(hi if hi > lo else lo + 1.0, 5)]


def _downsample(row: pd.Series, stride: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(prob (r, r) uint8, pred (r, r) uint8, extent) keeping every `stride`-th grid point; a
    regression surface's values are quantised over `value_range`."""
    res = int(row["resolution"])
    prob = np.asarray(row["prob"], dtype=float).reshape(res, res)[::stride, ::stride]
    if row.get("pred") is not None:
        pred = np.asarray(row["pred"], dtype=np.int64).reshape(res, res)[::stride, ::stride]
    else:  # a table from before `pred` was stored: two classes, so prob says it
        pred = (prob > 0.5).astype(np.int64)
    # Grid points are linspace(min, max, res): the last one kept sits at index (r - 1) * stride.
    last = (prob.shape[0] - 1) * stride / max(res - 1, 1)
    x0, x1, y0, y1 = (float(row[k]) for k in ("x_min", "x_max", "y_min", "y_max"))
    extent = [x0, x0 + (x1 - x0) * last, y0, y0 + (y1 - y0) * last]
    span = value_range(row)
    if span is not None:
        prob = (prob - span[0]) / (span[1] - span[0])
    q = np.round(np.clip(np.nan_to_num(prob, nan=0.0), 0, 1) * 255).astype(np.uint8)
    return q, np.clip(pred, 0, 255).astype(np.uint8), extent


def _flag(value) -> bool:
    """A boolean column's value, missing read as False."""
    return bool(value) if pd.notna(value) else False


def _test_set(row: pd.Series) -> dict:
    test = {
        "x": [_r(v) for v in row["test_x"]],
        "y": [_r(v) for v in row["test_y"]],
        "label": [int(v) for v in row["test_label"]],
    }
    targets = _targets(row)
    if targets.size:  # regression: the points are coloured by their targets
        test["target"] = [_r(v) for v in targets]
    return test


def encode_surfaces(
    surfaces: pd.DataFrame, runs: pd.DataFrame, replicates: dict[tuple, int], stride: int = 1
) -> tuple[list[dict], list[dict], list[int | None], list[int | None]]:
    """(surface records, distinct test sets, surface index per cell, nearest index per cell).

    `runs` is `cells.cell_index(...)`'s table (with `function`, `cells.function_key`'s column,
    if cells differing only in bookkeeping axes may share a surface), `replicates` numbers its
    replicates. A record holds res, extent [x0, x1, y0, y1], plane, test (index into the test
    sets, which runs sharing data share), cell and rep (the cell and replicate of the run it was
    drawn from), diverged (whether that run diverged) and data (see the module docstring).

    A cell's surface is one drawn from a run of the same function: a run of the cell itself, or
    of a cell that differs only in bookkeeping axes; never a neighbour's (the runner stores one
    per schema.SURFACE_KEY setting, so a grid that varies features, dropout, ... has cells with
    none). For such a cell, `nearest` is the surface stored for its SURFACE_KEY setting, which
    the page may point to as another cell's, never show as this one's. Surfaces of runs not in
    `runs` are left out.
    """
    columns = ["cell", "replicate", "function" if "function" in runs else "key"]
    if "diverged" in runs:
        columns.append("diverged")
    info = runs.drop_duplicates("run_id").set_index("run_id")[columns]
    records, tests, test_ids = [], [], {}
    by_function: dict[tuple, list[tuple]] = {}  # function -> [(not own cell, rep, index)]
    by_key: dict[tuple, int] = {}  # SURFACE_KEY values -> index
    for _, row in surfaces.iterrows():
        if row["run_id"] not in info.index:
            continue
        run = info.loc[row["run_id"]]
        prob, pred, extent = _downsample(row, stride)
        test = _test_set(row)
        test_key = repr(test)
        if test_key not in test_ids:
            test_ids[test_key] = len(tests)
            tests.append(test)
        index = len(records)
        cell, rep = int(run["cell"]), replicates[run["replicate"]]
        by_function.setdefault(run[columns[2]], []).append((cell, rep, index))
        by_key.setdefault(tuple(row[k] for k in SURFACE_KEY), index)
        records.append(
            {
                "res": int(prob.shape[0]),
                "extent": [round(e, 5) for e in extent],
                "plane": str(row.get("plane", "input")),
                "test": test_ids[test_key],
                "cell": cell,
                "rep": rep,
                "diverged": _flag(run.get("diverged", False)),
                "data": pack(np.concatenate([prob.ravel(), pred.ravel()])),
            }
        )
        span = value_range(row)
        if span is not None:
            records[-1]["range"] = span
    first = runs.sort_values("cell", kind="stable").groupby("cell", sort=True).first()
    per_cell, nearest = [], []
    for c in first.index:
        # its own cell's surface first, then the lowest replicate
        candidates = sorted(
            (cell != c, rep, index)
            for cell, rep, index in by_function.get(first.loc[c, columns[2]], [])
        )
        own = candidates[0][2] if candidates else None
        per_cell.append(own)
        near = by_key.get(tuple(first.loc[c, k] for k in SURFACE_KEY)) if own is None else None
        nearest.append(near)
    return records, tests, per_cell, nearest


# --------------------------------------------------------------------------- curves


def encode_curves(curves: pd.DataFrame, runs: pd.DataFrame) -> tuple[list[dict | None], list]:
    """(one record or None per cell, distinct epoch lists).

    Per cell and epoch, the mean, min and max over its successful runs of each CURVE_METRICS
    column (a regression cell's: REGRESSION_CURVES). A record holds epochs (index into the epoch
    lists), scale (per metric: 1 for accuracies, the largest finite value for losses) and data
    (see the module docstring); a regression cell's also names (its curves) and offset (per
    metric: R^2 can be negative, so it is stored from its lowest value, or 0).
    """
    n_cells = int(runs["cell"].max()) + 1 if len(runs) else 0
    if curves is None or curves.empty or not n_cells:
        return [None] * n_cells, []
    ok = runs[runs["error"].fillna("").astype(str).str.len() == 0]
    if "n_classes" in ok:
        regression = set(ok.loc[pd.to_numeric(ok["n_classes"], errors="coerce") == 0, "cell"])
    else:
        regression = set()
    columns = [c for c in dict.fromkeys(CURVE_METRICS + REGRESSION_CURVES) if c in curves]
    table = curves.merge(ok[["run_id", "cell"]], on="run_id")
    stats = table.groupby(["cell", "epoch"], sort=True)[columns].agg(list(_STATS))
    records: list[dict | None] = [None] * n_cells
    epoch_lists, epoch_ids = [], {}
    for cell, frame in stats.groupby(level="cell"):
        epochs = tuple(int(e) for e in frame.index.get_level_values("epoch"))
        if epochs not in epoch_ids:
            epoch_ids[epochs] = len(epoch_lists)
            epoch_lists.append(list(epochs))
        names = REGRESSION_CURVES if cell in regression else CURVE_METRICS
        values = np.stack(
            [[_column(frame, m, s) for s in _STATS] for m in names]
        )  # (metrics, stats, epochs)
        offset = [_curve_offset(m, values[i]) for i, m in enumerate(names)]
        scale = [_curve_scale(m, values[i] - offset[i]) for i, m in enumerate(names)]
        q = (values - np.asarray(offset)[:, None, None]) / np.asarray(scale)[:, None, None]
        missing = ~np.isfinite(q)
        q = np.round(np.clip(np.nan_to_num(q), 0, 1) * (MISSING_U16 - 1)).astype(np.uint16)
        q[missing] = MISSING_U16
        record = {"epochs": epoch_ids[epochs], "scale": scale, "data": pack(q)}
        if cell in regression:
            record.update(names=list(names), offset=offset)
        records[int(cell)] = record
    return records, epoch_lists


def _column(frame: pd.DataFrame, metric: str, stat: str) -> np.ndarray:
    """One statistic of one curve per epoch (NaN where the table lacks the curve)."""
    if (metric, stat) in frame:
        return frame[(metric, stat)].to_numpy(float)
    return np.full(len(frame), np.nan)


def _curve_offset(metric: str, values: np.ndarray) -> float:
    """0, or an R^2 curve's lowest finite value when it is negative."""
    finite = values[np.isfinite(values)]
    if not metric.endswith("_r2") or finite.size == 0:
        return 0.0
    return round(min(float(finite.min()), 0.0), 6)


def _curve_scale(metric: str, values: np.ndarray) -> float:
    """1 for accuracies (fractions); a loss's (or an R^2's, from its offset) largest finite
    value, so it fills 16 bits."""
    if metric.endswith("_acc"):
        return 1.0
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0
