"""Which runs a grid makes, and how many, without making them.

A grid's runs are the union of its blocks; a block is the Cartesian product of its axes minus
the combinations its excludes match. Two steps keep this exact and fast:

1. **Factors.** Every axis is a factor of the product, except two groups of axes whose values
   decide each other, each one factor of derived values:
   - the network (layers, depth, width, activation): a `layers` value sets the other three, so
     an exclude on `depth` matches the depth a stack has ("8 relu" has depth 1), and a uniform
     stack ("16 relu, 16 relu") is the network of depth 2, width 16, relu, in any block;
   - the data (dataset, n_samples, noise): a CSV file has its own number of rows, which
     `n_samples` shows, and no noise unless the grid gives `noise`.
2. **Inclusion-exclusion**, over the excludes of a block and over the blocks of a grid. An
   exclude and an intersection of blocks are both products of per-factor sets, so every term
   is a product of set sizes; a term that is empty ends its branch.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

from bench.data.datasets import is_csv
from bench.data.real import is_real, real_shape
from bench.spec import DEFAULTS, derived_fields

NETWORK = ("layers", "depth", "width", "activation")  # one factor: the hidden layers
DATA = ("dataset", "n_samples", "noise")  # one factor: the data
JOINT = {"network": NETWORK, "data": DATA}


@functools.cache
def network_of_layers(text: str) -> tuple:
    """The network a `layers` value makes (a uniform stack is the ordinary network)."""
    fields = derived_fields(text)
    return (fields["layers"], fields["depth"], fields["width"], fields["activation"])


def network_of(layers: str, depth: int, width: int, activation: str) -> tuple:
    return network_of_layers(layers) if layers else ("", depth, width, activation)


def data_of(dataset: str, n_samples: int, noise: float, noise_given: bool) -> tuple:
    """A CSV file's data: all its rows, and noise only when the grid gives `noise`; a real
    dataset's: all its rows, no noise (bench.grid.parse refuses a grid that gives it either)."""
    if is_csv(dataset) and hasattr(dataset, "rows"):
        return (dataset, dataset.rows, noise if noise_given else 0.0)
    if is_real(dataset) and (n_samples, noise) == (DEFAULTS["n_samples"], DEFAULTS["noise"]):
        return (dataset, real_shape(dataset)[0], 0.0)  # other values: bench.grid.parse refuses
    return (dataset, n_samples, noise)


def derive(combo: dict, noise_given: bool) -> dict:
    """One combination of axis values with the network's and the data's fields derived."""
    net = network_of(*(combo[a] for a in NETWORK))
    data = data_of(*(combo[a] for a in DATA), noise_given)
    return {**combo, **dict(zip(NETWORK, net, strict=True)), **dict(zip(DATA, data, strict=True))}


@dataclass(frozen=True)
class Exclude:
    """One [[exclude]] table: a run is excluded when it matches every key (derived values)."""

    plain: tuple[tuple[str, frozenset], ...]  # (axis, values) for axes outside the groups
    joint: tuple[tuple[str, int, frozenset], ...]  # (factor, position in its tuple, values)

    @classmethod
    def of(cls, table: dict[str, list]) -> Exclude:
        plain, joint = [], []
        for axis, values in table.items():
            factor = next((f for f, axes in JOINT.items() if axis in axes), None)
            if factor is None:
                plain.append((axis, frozenset(values)))
            elif axis == "layers":  # a stack matches the network it makes (-1: the whole tuple)
                joint.append((factor, -1, frozenset(network_of_layers(t) for t in values)))
            else:
                joint.append((factor, JOINT[factor].index(axis), frozenset(values)))
        return cls(tuple(plain), tuple(joint))

    def _joint_match(self, factor: str, value: tuple) -> bool:
        return all((value if i < 0 else value[i]) in vs for f, i, vs in self.joint if f == factor)

    def matches(self, derived: dict) -> bool:
        """Whether this exclude drops a derived combination (see `derive`)."""
        if not all(derived[k] in vs for k, vs in self.plain):
            return False
        return all(
            self._joint_match(f, tuple(derived[a] for a in JOINT[f])) for f in self._factors()
        )

    def _factors(self) -> set[str]:
        return {f for f, _, _ in self.joint}

    def narrow(self, sets: dict[str, frozenset]) -> dict[str, frozenset]:
        """The part of a product of per-factor sets that this exclude matches."""
        out = dict(sets)
        for axis, values in self.plain:
            out[axis] = sets[axis] & values
        for factor in self._factors():
            out[factor] = frozenset(v for v in sets[factor] if self._joint_match(factor, v))
        return out


def factor_sets(axes: dict[str, list], noise_given: bool) -> dict[str, frozenset]:
    """A block's product as per-factor sets of (derived) values."""
    sets = {
        axis: frozenset(values)
        for axis, values in axes.items()
        if not any(axis in group for group in JOINT.values())
    }
    sets["network"] = frozenset(
        network_of(*values) for values in itertools.product(*(axes[a] for a in NETWORK))
    )
    sets["data"] = frozenset(
        data_of(*values, noise_given) for values in itertools.product(*(axes[a] for a in DATA))
    )
    return sets


def _product(sets: dict[str, frozenset]) -> int:
    return math.prod(len(values) for values in sets.values())


def _count(sets: dict[str, frozenset], excludes: list[Exclude]) -> int:
    """Runs in the product `sets` that no exclude matches (inclusion-exclusion)."""
    total = _product(sets)

    def visit(start: int, current: dict[str, frozenset], sign: int) -> None:
        nonlocal total
        for j in range(start, len(excludes)):
            narrowed = excludes[j].narrow(current)
            size = _product(narrowed)
            if size:  # an empty intersection stays empty with more excludes
                total += sign * size
                visit(j + 1, narrowed, -sign)

    visit(0, sets, -1)
    return total


def union_size(blocks: list[tuple[dict[str, frozenset], list[Exclude]]]) -> int:
    """Runs in the union of blocks, each (factor sets, excludes), counted without making them."""
    total = 0

    def visit(start: int, sets, excludes: list[Exclude], sign: int) -> None:
        nonlocal total
        for i in range(start, len(blocks)):
            own_sets, own_excludes = blocks[i]
            both = own_sets if sets is None else {f: sets[f] & own_sets[f] for f in own_sets}
            if not _product(both):  # no run in every block so far: nor with more blocks
                continue
            merged = excludes + [e for e in own_excludes if e not in excludes]
            total += sign * _count(both, merged)
            visit(i + 1, both, merged, -sign)

    visit(0, None, [], 1)
    return total


def combinations(axes: dict[str, list], excludes: list[Exclude], noise_given: bool) -> Iterator:
    """A block's combinations of axis values in grid order, derived (see `derive`), each once,
    minus those an exclude matches."""
    names = list(axes)
    seen = set()
    for values in itertools.product(*(axes[n] for n in names)):
        combo = derive(dict(zip(names, values, strict=True)), noise_given)
        key = tuple(combo.values())
        if key in seen or any(ex.matches(combo) for ex in excludes):
            continue
        seen.add(key)
        yield combo
