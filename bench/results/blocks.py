"""Which block (study) of a grid each run belongs to: for the report, explore and notebooks.

A grid file's [[block]] tables are its studies (bench.grid.blocks); a run two blocks share is
trained and stored once. `nonlinbench run` writes each block's name, question and run ids into
the results folder's manifest.json, so the membership is read back without the grid file (and
without its CSV files or plugins):

    blocks = load_blocks("results/default")
    blocks.names()                      # ["main", "features", "regression"]; the first is main
    blocks.question("features")         # "Can a linear model on quadratic features ...?"
    blocks.run_ids("features")          # {run_id, ...}
    blocks.membership["3fa1..."]        # ("main", "features"): every block that holds the run
    blocks.table()                      # DataFrame run_id, block: one row per run and block
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.grid.parse import Grid, run_ids
from bench.results.store import Store

MAIN = "main"  # the name of the one block of a grid file without [[block]] tables


def block_title(name: str, question: str) -> str:
    """A block's title: its question, else "Block NAME" (the report's section, explore's tab)."""
    return question or f"Block {name}"


@dataclass(frozen=True)
class BlockInfo:
    name: str  # unique in its grid
    question: str  # the sentence the report uses as the block's title ("" when not given)
    runs: int  # runs in the block (a run shared with another block counts in both)


@dataclass(frozen=True)
class Blocks:
    """A grid's blocks in the file's order (the first is the main block) and, for every run
    id, the names of the blocks that hold it (in the same order)."""

    blocks: tuple[BlockInfo, ...]
    membership: dict[str, tuple[str, ...]]

    def names(self) -> list[str]:
        return [b.name for b in self.blocks]

    def question(self, name: str) -> str:
        return self._get(name).question

    def title(self, name: str) -> str:
        """How the report and the explore page name a block: its question, else "Block NAME"."""
        return block_title(name, self.question(name))

    def run_ids(self, name: str) -> set[str]:
        self._get(name)
        return {rid for rid, names in self.membership.items() if name in names}

    def table(self) -> pd.DataFrame:
        """Tidy membership: one row per run and block holding it (run_id, block), blocks in
        the file's order; merge it onto runs.parquet to select or facet by block."""
        rows = [(rid, name) for rid, names in self.membership.items() for name in names]
        frame = pd.DataFrame(rows, columns=["run_id", "block"])
        order = {name: i for i, name in enumerate(self.names())}
        return frame.sort_values("block", key=lambda b: b.map(order), kind="stable").reset_index(
            drop=True
        )

    def _get(self, name: str) -> BlockInfo:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(f"no block named {name!r}; the blocks are {', '.join(self.names())}")


def grid_blocks(grid: Grid) -> Blocks:
    """The blocks of a grid and every run's membership (reads CSV datasets for the run ids)."""
    specs, held_by = grid.membership()
    ids = run_ids(specs)
    blocks = grid.all_blocks()
    membership = {
        rid: tuple(blocks[b].name for b in held) for rid, held in zip(ids, held_by, strict=True)
    }
    infos = tuple(
        BlockInfo(block.name, block.question, sum(i in held for held in held_by))
        for i, block in enumerate(blocks)
    )
    return Blocks(infos, membership)


def manifest_entry(grid: Grid, block_ids: list[list[str]], total: int) -> list[dict]:
    """The manifest's "blocks": name, question and run count of each block, and its run ids
    unless it holds every run of the grid (so a grid without blocks stores no id list)."""
    entries = []
    for block, ids in zip(grid.all_blocks(), block_ids, strict=True):
        entry = {"name": block.name, "question": block.question, "runs": len(ids)}
        if len(ids) != total:
            entry["run_ids"] = ids
        entries.append(entry)
    return entries


def load_blocks(results: str | Path, grid: Grid | None = None) -> Blocks:
    """The blocks of the runs stored in a results folder, by run id.

    With `grid`, from that grid (run ids depend only on the runs' settings, so a grid
    rewritten as blocks describes results stored by its earlier, block-less version).
    Otherwise from the folder's manifest.json; results written before blocks existed are one
    block, "main", holding every stored run. Membership lists only stored runs.
    """
    store = Store(results)
    path = store.path("runs")
    stored = pd.read_parquet(path, columns=["run_id"])["run_id"].tolist() if path.exists() else []
    if grid is not None:
        every = grid_blocks(grid)
        keep = set(stored)
        membership = {rid: n for rid, n in every.membership.items() if rid in keep}
        return Blocks(every.blocks, membership)
    entries = store.read_manifest().get("blocks") or [{"name": MAIN, "question": ""}]
    infos: list[BlockInfo] = []
    held: dict[str, list[str]] = {}
    for entry in entries:
        name = str(entry["name"])
        ids = entry.get("run_ids")
        for rid in stored if ids is None else ids:
            held.setdefault(rid, []).append(name)
        infos.append(BlockInfo(name, str(entry.get("question", "")), int(entry.get("runs", 0))))
    keep = set(stored)
    membership = {rid: tuple(names) for rid, names in held.items() if rid in keep}
    if len(entries) == 1 and "runs" not in entries[0]:
        infos = [BlockInfo(MAIN, "", len(membership))]
    return Blocks(tuple(infos), membership)
