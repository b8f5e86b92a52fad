"""The result schema is the one definition of the tables: the README and the runner follow it."""

import re
from pathlib import Path

import pandas as pd
import pytest

from bench import schema
from bench.grid.parse import load_grid
from bench.run.runner import run_grid
from bench.spec import RunSpec

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_columns(table: str) -> list[str]:
    """The backticked names in the README's bullet for `<table>.parquet`."""
    text = README.read_text()
    bullet = re.search(rf"^- `{table}\.parquet`:(.*?)(?=^- |^$)", text, re.S | re.M)
    assert bullet, f"the README has no bullet for {table}.parquet"
    names = re.findall(r"`([a-z_0-9]+)`", bullet.group(1))
    return [n for n in names if n not in ("input", "pca")]  # values of `plane`, not columns


@pytest.mark.parametrize("table", ["runs", "curves", "surfaces", "weights"])
def test_the_readme_lists_exactly_the_schema_columns(table):
    expected = schema.names(schema.TABLES[table])
    if table == "runs":  # "every axis" stands for the axis columns
        expected = [c for c in expected if c not in schema.AXES]
    assert readme_columns(table) == expected


def test_the_axes_are_the_run_spec_fields_and_the_data_and_surface_axes_are_axes():
    assert schema.AXES == tuple(RunSpec().to_dict())
    assert set(schema.DATA_AXES) <= set(schema.AXES)
    assert set(schema.SURFACE_KEY) <= set(schema.AXES)
    assert set(schema.SEED_AXES) <= set(schema.AXES)


@pytest.mark.usefixtures("isolated")
def test_a_run_writes_every_schema_column_with_its_dtype(write_grid, tmp_path):
    run_grid(load_grid(write_grid()), tmp_path, device="cpu", jobs=1, threads=1, quiet=True)
    for table, columns in schema.TABLES.items():
        frame = pd.read_parquet(tmp_path / f"{table}.parquet")
        assert list(frame.columns) == schema.names(columns), table
        for column in columns:
            if column.dtype.startswith("list<"):
                inner = column.dtype[5:-1]
                assert all(str(v.dtype) == inner for v in frame[column.name]), column.name
            elif column.dtype == "object":
                assert pd.api.types.is_string_dtype(frame[column.name]), column.name
            else:
                assert str(frame[column.name].dtype) == column.dtype, column.name
