"""What each grid axis accepts: types, ranges, names, and the one-line errors that say so.

A grid file gives each axis a value, a list, or {range = [start, stop(, step)]}; `axis_values`
turns that into a list of checked, canonical values (lower-case names, a CSV file's name as
written, an activation's registered name) or raises GridError naming the file, the key, the
value and what is allowed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

from bench.activations.registry import ActivationError, Registry
from bench.data.csv_files import CsvName, load_csv
from bench.data.datasets import DatasetError, is_csv, validate_dataset_name
from bench.data.features import FEATURE_MAPS
from bench.schema import AXES
from bench.spec import INIT_SCHEMES, LAYERS_SYNTAX, OPTIMIZERS, Layer, format_layers, parse_layers


class GridError(ValueError):
    """A problem with a grid file, phrased for the person who wrote it."""


# --------------------------------------------------------------------------- axis checks

# Each axis: (type, check on one value returning an error phrase or None, what is allowed).
_Check = Callable[[object], str | None]


def _int_at_least(low: int) -> tuple[type, _Check, str]:
    return (int, lambda v: None if v >= low else "too small", f"an integer >= {low}")


def _int_in(low: int, high: int, why: str) -> tuple[type, _Check, str]:
    """An integer in [low, high]; `why` says where the upper bound comes from."""
    return (
        int,
        lambda v: None if low <= v <= high else "out of range",
        f"an integer in [{low}, {high:,}] ({why})",
    )


# Upper bounds, checked before anything trains. Seeds are stored as int64 and seed torch's
# generator; data seeds seed numpy's and scikit-learn's (32 bits). A dataset's points, and the
# sizes of a network, are bounded against typos, not against memory: whether a setting fits
# this machine is checked from its predicted peak before training (bench.run.memory).
MAX_SEED = 2**63 - 1
MAX_DATA_SEED = 2**32 - 1
MAX_SAMPLES = 2_000_000
MAX_WIDTH = 4096
MAX_DEPTH = 64
MAX_DIM = 1024  # coordinates of `spheres`


def _float_in(low: float, high: float, low_open=False, high_open=False) -> tuple:
    def check(v):
        if not math.isfinite(v):
            return "not finite"
        if v < low or (low_open and v == low) or v > high or (high_open and v == high):
            return "out of range"
        return None

    if math.isinf(high):
        return (float, check, f"a finite number {'>' if low_open else '>='} {low:g}")
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    return (float, check, f"a number in {lo}{low:g}, {high:g}{hi}")


def _choice(options: tuple[str, ...]) -> tuple:
    return (
        str,
        lambda v: None if v.lower() in options else "unknown",
        f"one of {', '.join(options)}",
    )


AXIS_RULES: dict[str, tuple] = {
    "dataset": (str, None, "a built-in dataset name or a path to a .csv file"),
    "n_samples": _int_in(4, MAX_SAMPLES, "points held in memory"),
    "noise": _float_in(0.0, math.inf),
    "label_noise": _float_in(0.0, 1.0, high_open=True),
    "test_size": _float_in(0.0, 1.0, low_open=True, high_open=True),
    "data_seed": _int_in(0, MAX_DATA_SEED, "numpy's seeds are 32-bit"),
    "stratify": (bool, None, "true or false"),
    "features": _choice(FEATURE_MAPS),
    "dim": _int_in(1, MAX_DIM, "coordinates of spheres, the one dataset that takes dim"),
    "activation": (str, None, "a registered activation name (see `nonlinbench list-activations`)"),
    "depth": _int_in(0, MAX_DEPTH, "hidden layers"),
    "width": _int_in(1, MAX_WIDTH, "units per hidden layer"),
    "init": _choice(INIT_SCHEMES),
    "layers": (str, None, LAYERS_SYNTAX),
    "dropout": _float_in(0.0, 1.0, high_open=True),
    "optimizer": _choice(OPTIMIZERS),
    "lr": _float_in(0.0, math.inf, low_open=True),
    "momentum": _float_in(0.0, 1.0, high_open=True),
    "weight_decay": _float_in(0.0, math.inf),
    "l1": _float_in(0.0, math.inf),
    "epochs": _int_at_least(1),
    "batch_size": _int_at_least(0),
    "eval_every": _int_at_least(1),
    "seed": _int_in(0, MAX_SEED, "stored as a 64-bit integer"),
    "target_acc": _float_in(0.0, 1.0, low_open=True),
}
assert set(AXIS_RULES) == set(AXES), "every RunSpec field needs a validation rule"


def _type_name(kind: type) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]


def axis_values(
    where: str, key: str, axis: str, raw, base: Path | None, registry: Registry
) -> list:
    """Validates one axis (a value, a list, or {range = [start, stop(, step)]})."""
    if isinstance(raw, dict):
        if set(raw) != {"range"} or not isinstance(raw["range"], list):
            raise GridError(
                f"{where}: key '{key}' value {raw!r}: a table must be {{ range = [start, stop] }}"
            )
        bounds = raw["range"]
        if not (2 <= len(bounds) <= 3) or not all(_is_int(b) for b in bounds):
            raise GridError(
                f"{where}: key '{key}' value {raw!r}: range takes 2 or 3 integers [start, stop, step]"
            )
        if bounds[2:] == [0]:
            raise GridError(f"{where}: key '{key}' value {raw!r}: a range's step cannot be 0")
        if not range(*bounds):
            raise GridError(
                f"{where}: key '{key}' value {raw!r} is an empty range (stop must be past start)"
            )
        raw = list(range(*bounds))
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise GridError(f"{where}: key '{key}' is an empty list; give at least one value")
    kind, check, allowed = AXIS_RULES[axis]
    out = []
    for value in values:
        coerced = _coerce(value, kind)
        if coerced is None:
            inside = f" (in {values!r})" if len(values) > 1 else ""
            expected = _type_name(kind)
            expected += f" ({allowed})" if allowed != expected else ""
            raise GridError(
                f"{where}: key '{key}' value {value!r}{inside} has the wrong type: "
                f"expected {expected}"
            )
        value = coerced
        if check is not None and check(value) is not None:
            raise GridError(f"{where}: key '{key}' value {value!r} is not allowed: {allowed}")
        if axis == "dataset":
            value = _dataset_value(where, key, value, base)
        elif axis == "activation":
            try:
                value = registry.get(value).name
            except ActivationError as exc:
                raise GridError(f"{where}: key '{key}': {exc}") from None
        elif axis == "layers":
            value = _layers_value(where, key, value, registry)
        elif kind is str:
            value = value.lower()
        out.append(value)
    return list(dict.fromkeys(out))  # drop repeats, keep order


def _layers_value(where: str, key: str, value: str, registry: Registry) -> str:
    """A stack's canonical text: widths checked, activation names resolved to registered ones."""
    try:
        layers = parse_layers(value)
    except ValueError as exc:
        raise GridError(f"{where}: key '{key}' value {value!r}: {exc}; {LAYERS_SYNTAX}") from None
    if not 1 <= len(layers) <= MAX_DEPTH:
        raise GridError(f"{where}: key '{key}' value {value!r}: 1 to {MAX_DEPTH} hidden layers")
    for layer in layers:
        if not 1 <= layer.width <= MAX_WIDTH:
            raise GridError(
                f"{where}: key '{key}' value {value!r}: width {layer.width} is not in "
                f"[1, {MAX_WIDTH:,}]"
            )
    try:
        names = [registry.get(layer.activation).name for layer in layers]
    except ActivationError as exc:
        raise GridError(f"{where}: key '{key}' value {value!r}: {exc}") from None
    return format_layers([Layer(layer.width, n) for layer, n in zip(layers, names, strict=True)])


