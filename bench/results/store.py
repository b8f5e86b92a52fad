"""The result tables: shards written atomically while a grid runs, merged into tidy tables.

Layout of a results folder:

    runs.parquet       one row per run: run_id, every axis, final metrics, status
    curves.parquet     one row per run and evaluated epoch
    surfaces.parquet   one row per stored decision surface (probabilities on a grid)
    weights.parquet    one row per run: its trained parameters (for `nonlinbench export`)
    manifest.json      the grid file, versions, device, git commit, times, command line
    shards/            one shard per finished chunk while a grid runs

One process writes a folder at a time: `run` holds `.writer.lock` (an OS file lock, released
when the process dies) for as long as it runs, and a second `run` on the same folder is refused
with a message. Replacing the main tables and reading them (`read_tables`, for the report)
take `.tables.lock` for a moment, so a reader sees one merge's tables, never a mix.

A shard is up to three Parquet files sharing a stem. Each is written to a temporary name and
renamed into place, and the runs file is renamed last: it is the commit marker, so a shard
without one was in flight when the process died and is discarded. `merge` folds every
committed shard into the main tables (newest row per run wins) and is idempotent, so a crash
at any point of a merge is repaired by the next one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from bench.schema import TABLE_KEYS

TABLES = tuple(TABLE_KEYS)  # runs, curves, surfaces, weights


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


class StoreError(RuntimeError):
    """A results folder that cannot be used as asked; the message names the path and what to do."""


def describe_os_error(exc: OSError, path: Path | str, doing: str) -> str:
    """One line for a file-system fault: what failed, where, and what to do about it."""
    if exc.errno == errno.ENOSPC:
        return (
            f"disk full while {doing} {path}: finished chunks are kept; free some space and "
            "rerun the same command to resume"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied while {doing} {path}: choose a writable folder with --out"
    return f"cannot finish {doing} {path}: {exc.strerror or exc}"


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.shards = self.root / "shards"
        # Held by a writer while it replaces the main tables, by a reader while it reads them.
        self._tables_lock = FileLock(self.root / ".tables.lock", timeout=120)

    def path(self, table: str) -> Path:
        return self.root / f"{table}.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    # ------------------------------------------------------------------ the writer

    def prepare(self) -> None:
        """Makes sure the folder exists and is writable, or says why it cannot be used."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"results folder {self.root} is a file; give a folder with --out")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe.{uuid.uuid4().hex[:8]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(
                describe_os_error(exc, self.root, "preparing the results folder")
            ) from None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The one writer of this folder: refuses at once if another process holds it."""
        self.prepare()
        lock = FileLock(self.root / ".writer.lock")
        owner = self.root / ".writer.pid"
        try:
            lock.acquire(timeout=0)
        except Timeout:
            who = owner.read_text().strip() if owner.exists() else "another process"
            raise StoreError(
                f"results folder {self.root} is being written by another `nonlinbench run` "
                f"({who}); wait for it to finish, or give another --out"
            ) from None
        try:
            owner.write_text(
                f"pid {os.getpid()}, started {pd.Timestamp.now('UTC'):%Y-%m-%d %H:%M:%S} UTC\n"
            )
            yield
        finally:
            owner.unlink(missing_ok=True)
            lock.release()

    # ------------------------------------------------------------------ writing

    def write_shard(
        self,
        runs: pd.DataFrame,
        curves: pd.DataFrame,
        surfaces: pd.DataFrame | None = None,
        weights: pd.DataFrame | None = None,
    ) -> str:
        """Stores one finished chunk; returns the shard's name."""
        self.shards.mkdir(parents=True, exist_ok=True)
        # Names sort in the order shards were written (to the microsecond), so when two shards
        # hold the same run, the newer one wins the merge.
        name = f"{pd.Timestamp.now('UTC').strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:10]}"
        for table, frame in (("surfaces", surfaces), ("weights", weights)):
            if frame is not None and len(frame):
                _atomic_write_parquet(frame, self.shards / f"{name}.{table}.parquet")
        if len(curves):
            _atomic_write_parquet(curves, self.shards / f"{name}.curves.parquet")
        _atomic_write_parquet(runs, self.shards / f"{name}.runs.parquet")  # commit marker
        return name

    def write_manifest(self, manifest: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json.dumps(manifest, indent=2, default=str) + "\n", self.manifest_path)

    def read_manifest(self, strict: bool = False) -> dict:
        """The manifest ({} if there is none). An unreadable one is {} too, or with strict=True
        a StoreError naming it."""
        if not self.manifest_path.exists():
            return {}
        try:
            manifest = json.loads(self.manifest_path.read_text())
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
            return manifest
        except (ValueError, OSError) as exc:
            if not strict:
                return {}
            raise StoreError(
                f"{self.manifest_path} cannot be read ({exc}); delete it to report without "
                "the environment section, or rerun the grid"
            ) from None

    # ------------------------------------------------------------------ reading

    def load(self, table: str = "runs") -> pd.DataFrame:
        """A main table (merged results); empty if nothing has been merged yet."""
        path = self.path(table)
        if not path.exists():
            return pd.DataFrame()
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow's errors for a damaged file vary
            raise StoreError(
                f"{path} cannot be read ({type(exc).__name__}: {str(exc)[:200]}); rerun "
                "`nonlinbench run` into this folder to set it aside and train its runs again, "
                "or start over with --fresh"
            ) from None

    def read_tables(self) -> dict[str, pd.DataFrame]:
        """The main tables from one merge (a writer cannot replace them meanwhile)."""
        with self._lock_tables():
            return {table: self.load(table) for table in TABLES}

    def set_aside_unreadable_tables(self) -> list[str]:
        """Moves every main table aside (to corrupt/) when any is unreadable: their runs are
        then trained again. Returns the names of the unreadable tables."""
        unreadable = []
        for table in TABLES:
            try:
                self.load(table)
            except StoreError:
                unreadable.append(f"{table}.parquet")
        if unreadable:
            aside = self.root / "corrupt" / pd.Timestamp.now("UTC").strftime("%Y%m%dT%H%M%S")
            aside.mkdir(parents=True, exist_ok=True)
            for table in TABLES:
                if self.path(table).exists():
                    os.replace(self.path(table), aside / self.path(table).name)
        return unreadable

    @contextlib.contextmanager
    def _lock_tables(self) -> Iterator[None]:
        if not self.root.is_dir():  # nothing stored: nothing to lock
            yield
            return
        try:
            with self._tables_lock:
                yield
        except Timeout:
            raise StoreError(f"the tables in {self.root} stayed locked for 2 minutes") from None

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
            self._merge_into_tables(new, good)
        self._remove_incomplete()
        return report

    def _merge_into_tables(self, new: dict[str, list[pd.DataFrame]], good: list[str]) -> None:
        with self._lock_tables():
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
