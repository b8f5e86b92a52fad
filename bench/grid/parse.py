"""Grid files -> validated run specs.

A grid file (TOML) is the whole description of an experiment:

    name = "example"
    description = "What this grid asks."
    plugins = ["my_activations.py"]         # optional, relative to the grid file

    [grid]                                  # axes: a list of values or a single value
    dataset = ["circles", "moons"]
    activation = ["none", "relu"]
    depth = [1, 2, 4]
    seed = { range = [0, 5] }               # 0, 1, 2, 3, 4

    [[exclude]]                             # drop every combination matching all keys
    activation = "none"
    depth = [2, 4]

The runs are the Cartesian product of the axes, minus the excluded combinations. A file may
instead hold several studies as [[block]] tables (bench.grid.blocks), each a product over the
shared [grid] values with its own axes, name, question and [[block.exclude]] tables; the runs
are then the union of the blocks, each run once. An axis the file omits takes its default from
`bench.spec.RunSpec` (the seed notebook's setup), except `activation`, which defaults to none
and relu. Names (datasets, activations, optimizers, init schemes) are case-insensitive; a
dataset may also be a CSV file, whose relative path, like a plugin's, is relative to the grid
file. Everything is validated before any training, and errors name the file, the key and the
value and say what is allowed.

Some values apply to some datasets only, and a run that would get one elsewhere is refused
(excludes applied): `dim` is the number of coordinates of `spheres`, so any other dataset's runs
keep dim 2; a real dataset (bench.data.real) uses every row as measured, so its runs keep
`n_samples` and `noise` at their defaults. A [grid] value reaches every block that does not set
its own, so a file whose [grid] gives noise = [0.1] and whose block lists iris is refused too:
give such values in the blocks they are meant for (a real dataset's runs would otherwise be
copies of one another under different ids, labelled with a noise they never had).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.resources
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.activations.plugins import add_plugin_file, default_registry
from bench.activations.registry import Activation, ActivationError, Registry
from bench.data.datasets import DIM_DATASET, dataset_fingerprint
from bench.data.real import is_real
from bench.grid.axes import GridError, axis_values
from bench.grid.blocks import (
    Block,
    block_axes,
    check_layers_alone,
    parse_blocks,
    parse_excludes,
    unknown_key,
)
from bench.grid.counting import DATA, union_size
from bench.grid.layers import activation_record
from bench.schema import AXES
from bench.spec import DEFAULTS, RunSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_LEVEL_KEYS = ("name", "description", "plugins", "grid", "block", "exclude")
MAX_NAME_BYTES = 255  # a folder name's limit on common file systems
# Runs a grid may have before `plan` and `run` refuse it (--max-runs lifts the limit): the
# `full` grid has about 340,000; beyond a few million, planning alone needs gigabytes.
MAX_RUNS = 2_000_000


@dataclass(frozen=True)
class Grid:
    name: str
    description: str
    axes: dict[str, list]  # axis -> resolved values over every block (canonical names, typed)
    activations: dict[str, Activation]  # the activation axis' records, by canonical name
    excludes: list[dict[str, list]] = field(default_factory=list)  # top-level [[exclude]]s
    plugins: tuple[str, ...] = ()  # absolute paths of plugin files the grid needs
    source: str = ""  # the file's path, or "builtin:<name>"
    text: str = ""  # the file's contents, stored in the manifest
    # The studies whose runs the grid unites: the file's [[block]] tables in order, or, for a
    # file without blocks, one block named "main" (the product of [grid] minus [[exclude]]).
    blocks: tuple[Block, ...] = ()
    has_blocks: bool = False  # the file has [[block]] tables

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def all_blocks(self) -> tuple[Block, ...]:
        """The blocks (a grid made without parse_grid has one, "main", of its axes)."""
        return self.blocks or (Block("main", "", self.axes, tuple(self.excludes)),)

    def membership(self) -> tuple[list[RunSpec], list[tuple[int, ...]]]:
        """The runs (the union of the blocks, in block order, each once) and, for each, the
        indices of the blocks that hold it."""
        where: dict[RunSpec, list[int]] = {}
        for i, block in enumerate(self.all_blocks()):
            for spec in block.specs():
                where.setdefault(spec, []).append(i)
        return list(where), [tuple(v) for v in where.values()]

    def run_ids(self) -> list[str]:
        """The run id of every run (membership's order)."""
        specs, _ = self.membership()
        return run_ids(specs, dataset_fingerprints(specs))

    def specs(self) -> list[RunSpec]:
        """The union of the blocks' runs (each the product of its axes, minus excluded
        combinations), each run once, in block order."""
        return self.membership()[0]

    def size(self, **restrict: list) -> int:
        """The number of runs (with `restrict`: those whose axes take these values), counted
        without making them (inclusion-exclusion over the blocks and the excludes)."""
        blocks = []
        for block in self.all_blocks():
            sets, excludes = block.counting()
            for axis, values in restrict.items():
                sets[axis] = sets[axis] & frozenset(values)
            blocks.append((sets, excludes))
        return union_size(blocks)

    def check_size(self, limit: int) -> int:
        """The number of runs, or GridError when it is above `limit`."""
        size = self.size()
        if size > limit:
            raise GridError(
                f"grid {self.source} has {size:,} runs, more than the limit of {limit:,}; "
                "shrink an axis, or pass --max-runs to lift the limit"
            )
        return size


def dataset_fingerprints(specs: list[RunSpec]) -> dict[str, str]:
    """dataset -> `dataset_fingerprint`, each dataset once (a CSV file is read and hashed)."""
    return {name: dataset_fingerprint(name) for name in dict.fromkeys(s.dataset for s in specs)}


def run_ids(specs: list[RunSpec], fingerprints: dict[str, str] | None = None) -> list[str]:
    fingerprints = fingerprints or dataset_fingerprints(specs)
    return [spec.run_id(fingerprints[spec.dataset]) for spec in specs]


# --------------------------------------------------------------------------- loading


def builtin_grids() -> list[str]:
    folder = importlib.resources.files("bench") / "grids"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_grid(name_or_path: str | Path, registry: Registry | None = None) -> Grid:
    """A built-in grid by name (seed, quick, playground, default, full) or a grid file by path.

    Two steps: the plugin files the grid names are loaded into `registry` (by default the
    built-ins, declared and installed activations), then the grid is parsed against it.
    """
    text, source, base = _read_grid(name_or_path)
    where = f"grid {source}"
    registry = registry or default_registry()
    for plugin, path in _plugin_paths(_toml(text, where), where, base):
        try:
            registry = add_plugin_file(registry, path)
        except ActivationError as exc:
            raise GridError(f"{where}: key 'plugins' value {plugin!r}: {exc}") from None
    return parse_grid(text, source=source, base=base, registry=registry)


def _read_grid(name_or_path: str | Path) -> tuple[str, str, Path | None]:
    """(text, source, base folder for relative paths) of a built-in grid or a grid file."""
    text_path = Path(name_or_path)
    if str(name_or_path) in builtin_grids():
        resource = importlib.resources.files("bench") / "grids" / f"{name_or_path}.toml"
        return resource.read_text(), f"builtin:{name_or_path}", None
    if text_path.is_file():
        try:
            text = text_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GridError(f"grid {text_path} cannot be read: {exc}") from None
        return text, str(text_path), text_path.parent
    known = builtin_grids()
    close = difflib.get_close_matches(str(name_or_path), known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise GridError(
        f"no grid named '{name_or_path}'{hint}: give a built-in grid ({', '.join(known)}) "
        "or the path to a .toml grid file"
    )


def _toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{where} is not valid TOML: {exc}") from None


def _plugin_paths(raw: dict, where: str, base: Path | None) -> list[tuple[str, Path]]:
    """(as written, path) of each plugin file the grid names, relative to the grid file."""
    plugins = raw.get("plugins", [])
    if isinstance(plugins, str):
        plugins = [plugins]
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise GridError(f"{where}: key 'plugins' must be a list of file paths; got {plugins!r}")
    return [(p, Path(p) if base is None or Path(p).is_absolute() else base / p) for p in plugins]


def parse_grid(
    text: str,
    source: str = "<string>",
    base: Path | None = None,
    registry: Registry | None = None,
) -> Grid:
    """Validates a grid's text against `registry` (which must hold its plugins' activations;
    `load_grid` loads them); default: the built-in, declared and installed activations."""
    where = f"grid {source}"
    registry = registry or default_registry()
    raw = _toml(text, where)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise GridError(unknown_key(where, key, TOP_LEVEL_KEYS, "top-level key"))
    name = raw.get("name")
    # The name is the default results folder (results/<name>), so it must be one folder name.
    if (
        not isinstance(name, str)
        or not name.strip()
        or name.strip() in (".", "..")
        or any(c in name for c in "/\\")
        or not name.isprintable()
        or len(name.encode()) > MAX_NAME_BYTES
    ):
        shown = (
            repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60]) + "..."
        )
        raise GridError(
            f"{where}: key 'name' must be a non-empty string usable as a folder name "
            f"(printable, at most {MAX_NAME_BYTES} bytes, no '/', no '\\', not '.' or '..'); "
            f"got {shown}"
        )
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise GridError(f"{where}: key 'description' must be a string; got {description!r}")
    plugins = tuple(str(path.resolve()) for _, path in _plugin_paths(raw, where, base))

    table = raw.get("grid", {})
    if not isinstance(table, dict):
        raise GridError(f"{where}: 'grid' must be a table of axes, e.g. [grid] depth = [1, 2]")
    for key in table:
        if key not in AXES:
            raise GridError(unknown_key(where, f"grid.{key}", AXES, "axis", bare=key))

    def check(key: str, axis: str, value) -> list:
        return axis_values(where, key, axis, value, base, registry)

    check_layers_alone(table, "grid", where)
    shared = {axis: check(f"grid.{axis}", axis, table[axis]) for axis in AXES if axis in table}
    excludes = parse_excludes(raw.get("exclude", []), "exclude", where, check)
    if "block" in raw:
        blocks = parse_blocks(raw["block"], shared, excludes, where, check)
    else:
        main = Block("main", "", block_axes(shared, {}), tuple(excludes), "noise" in shared)
        blocks = [main]
    axes = {axis: list(dict.fromkeys(v for b in blocks for v in b.axes[axis])) for axis in AXES}
    grid = Grid(
        name=name,
        description=description,
        axes=axes,
        activations=_activation_records(axes, registry),
        excludes=excludes,
        plugins=plugins,
        source=source,
        text=text,
        blocks=tuple(blocks),
        has_blocks="block" in raw,
    )
    if "block" not in raw and grid.size() == 0:
        raise GridError(f"{where}: the [[exclude]] tables drop every run; nothing to train")
    _check_combinations(grid, where)
    _check_dataset_values(grid, where, raw.get("block", []))
    return grid


