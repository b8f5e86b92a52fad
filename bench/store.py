"""The result tables: shards written atomically while a grid runs, merged into tidy tables.

Layout of a results folder:

    runs.parquet       one row per run: run_id, every axis, final metrics, status
    curves.parquet     one row per run and evaluated epoch
    surfaces.parquet   one row per stored decision surface (probabilities on a grid)
    manifest.json      the grid file, versions, device, git commit, times, command line
    shards/            one shard per finished chunk while a grid runs

A shard is up to three Parquet files sharing a stem. Each is written to a temporary name and
renamed into place, and the runs file is renamed last: it is the commit marker, so a shard
without one was in flight when the process died and is discarded. `merge` folds every
committed shard into the main tables (newest row per run wins) and is idempotent, so a crash
at any point of a merge is repaired by the next one.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.schema import TABLE_KEYS

TABLES = tuple(TABLE_KEYS)  # runs, curves, surfaces


@dataclass
class MergeReport:
    shards: int = 0  # shards folded into the main tables
    corrupt: list[str] = field(default_factory=list)  # shard names that could not be read
    incomplete: int = 0  # shards without a commit marker (in flight at a crash)


def _atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.shards = self.root / "shards"

    def path(self, table: str) -> Path:
        return self.root / f"{table}.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    # ------------------------------------------------------------------ writing

    def write_shard(
        self, runs: pd.DataFrame, curves: pd.DataFrame, surfaces: pd.DataFrame | None = None
    ) -> str:
        """Stores one finished chunk; returns the shard's name."""
        self.shards.mkdir(parents=True, exist_ok=True)
        # Names sort in the order shards were written (to the microsecond), so when two shards
        # hold the same run, the newer one wins the merge.
        name = f"{pd.Timestamp.now('UTC').strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:10]}"
        if surfaces is not None and len(surfaces):
            _atomic_write_parquet(surfaces, self.shards / f"{name}.surfaces.parquet")
        if len(curves):
            _atomic_write_parquet(curves, self.shards / f"{name}.curves.parquet")
        _atomic_write_parquet(runs, self.shards / f"{name}.runs.parquet")  # commit marker
        return name

    def write_manifest(self, manifest: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json.dumps(manifest, indent=2, default=str) + "\n", self.manifest_path)

    def read_manifest(self) -> dict:
        if not self.manifest_path.exists():
            return {}
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError:
            return {}

    # ------------------------------------------------------------------ reading

    def load(self, table: str = "runs") -> pd.DataFrame:
        """A main table (merged results); empty if nothing has been merged yet."""
        path = self.path(table)
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    def _committed_shards(self) -> tuple[list[str], int]:
        if not self.shards.exists():
            return [], 0
        stems = {p.name.split(".")[0] for p in self.shards.glob("*.parquet")}
        committed = sorted(s for s in stems if (self.shards / f"{s}.runs.parquet").exists())
        return committed, len(stems) - len(committed)

    def _read_shard(self, stem: str) -> dict[str, pd.DataFrame]:
        tables = {}
        for table in TABLES:
            path = self.shards / f"{stem}.{table}.parquet"
            if path.exists():
                tables[table] = pd.read_parquet(path)
        return tables

    def stored_ids(self) -> set[str]:
        """Runs that finished without error, in the main tables or in committed shards."""
        ids: set[str] = set()
        frames = [self.load("runs")]
        for stem in self._committed_shards()[0]:
            try:
                frames.append(pd.read_parquet(self.shards / f"{stem}.runs.parquet"))
            except Exception:  # corrupt: merge reports it; its runs count as not stored
                continue
        for df in frames:
            if len(df):
                ok = df["error"].fillna("") == "" if "error" in df else slice(None)
                ids.update(df.loc[ok, "run_id"])
        return ids

    # ------------------------------------------------------------------ merging

    def merge(self) -> MergeReport:
        """Folds committed shards into the main tables; corrupt shards are set aside."""
        report = MergeReport()
        stems, report.incomplete = self._committed_shards()
        new: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
        good = []
        for stem in stems:
            try:
                shard = self._read_shard(stem)
            except Exception:
                report.corrupt.append(stem)
                self._set_aside(stem)
                continue
            for table, df in shard.items():
                new[table].append(df)
            good.append(stem)
        report.shards = len(good)
        if good:
            fresh_ids = set(pd.concat(new["runs"])["run_id"])
            for table in TABLES:
                old = self.load(table)
                if len(old):
                    # A rerun replaces every row of that run (e.g. a failed run retried).
                    old = old[~old["run_id"].isin(fresh_ids)]
                frames = [df for df in [old, *new[table]] if len(df)]
                if not frames:
                    continue
                merged = pd.concat(frames, ignore_index=True)
                merged = merged.drop_duplicates(list(TABLE_KEYS[table]), keep="last")
                _atomic_write_parquet(merged.reset_index(drop=True), self.path(table))
            for stem in good:
                for table in TABLES:
                    (self.shards / f"{stem}.{table}.parquet").unlink(missing_ok=True)
        self._remove_incomplete()
        return report

    def _set_aside(self, stem: str) -> None:
        corrupt = self.shards / "corrupt"
        corrupt.mkdir(exist_ok=True)
        for table in TABLES:
            path = self.shards / f"{stem}.{table}.parquet"
            if path.exists():
                os.replace(path, corrupt / path.name)

    def _remove_incomplete(self) -> None:
        """Deletes shard files without a commit marker and temporary files a crash left."""
        if self.root.exists():
            for tmp in self.root.glob(".*.tmp"):  # a main table or manifest being replaced
                tmp.unlink(missing_ok=True)
        if not self.shards.exists():
            return
        committed = set(self._committed_shards()[0])
        for path in self.shards.glob("*.parquet"):
            if path.name.split(".")[0] not in committed:
                path.unlink(missing_ok=True)
        for tmp in self.shards.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def clear(self) -> None:
        """Removes every stored result (for --fresh)."""
        for table in TABLES:
            self.path(table).unlink(missing_ok=True)
        if self.shards.exists():
            for path in self.shards.rglob("*"):
                if path.is_file():
                    path.unlink()
        self.manifest_path.unlink(missing_ok=True)
