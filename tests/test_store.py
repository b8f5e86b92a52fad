"""Specification of bench/results/store.py: shards are committed atomically and merged idempotently."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.results.store import Store


def runs_frame(ids, error="", acc=0.5) -> pd.DataFrame:
    return pd.DataFrame({"run_id": list(ids), "test_acc": acc, "diverged": False, "error": error})


def curves_frame(ids, epochs=(10, 20)) -> pd.DataFrame:
    rows = [{"run_id": r, "epoch": e, "test_loss": 1.0 / e} for r in ids for e in epochs]
    return pd.DataFrame(rows)


def shard_files(store: Store) -> list[str]:
    return sorted(p.name for p in store.shards.glob("*.parquet"))


def test_a_new_store_is_empty(tmp_path):
    store = Store(tmp_path / "out")
    assert store.load("runs").empty
    assert store.stored_ids() == set()
    assert store.read_manifest() == {}
    report = store.merge()
    assert (report.shards, report.corrupt, report.incomplete) == (0, [], 0)


def test_a_committed_shard_counts_as_stored_before_it_is_merged(tmp_path):
    store = Store(tmp_path)
    store.write_shard(runs_frame(["a", "b"]), curves_frame(["a", "b"]))
    assert store.stored_ids() == {"a", "b"}
    assert store.load("runs").empty


def test_rows_without_an_error_column_count_as_finished(tmp_path):
    store = Store(tmp_path)
    store.write_shard(pd.DataFrame({"run_id": ["a", "b"]}), curves_frame([]))
    assert store.stored_ids() == {"a", "b"}


def test_merge_folds_shards_into_the_main_tables_and_removes_them(tmp_path):
    store = Store(tmp_path)
    store.write_shard(runs_frame(["a", "b"]), curves_frame(["a", "b"]))
    store.write_shard(runs_frame(["c"]), curves_frame(["c"]))
    assert store.merge().shards == 2
    assert sorted(store.load("runs")["run_id"]) == ["a", "b", "c"]
    assert len(store.load("curves")) == 6
    assert shard_files(store) == []
    assert store.stored_ids() == {"a", "b", "c"}


def test_merging_twice_changes_nothing(tmp_path):
    store = Store(tmp_path)
    store.write_shard(runs_frame(["a"]), curves_frame(["a"]))
    store.merge()
    runs, curves = store.load("runs"), store.load("curves")
    assert store.merge().shards == 0
    pd.testing.assert_frame_equal(store.load("runs"), runs)
    pd.testing.assert_frame_equal(store.load("curves"), curves)


def test_a_rerun_replaces_every_row_of_that_run(tmp_path):
    store = Store(tmp_path)
    store.write_shard(runs_frame(["a"], error="RuntimeError: boom"), curves_frame([]))
    store.write_shard(runs_frame(["b"]), curves_frame(["b"]))
    store.merge()
    assert store.stored_ids() == {"b"}  # a failed run is not stored: it is trained again
    store.write_shard(runs_frame(["a"], acc=0.9), curves_frame(["a"]))
    store.merge()
    runs = store.load("runs").set_index("run_id")
    assert list(runs.index).count("a") == 1
    assert runs.loc["a", "error"] == "" and runs.loc["a", "test_acc"] == 0.9
    assert store.stored_ids() == {"a", "b"}


def test_the_newest_of_two_unmerged_shards_of_one_run_wins(tmp_path):
    store = Store(tmp_path)
    store.write_shard(runs_frame(["a"], acc=0.1), curves_frame(["a"]))
    store.write_shard(runs_frame(["a"], acc=0.2), curves_frame(["a"]))
    store.merge()
    assert store.load("runs")["test_acc"].tolist() == [0.2]
    assert len(store.load("curves")) == 2


def test_a_shard_without_its_runs_file_was_in_flight_and_is_discarded(tmp_path):
    store = Store(tmp_path)
    name = store.write_shard(runs_frame(["a"]), curves_frame(["a"]))
    (store.shards / f"{name}.runs.parquet").unlink()  # killed before the commit marker
    (store.shards / f".{name}.runs.parquet.0123abcd.tmp").write_bytes(b"half a file")
    assert store.stored_ids() == set()
    report = store.merge()
    assert (report.shards, report.incomplete) == (0, 1)
    assert list(store.shards.iterdir()) == []
    assert store.load("curves").empty


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_shard_is_set_aside_and_its_runs_count_as_not_stored(tmp_path, damage):
    store = Store(tmp_path)
    good = store.write_shard(runs_frame(["a"]), curves_frame(["a"]))
    bad = store.write_shard(runs_frame(["b"]), curves_frame(["b"]))
    runs_file = store.shards / f"{bad}.runs.parquet"
    if damage == "garbage":
        runs_file.write_bytes(b"this is not parquet")
    else:
        runs_file.write_bytes(runs_file.read_bytes()[:40])
    assert store.stored_ids() == {"a"}
    report = store.merge()
    assert report.corrupt == [bad] and report.shards == 1
    assert store.load("runs")["run_id"].tolist() == ["a"]
    aside = sorted(p.name for p in (store.shards / "corrupt").iterdir())
    assert aside == [f"{bad}.curves.parquet", f"{bad}.runs.parquet"]
    assert not (store.shards / f"{good}.runs.parquet").exists()
    assert store.merge().corrupt == []  # reported once; the files stay aside for inspection


def test_leftover_temporary_files_of_a_main_table_are_cleaned_up(tmp_path):
    store = Store(tmp_path)
    (tmp_path / ".runs.parquet.0123abcd.tmp").write_bytes(b"killed mid-write")
    store.merge()
    assert list(tmp_path.glob(".*.tmp")) == []


def test_the_manifest_round_trips_and_a_damaged_one_reads_as_empty(tmp_path):
    store = Store(tmp_path / "out")
    store.write_manifest({"grid": {"name": "g"}, "started": pd.Timestamp("2024-01-01")})
    assert store.read_manifest()["grid"] == {"name": "g"}
    store.manifest_path.write_text("{not json")
    assert store.read_manifest() == {}


def test_clear_removes_every_stored_result(tmp_path):
    store = Store(tmp_path)
    store.write_shard(runs_frame(["a"]), curves_frame(["a"]))
    store.merge()
    store.write_shard(runs_frame(["b"]), curves_frame(["b"]))
    store.write_manifest({"grid": {}})
    store.clear()
    assert store.stored_ids() == set()
    assert store.load("runs").empty and store.load("curves").empty
    assert not store.manifest_path.exists()
    assert shard_files(store) == []
