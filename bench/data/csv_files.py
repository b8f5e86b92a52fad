"""CSV datasets: the file format, its parsing, and the errors that name the bad cell.

The header says what a file holds, as its last column says classification (`label`) or
regression (`target`): feature columns x1..xd are standardised before training, with the mean
and standard deviation of the training rows only (bench.data.real.Scaler, as for the real
datasets); feature columns z1..zd say the file is already scaled, and its values are used as
written.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd


class DatasetError(ValueError):
    """A bad dataset name, argument or file; the message says what is wrong and what is allowed."""


# A CSV dataset needs a test set of at least 2 points (an accuracy or R^2 over one point says
# nothing; R^2 is undefined when the test targets are all equal) and a larger training set.
MIN_ROWS = 10
# Regression targets beyond this size are refused: the networks start at unit scale and train
# in float32, so targets of 1e6 leave every R^2 far below zero and 1e20 overflow the loss.
MAX_TARGET = 1e4


# The two spellings of the feature columns: x1..xd are standardised on the training rows,
# z1..zd are already scaled and used as written.
STANDARDISED_PREFIX, AS_WRITTEN_PREFIX = "x", "z"


def csv_fingerprint(content: bytes, standardise: bool = False) -> str:
    """ "csv:" + 16 hex of the bytes' sha256, and "+standardised" for a file whose features are
    standardised on the training rows (so its run ids differ from those trained before CSV
    files were standardised)."""
    return "csv:" + hashlib.sha256(content).hexdigest()[:16] + ("+standardised" * standardise)


class CsvData(NamedTuple):
    X: np.ndarray  # (n, d) float64 features as written
    y: np.ndarray  # (n,) int64 classes 0..k-1, or float64 targets
    fingerprint: str  # csv_fingerprint of the very bytes parsed
    standardise: bool  # features x1..xd: standardise on the training rows; z1..zd: as written


class CsvName(str):
    """A CSV dataset's name: its path as written in the grid file (the name every table, report
    and `export --where` uses), carrying the file it names (`path`, absolute) and its number of
    data rows (`rows`, what `n_samples` shows for it)."""

    path: str
    rows: int

    def __new__(cls, name: str, path: str, rows: int) -> CsvName:
        obj = super().__new__(cls, name)
        obj.path, obj.rows = path, rows
        return obj

    def __reduce__(self):  # pickled to workers with its path
        return (CsvName, (str(self), self.path, self.rows))


def csv_file(name: str) -> str:
    """The file a CSV dataset name reads: a CsvName's path, or the name itself (relative to the
    working directory)."""
    return getattr(name, "path", name)


def _check_target(y: np.ndarray, where: str) -> None:
    """Refuses regression targets no run can be scored on (before any training)."""
    if np.all(y == y[0]):
        raise DatasetError(
            f"{where}: every 'target' is {float(y[0])!r}; R^2 is undefined for a constant target "
            "(there is nothing to fit): give targets that vary"
        )
    scale = float(np.abs(y).max())
    if scale > MAX_TARGET:
        raise DatasetError(
            f"{where}: 'target' values reach {scale:.3g}, beyond {MAX_TARGET:g}; the networks "
            f"train in float32 from unit-scale weights: divide the target column by about "
            f"{10 ** np.floor(np.log10(scale)):.0e} (R^2 does not change)"
        )


# -----------------------------------------------------------------------------
# CSV files


def _finite_column(df: pd.DataFrame, col: str, where: str) -> np.ndarray:
    """A column's values as float64, or DatasetError naming the first cell that is not finite."""
    values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        row = bad[0]
        raise DatasetError(
            f"{where}: row {row + 1}, column {col!r}: {df[col].iloc[row]!r} is not a finite "
            f"number ({len(bad)} bad value(s) in this column)"
        )
    return values


def load_csv(path: str) -> CsvData:
    """Read a CSV dataset into X (n, d) float64, y, the fingerprint of the bytes read (the
    file is read once, so the fingerprint names exactly what was parsed) and whether its
    features are to be standardised.

    Format: a header row `x1,x2,...,xd,label` (feature columns named x1..xd in order, then `label`;
    d >= 1), then one sample per row: a classification dataset, y (n,) int64. Feature columns
    named z1..zd instead say the values are already scaled (see the module docstring). A last column
    named `target` instead of `label` makes it a regression dataset: y (n,) float64, every
    target a finite number. Feature values must be finite numbers. Labels may be numbers
    or strings; the distinct labels are sorted (numerically when they are all numbers) and mapped to
    0..k-1, and there must be at least 2 of them. Row numbers in error messages count data rows
    from 1, not counting the header.
    """
    where = f"dataset file {csv_file(path)!r}"
    try:
        # dtype=str with no NA conversion: every cell arrives as written, so we can say which
        # cell is bad instead of letting pandas silently turn it into NaN or an object column.
        content = Path(csv_file(path)).read_bytes()
        df = pd.read_csv(
            io.BytesIO(content), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except FileNotFoundError:
        raise DatasetError(f"{where} not found (relative to {Path.cwd()})") from None
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{where} is empty; expected a header row x1,...,xd,label") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DatasetError(f"{where} could not be parsed as CSV: {e}") from None
    columns = [str(c).strip() for c in df.columns]
    df.columns = columns

    last = columns[-1] if columns else ""
    if "label" not in columns and "target" not in columns:
        raise DatasetError(
            f"{where} has no 'label' (classification) or 'target' (regression) column; "
            f"columns are {columns}"
        )
    features = columns[:-1]
    prefix = features[0][:1] if features and features[0][:1] == AS_WRITTEN_PREFIX else "x"
    expected = [f"{prefix}{i}" for i in range(1, len(features) + 1)]
    if last not in ("label", "target") or not features or features != expected:
        raise DatasetError(
            f"{where} has columns {columns}; expected feature columns x1..xd in order (or "
            f"z1..zd for features already scaled) followed by a last column 'label' "
            f"(classification) or 'target' (regression), e.g. ['x1', 'x2', 'label']"
        )
    standardise = prefix == STANDARDISED_PREFIX
    fingerprint = csv_fingerprint(content, standardise)
    if len(df) == 0:
        raise DatasetError(f"{where} has a header but no data rows")

    # features: (n, d) float64, and a regression target (n,) float64; pandas fills cells
    # missing from short rows with NaN
    values = {col: _finite_column(df, col, where) for col in columns if col != "label"}
    X = np.stack([values[col] for col in features], axis=1)
    if len(X) < MIN_ROWS:
        raise DatasetError(
            f"{where} has {len(X)} data row(s); a dataset needs at least {MIN_ROWS}, so that "
            "the test set holds at least 2 points and the training set more"
        )
    if last == "target":
        _check_target(values["target"], where)
        return CsvData(X, values["target"], fingerprint, standardise)

    # labels: strings as written; sort numerically if they all parse as numbers
    raw = df["label"].fillna("").str.strip()
    missing = np.flatnonzero((raw == "").to_numpy())
    if len(missing):
        raise DatasetError(f"{where}: row {missing[0] + 1} has an empty 'label'")
    numeric = pd.to_numeric(raw, errors="coerce")
    keys = numeric.to_numpy(dtype=np.float64) if numeric.notna().all() else raw.to_numpy(dtype=str)
    classes, y = np.unique(keys, return_inverse=True)  # classes sorted, y (n,) in 0..k-1
    if len(classes) < 2:
        raise DatasetError(
            f"{where} has {len(classes)} distinct label(s) {list(raw.unique())}; "
            f"a classification dataset needs at least 2"
        )
    return CsvData(X, y.astype(np.int64), fingerprint, standardise)