def _dataset_value(where: str, key: str, value: str, base: Path | None) -> str:
    """A built-in name in lower case, or a CSV file's name as written (relative to the grid
    file, like plugins; to the working directory for a grid given as a string), carrying the
    file's absolute path and row count (bench.data.csv_files.CsvName). The file is read here, so a
    file no run could use is refused with the grid's key before anything trains."""
    if not is_csv(value):
        try:
            validate_dataset_name(value.lower())
        except DatasetError as exc:
            raise GridError(f"{where}: key '{key}' value {value!r}: {exc}") from None
        return value.lower()
    path = Path(value)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        relative = "the grid file's folder" if base is not None else "the working directory"
        raise GridError(
            f"{where}: key '{key}' value {value!r}: dataset file {path} not found "
            f"(a relative path is relative to {relative}); give a built-in dataset name or "
            "the path to a .csv file"
        )
    try:
        X = load_csv(str(path.resolve())).X
    except DatasetError as exc:
        raise GridError(f"{where}: key '{key}' value {value!r}: {exc}") from None
    return CsvName(Path(os.path.normpath(value)).as_posix(), str(path.resolve()), len(X))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _coerce(value, kind: type):
    """The value as `kind`, or None when its type is wrong (a float never becomes an int)."""
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is int:
        return value if _is_int(value) else None
    if kind is float:
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    return value if isinstance(value, str) else None
