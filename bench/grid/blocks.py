"""[[block]] and [[exclude]] tables: the studies of a grid file, checked.

A block is one study: the product of its own axes over the file's shared [grid] values (a
block's key overrides [grid]'s), minus its own [[block.exclude]] tables and the file's
top-level [[exclude]] tables. The grid's runs are the union of its blocks (bench.grid.parse); a file
without blocks is one block, named "main".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bench.grid.axes import GridError
from bench.grid.counting import Exclude, combinations, factor_sets, union_size
from bench.schema import AXES
from bench.spec import DEFAULTS, RunSpec

BLOCK_KEYS = ("name", "question", "exclude")  # besides axes
STACK_SETS = ("depth", "width", "activation")  # what a `layers` value sets for its run
DEFAULT_ACTIVATIONS = ("none", "relu")


@dataclass(frozen=True)
class Block:
    """One study of a grid: the product of its axes (the file's [grid] values, overridden by
    the block's own), minus its excludes (its [[block.exclude]] tables, then the top-level
    [[exclude]] tables)."""

    name: str
    question: str  # one sentence the report uses as the block's title ("" when not given)
    axes: dict[str, list]  # every axis -> resolved values
    excludes: tuple[dict[str, list], ...] = ()
    # Whether the file gives `noise` ([grid]'s or the block's): a CSV dataset gets none otherwise.
    noise_given: bool = True

    def counting(self) -> tuple[dict[str, frozenset], list[Exclude]]:
        return factor_sets(self.axes, self.noise_given), [Exclude.of(ex) for ex in self.excludes]

    def specs(self) -> list[RunSpec]:
        excludes = [Exclude.of(ex) for ex in self.excludes]
        return [RunSpec(**c) for c in combinations(self.axes, excludes, self.noise_given)]

    def size(self) -> int:
        return union_size([self.counting()])


def check_layers_alone(table: dict, prefix: str, where: str) -> None:
    """`layers` sets depth, width and activation: one table cannot give both."""
    if "layers" in table:
        clash = [k for k in STACK_SETS if k in table]
        if clash:
            raise GridError(
                f"{where}: key '{prefix}.layers' sets each hidden layer's width and activation, "
                f"so '{prefix}.{clash[0]}' cannot be given with it; write those networks as "
                'layers too (e.g. "16 relu, 16 relu" is depth 2, width 16, relu)'
            )


def block_axes(shared: dict[str, list], own: dict[str, list]) -> dict[str, list]:
    """Every axis of a block: its own values, else [grid]'s, else the default. A block's
    `layers` replaces [grid]'s depth, width and activation, and the reverse."""
    if "layers" in own:
        shared = {k: v for k, v in shared.items() if k not in STACK_SETS}
    elif any(k in own for k in STACK_SETS):
        shared = {k: v for k, v in shared.items() if k != "layers"}
    merged = {**shared, **own}
    axes: dict[str, list] = {}
    for axis in AXES:
        if axis in merged:
            axes[axis] = merged[axis]
        elif axis == "activation" and "layers" not in merged:
            axes[axis] = list(DEFAULT_ACTIVATIONS)
        else:
            axes[axis] = [DEFAULTS[axis]]
    return axes


def parse_excludes(tables, prefix: str, where: str, check) -> list[dict[str, list]]:
    """[[exclude]] tables (or a block's [[block.exclude]]), each axis -> resolved values."""
    title = "[[block.exclude]]" if "." in prefix else "[[exclude]]"
    if not isinstance(tables, list) or not all(isinstance(e, dict) for e in tables):
        raise GridError(f"{where}: '{prefix}' must be {title} tables of axis = value(s)")
    excludes = []
    for i, ex in enumerate(tables):
        if not ex:
            raise GridError(
                f"{where}: {title} number {i + 1}{_of_block(prefix)} is empty; it would drop "
                "every run; give the axis values whose combination to drop"
            )
        resolved = {}
        for key, value in ex.items():
            if key not in AXES:
                raise GridError(unknown_key(where, f"{prefix}[{i}].{key}", AXES, "axis", bare=key))
            resolved[key] = check(f"{prefix}[{i}].{key}", key, value)
        excludes.append(resolved)
    return excludes


def _of_block(prefix: str) -> str:
    return f" of {prefix.removesuffix('.exclude')}" if "." in prefix else ""


def parse_blocks(tables, shared: dict, excludes: list, where: str, check) -> list[Block]:
    """The [[block]] tables: each its name, question, axes and excludes, checked."""
    if not isinstance(tables, list) or not tables or not all(isinstance(b, dict) for b in tables):
        raise GridError(
            f"{where}: 'block' must be one or more [[block]] tables, each with the axes it "
            "changes from [grid] (and optionally name, question, [[block.exclude]])"
        )
    blocks: list[Block] = []
    for i, table in enumerate(tables):
        prefix = f"block[{i}]"
        for key in table:
            if key not in BLOCK_KEYS and key not in AXES:
                allowed = [*BLOCK_KEYS, *AXES]
                raise GridError(unknown_key(where, f"{prefix}.{key}", allowed, "key", bare=key))
        name = table.get("name", f"block {i + 1}")
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise GridError(
                f"{where}: key '{prefix}.name' must be a non-empty string; got {name!r}"
            )
        if name in [b.name for b in blocks]:
            raise GridError(
                f"{where}: key '{prefix}.name' value {name!r} names an earlier block too; "
                "give every block its own name"
            )
        question = table.get("question", "")
        if not isinstance(question, str) or "\n" in question.strip():
            raise GridError(
                f"{where}: key '{prefix}.question' must be one sentence on one line; "
                f"got {question!r}"
            )
        own_keys = [k for k in table if k in AXES]
        if not own_keys:
            raise GridError(
                f"{where}: {prefix} ({name!r}) gives no axis; a block is [grid]'s values with "
                f"the axes it lists changed: give at least one, e.g. depth = [1, 2]"
            )
        check_layers_alone(table, prefix, where)
        own = {axis: check(f"{prefix}.{axis}", axis, table[axis]) for axis in own_keys}
        own_excludes = parse_excludes(table.get("exclude", []), f"{prefix}.exclude", where, check)
        block = Block(
            name,
            question.strip(),
            block_axes(shared, own),
            (*own_excludes, *excludes),
            noise_given="noise" in shared or "noise" in own,
        )
        if block.size() == 0:
            raise GridError(
                f"{where}: the excludes of {prefix} ({name!r}) and the top-level [[exclude]] "
                "tables drop every run of the block; nothing to train"
            )
        blocks.append(block)
    return blocks


def unknown_key(where: str, key: str, allowed, what: str, bare: str | None = None) -> str:
    close = difflib.get_close_matches(bare or key, list(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{where}: unknown {what} '{key}'{hint}; allowed: {', '.join(allowed)}"
