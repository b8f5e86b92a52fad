"""Which runs a grid makes, and how many, without making them.

A grid's runs are the union of its blocks; a block is the Cartesian product of its axes minus
the combinations its excludes match. Two steps keep this exact and fast:

1. **Factors.** Every axis is a factor of the product, except the four that describe the
   hidden layers (layers, depth, width, activation), which form one factor, the network: a
   `layers` value sets the other three, so an exclude on `depth` matches the depth a stack
   has ("8 relu" has depth 1), and a uniform stack ("16 relu, 16 relu") is the same network as
   depth 2, width 16, relu, in any block.
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

from bench.layers import derived_fields

NETWORK = ("layers", "depth", "width", "activation")  # one factor: the hidden layers
Network = tuple  # (layers as stored, depth, width, activation label), like a RunSpec's fields


@functools.cache
def network_of_layers(text: str) -> Network:
    """The network a `layers` value makes (a uniform stack is the ordinary network)."""
    fields = derived_fields(text)
    return (fields["layers"], fields["depth"], fields["width"], fields["activation"])


def network_of(combo: dict) -> Network:
    """The network of one combination of axis values (a dict over every axis)."""
    if combo["layers"]:
        return network_of_layers(combo["layers"])
    return ("", combo["depth"], combo["width"], combo["activation"])


@dataclass(frozen=True)
class Exclude:
    """One [[exclude]] table: a run is excluded when it matches every key."""

    plain: tuple[tuple[str, frozenset], ...]  # (axis, values) for axes outside the network
    network: tuple[tuple[str, frozenset], ...]  # (axis, values) for layers/depth/width/activation

    @classmethod
    def of(cls, table: dict[str, list]) -> Exclude:
        plain = tuple((k, frozenset(v)) for k, v in table.items() if k not in NETWORK)
        network = tuple(
            (k, frozenset(network_of_layers(t) for t in v) if k == "layers" else frozenset(v))
            for k, v in table.items()
            if k in NETWORK
        )
        return cls(plain, network)

    def matches_network(self, net: Network) -> bool:
        for axis, values in self.network:
            value = net if axis == "layers" else net[NETWORK.index(axis)]
            if value not in values:
                return False
        return True

    def matches(self, combo: dict, net: Network) -> bool:
        """Whether this exclude drops the combination `combo` (whose network is `net`)."""
        return all(combo[k] in vs for k, vs in self.plain) and self.matches_network(net)

    def narrow(self, sets: dict[str, frozenset]) -> dict[str, frozenset]:
        """The part of a product of per-factor sets that this exclude matches."""
        out = dict(sets)
        for axis, values in self.plain:
            out[axis] = sets[axis] & values
        if self.network:
            out["network"] = frozenset(n for n in sets["network"] if self.matches_network(n))
        return out


def factor_sets(axes: dict[str, list]) -> dict[str, frozenset]:
    """A block's product as per-factor sets: every axis outside the network, and the networks."""
    sets = {axis: frozenset(values) for axis, values in axes.items() if axis not in NETWORK}
    if axes["layers"] != [""]:
        sets["network"] = frozenset(network_of_layers(t) for t in axes["layers"])
    else:
        sets["network"] = frozenset(
            ("", d, w, a) for d in axes["depth"] for w in axes["width"] for a in axes["activation"]
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


def combinations(axes: dict[str, list], excludes: list[Exclude]) -> Iterator[dict]:
    """A block's combinations of axis values in grid order (the network's fields derived from
    `layers`), minus those an exclude matches."""
    names = list(axes)
    for values in itertools.product(*(axes[n] for n in names)):
        combo = dict(zip(names, values, strict=True))
        net = network_of(combo)
        if any(ex.matches(combo, net) for ex in excludes):
            continue
        yield combo
