"""The notebook API does what the README says: quiet means silent, intervals are named."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import bench

pytestmark = pytest.mark.usefixtures("isolated")

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quiet_prints_nothing_even_when_there_is_nothing_to_train(write_grid, tmp_path, capfd):
    out = tmp_path / "out"
    first = bench.run_grid(write_grid(), out=out, jobs=1, threads=1, quiet=True)
    again = bench.run_grid(write_grid(), out=out, jobs=1, threads=1, quiet=True)
    assert (first.trained, again.trained, again.skipped) == (4, 0, 4)
    assert capfd.readouterr() == ("", "")


def test_bootstrap_ci_returns_the_interval_the_readme_names():
    interval = bench.stats.bootstrap_ci([0.5, 0.6, 0.7], rng=0)
    assert interval._fields == ("point", "low", "high")
    assert interval.low <= interval.point <= interval.high
    assert "Interval(point, low, high)" in README.read_text()


def test_run_grid_documents_its_own_options_and_the_readme_lists_them():
    doc = inspect.getdoc(bench.run_grid)
    options = [p for p in inspect.signature(bench.run_grid).parameters if p not in ("grid", "out")]
    for option in options:
        assert f"{option}" in doc
    readme = README.read_text()
    listed = " ".join(f"bench.run_grid(grid, out=None, *, {', '.join(options)})".split())
    assert listed in " ".join(readme.split())
