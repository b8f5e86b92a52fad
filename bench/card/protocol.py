"""The card's protocol: a versioned grid shipped in the package, and where its runs live.

A protocol is an ordinary grid file (``bench/grids/card-v1.toml``) whose ``[grid]`` table names
the reference activations on one line (``activation = [...]``). A card trains two variants of
it: the references (that line as written), cached on disk once per protocol and engine version,
and the candidate alone (that line replaced by the candidate's name). Both variants have the
same runs apart from the activation, so a run id (the settings and the data generator's
version) is shared by every card of the same protocol.

    $NONLINBENCH_CACHE_DIR/cards/<protocol>-<hash>/engine-<version>/references/
    $NONLINBENCH_CACHE_DIR/cards/<protocol>-<hash>/engine-<version>/candidates/<name>-<key>/

``<hash>`` is the protocol file's (so a test's small protocol never meets the real one) and
``<key>`` is ``builtin`` or the hash of the plugin that defines the candidate.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from dataclasses import dataclass
from pathlib import Path

from bench.activations.registry import Activation, Registry
from bench.data import ceiling
from bench.engine import ENGINE_VERSION
from bench.grid.parse import Grid, GridError, parse_grid, tomllib

PROTOCOL = "card-v1"  # the protocol a card uses unless told otherwise
# The one line of [grid] that a card replaces: `activation = [...]` (one line, a list).
ACTIVATION_LINE = re.compile(r"^activation\s*=\s*\[[^\]\n]*\]\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Protocol:
    name: str  # "card-v1": the grid's name, stated on every card
    text: str  # the grid file's text
    source: str  # "builtin:card-v1" or the file's path
    references: tuple[str, ...]  # the activations of the line `activation = [...]`

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def grid(self, activations: tuple[str, ...], registry: Registry) -> Grid:
        """The protocol with `activations` on its activation axis."""
        line = "activation = " + json.dumps(list(activations))
        text = ACTIVATION_LINE.sub(line, self.text, count=1)
        return parse_grid(text, source=self.source, registry=registry)

    def folder(self, cache: Path | None = None) -> Path:
        """This protocol's cache folder for the running engine version."""
        root = cache or cache_root()
        return root / "cards" / f"{self.name}-{self.hash}" / f"engine-{ENGINE_VERSION}"

    def references_folder(self, cache: Path | None = None) -> Path:
        return self.folder(cache) / "references"

    def candidate_folder(self, activation: Activation, cache: Path | None = None) -> Path:
        return self.folder(cache) / "candidates" / f"{activation.name}-{candidate_key(activation)}"


def cache_root() -> Path:
    """The folder the ceilings cache lives in ($NONLINBENCH_CACHE_DIR, else the user's cache)."""
    return ceiling.cache_path().parent


def candidate_key(activation: Activation) -> str:
    """`builtin`, or a hash of the plugin's source (its file's bytes, or its package==version),
    so an edited plugin file is trained again."""
    if activation.source == "builtin":
        return "builtin"
    path = Path(activation.source)
    content = path.read_bytes() if path.is_file() else activation.source.encode()
    return hashlib.sha256(content).hexdigest()[:12]


def load_protocol(name_or_path: str | Path = PROTOCOL) -> Protocol:
    """A protocol shipped in the package (``card-v1``) or a protocol file's path; GridError
    when it is neither, or has no one-line ``activation = [...]`` in its [grid] table."""
    path = Path(name_or_path)
    resource = importlib.resources.files("bench") / "grids" / f"{name_or_path}.toml"
    if str(name_or_path).startswith("card-") and resource.is_file():
        text, source = resource.read_text(), f"builtin:{name_or_path}"
    elif path.is_file():
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        raise GridError(
            f"no card protocol '{name_or_path}': give a shipped protocol ({PROTOCOL}) or the path "
            "to a protocol file (a grid file)"
        )
    match = ACTIVATION_LINE.search(text)
    if match is None:
        raise GridError(
            f"protocol {source} has no one-line `activation = [...]` (the references) in its "
            "[grid] table"
        )
    references = tuple(tomllib.loads(match.group(0))["activation"])
    grid = parse_grid(text, source=source)  # checked once, as written
    return Protocol(grid.name, text, source, references)
