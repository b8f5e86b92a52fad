"""Picking one stored run: by its id (or the start of it), or by axis filters.

    --run 3fa1                                   an id, or a start of one that only it has
    --where activation=relu --where seed=3       one AXIS=VALUE per option; the value is taken
    --where "layers=16 relu, 8 tanh"             whole, so it may hold commas and spaces

The filters must leave exactly one successful run; when they leave none or several, the error
says which values the axes take (one per line, quoted, ready to paste). The older comma form
(`--where activation=relu,seed=3`) still works where it is unambiguous: every comma-separated
part starts with a known axis and `=`.
"""

from __future__ import annotations

import difflib
import re
from pathlib import PurePosixPath

import pandas as pd

from bench.schema import AXES
from bench.spec import format_layers, parse_layers

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
MOST_LISTED = 12  # values or run ids an error lists before saying how many more there are
_COMMA_FORM = re.compile(rf"^\s*({'|'.join(AXES)})\s*=")


class PickError(ValueError):
    """What was asked names no run, or several: the message says what to give instead."""


def successful(runs: pd.DataFrame) -> pd.Series:
    if "error" not in runs:
        return pd.Series(True, index=runs.index)
    return runs["error"].fillna("").astype(str) == ""


def quoted(text: str) -> str:
    """Single-quoted for a POSIX shell, always (so a value's spaces and commas show)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _typed(axis: str, text: str, column: pd.Series):
    """A --where value typed like the runs table's column."""
    kind = column.dtype.kind
    try:
        if kind == "b":
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError
            return text.lower() in _TRUE
        if kind in "iu":
            return int(text)
        if kind == "f":
            return float(text)
    except ValueError:
        what = {"b": "true or false", "i": "an integer", "u": "an integer", "f": "a number"}
        raise PickError(f"--where {axis}={text}: {axis} is {what[kind]}") from None
    if axis == "layers":  # "16 relu,8 tanh" is "16 relu, 8 tanh"
        try:
            return format_layers(parse_layers(text))
        except ValueError:
            return text
    return text


def split_where(where: str | list[str]) -> list[str]:
    """The AXIS=VALUE items of the --where options (a comma form split when unambiguous)."""
    items = []
    for option in [where] if isinstance(where, str) else where:
        parts = option.split(",")
        if len(parts) > 1 and all(_COMMA_FORM.match(p) for p in parts):
            items.extend(parts)
        else:
            items.append(option)
    return items


def parse_where(where: str | list[str], runs: pd.DataFrame) -> dict:
    """--where options ("axis=value" each) -> {axis: typed value}, checked against the runs."""
    filters: dict = {}
    for item in split_where(where):
        axis, sep, value = item.partition("=")
        axis, value = axis.strip(), value.strip()
        if not sep or not axis or not value:
            raise PickError(
                f"--where {item!r}: expected AXIS=VALUE, e.g. --where activation=relu "
                "--where seed=3 (one option per axis)"
            )
        if axis not in AXES or axis not in runs:
            close = difflib.get_close_matches(axis, AXES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PickError(f"--where: unknown axis '{axis}'{hint}; allowed: {', '.join(AXES)}")
        if axis in filters:
            raise PickError(f"--where: axis '{axis}' is given twice")
        filters[axis] = _typed(axis, value, runs[axis])
        if axis == "dataset":
            filters[axis] = _csv_by_stem(filters[axis], runs[axis])
    return filters


def _csv_by_stem(value: str, stored: pd.Series) -> str:
    """A CSV dataset is named by its path as written in the grid ("data/f3.csv"); its stem
    ("f3") or file name names it too where no other stored dataset shares it."""
    if (stored == value).any():
        return value
    names = [n for n in stored.unique() if isinstance(n, str) and n.lower().endswith(".csv")]
    same = [n for n in names if value in (PurePosixPath(n).stem, PurePosixPath(n).name)]
    return same[0] if len(same) == 1 else value


def _sorted_values(column: pd.Series) -> list:
    values = column.unique().tolist()
    try:
        return sorted(values)
    except TypeError:  # mixed types
        return sorted(values, key=str)


def _shown(value) -> str:
    return quoted(value) if isinstance(value, str) else str(value)


def _inline(column: pd.Series, most: int = 6) -> str:
    """An axis' values on one line, strings quoted: (0, 1) or ('16 relu, 8 tanh', '8 relu')."""
    values = _sorted_values(column)
    shown = ", ".join(_shown(v) for v in values[:most])
    return shown + (f", ... ({len(values)} values)" if len(values) > most else "")


def _one_per_line(axis: str, column: pd.Series) -> str:
    values = [v for v in _sorted_values(column) if v != ""]  # "": a plain network's layers
    lines = [f"  --where {quoted(f'{axis}={v}')}" for v in values[:MOST_LISTED]]
    if len(values) > MOST_LISTED:
        lines.append(f"  ... and {len(values) - MOST_LISTED} more")
    return "\n".join(lines)


def _label(filters: dict) -> str:
    return " ".join(f"--where {quoted(f'{k}={v}')}" for k, v in filters.items())


def _by_id(runs: pd.DataFrame, ok: pd.Series, run: str, folder: str) -> pd.Series:
    matches = runs[runs["run_id"] == run]
    if matches.empty:  # a start of an id, as git takes one
        matches = runs[runs["run_id"].str.startswith(run)]
    if matches.empty:
        raise PickError(
            f"run '{run}' is not among the {len(runs)} runs in {folder}; pick one with "
            "--where AXIS=VALUE or copy a run_id from runs.parquet"
        )
    if len(matches) > 1:
        listed = "\n".join(f"  {rid}" for rid in matches["run_id"].head(MOST_LISTED))
        more = len(matches) - MOST_LISTED
        listed += f"\n  ... and {more} more" if more > 0 else ""
        raise PickError(
            f"run '{run}' is ambiguous: {len(matches)} run ids start with it; give more of "
            f"the id:\n{listed}"
        )
    row = matches.iloc[0]
    if not ok[matches.index[0]]:
        raise PickError(f"run {row.run_id} failed ({row.error}); it has no weights")
    return row


def select_run(runs: pd.DataFrame, *, run=None, where=None, folder: str = "this folder"):
    """The one run (a row of the runs table) that --run or the --where options name."""
    ok = successful(runs)
    if run is not None:
        return _by_id(runs, ok, run, folder)
    filters = parse_where(where or [], runs)
    chosen = pd.Series(True, index=runs.index)
    for axis, value in filters.items():
        chosen &= runs[axis] == value
    label = _label(filters)
    matches = runs[chosen & ok]
    if matches.empty:
        failed = int((chosen & ~ok).sum())
        if failed:
            raise PickError(f"{label} matches only {failed} failed run(s)")
        for axis, value in filters.items():
            if not (runs[axis] == value).any():
                raise PickError(
                    f"{label} matches 0 runs: no run has {axis} = {_shown(value)}; "
                    f"{axis} takes:\n{_one_per_line(axis, runs.loc[ok, axis])}"
                )
        raise PickError(f"{label} matches 0 runs: no run has all of these values")
    if len(matches) > 1:
        varying = [a for a in AXES if a in matches and matches[a].nunique() > 1]
        detail = "; ".join(f"{a} ({_inline(matches[a])})" for a in varying)
        raise PickError(
            f"{label} matches {len(matches)} runs; add the axes that still vary among them: "
            f"{detail}"
        )
    return matches.iloc[0]