def _activation_records(axes: dict[str, list], registry: Registry) -> dict[str, Activation]:
    """The record of every activation label the runs will have: registered names, and each
    mixed stack's text (bench.grid.layers) with its per-layer records."""
    records = {a: registry.get(a) for a in axes["activation"]}
    for text in axes["layers"]:
        if text:
            spec = RunSpec(layers=text)
            records[spec.activation] = activation_record(spec, registry)
    return records


def _check_combinations(grid: Grid, where: str) -> None:
    """Settings valid alone but not together, in any run the grid makes (excludes applied)."""

    momenta = [m for m in grid.axes["momentum"] if m]
    if (
        momenta
        and "adam" in grid.axes["optimizer"]
        and grid.size(optimizer=["adam"], momentum=momenta)
    ):
        raise GridError(
            f"{where}: key 'grid.momentum' value {momenta[0]!r} with optimizer 'adam': momentum "
            'is SGD\'s (Adam has its own, beta1); add [[exclude]] optimizer = "adam" and '
            f"momentum = {momenta!r}, or set momentum only on SGD runs"
        )


def _runs_with(block: Block, dataset: str, axis: str, value) -> int:
    """How many of a block's runs (excludes applied) are of `dataset` with `axis` at `value`."""
    sets, excludes = block.counting()
    if axis in DATA:  # the derived (dataset, n_samples, noise) factor
        at = DATA.index(axis)
        sets["data"] = frozenset(t for t in sets["data"] if t[0] == dataset and t[at] == value)
    else:
        sets["data"] = frozenset(t for t in sets["data"] if t[0] == dataset)
        sets[axis] = sets[axis] & {value}
    return union_size([(sets, excludes)])


def _check_dataset_values(grid: Grid, where: str, tables: list) -> None:
    """Values that only some datasets take (see the module docstring), in any run."""
    for i, block in enumerate(grid.all_blocks()):
        own = tables[i] if grid.has_blocks else {}
        for name in block.axes["dataset"]:
            axes = ("n_samples", "noise") if is_real(name) else ()
            axes += ("dim",) if name != DIM_DATASET else ()
            for axis in axes:
                values = [v for v in block.axes[axis] if v != DEFAULTS[axis]]
                bad = [v for v in values if _runs_with(block, name, axis, v)]
                if not bad:
                    continue
                key = f"block[{i}].{axis}" if axis in own else f"grid.{axis}"
                if axis == "dim":
                    why = (
                        f"only {DIM_DATASET!r} takes dim (its number of coordinates), every "
                        f"other dataset has its own; give dim in a [[block]] of {DIM_DATASET} "
                        f'alone, or add [[exclude]] dataset = "{name}" and dim = {bad!r}'
                    )
                else:
                    why = (
                        f"a real dataset uses all its rows as measured, without noise, so {axis} "
                        f"does not apply to it; give {axis} in a [[block]] of generated "
                        "datasets, without the real ones"
                    )
                raise GridError(
                    f"{where}: key '{key}' value {bad[0]!r} with dataset {name!r}: {why}"
                )
