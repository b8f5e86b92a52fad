"""Specification of bench/results/pick.py: naming one stored run by id or by --where filters.

Checked on runs tables made from grids' specs (no training): every stored value can be
selected, errors list what to give instead, and the README's export example names one run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from bench.grid.parse import load_grid, parse_grid, run_ids
from bench.results.pick import PickError, select_run

README = Path(__file__).resolve().parent.parent / "README.md"


def runs_of(grid) -> pd.DataFrame:
    specs = grid.specs()
    table = pd.DataFrame([s.to_dict() for s in specs])
    table.insert(0, "run_id", run_ids(specs))
    table["error"] = ""
    return table


@pytest.fixture(scope="module")
def stacks() -> pd.DataFrame:
    grid = parse_grid(
        'name = "g"\n[grid]\nlayers = ["16 relu, 8 tanh", "16 tanh, 8 relu", "8 relu"]\n'
        "seed = [0, 1]"
    )
    return runs_of(grid)


def test_a_stack_is_selected_by_its_layers_though_they_hold_a_comma(stacks):
    row = select_run(stacks, where=["layers=16 relu, 8 tanh", "seed=1"])
    assert (row.layers, row.seed) == ("16 relu, 8 tanh", 1)
    assert select_run(stacks, where=["layers=16 relu,8 tanh", "seed=1"]).run_id == row.run_id
    by_label = select_run(stacks, where=["activation=[16 tanh, 8 relu]", "seed=0"])
    assert by_label.layers == "16 tanh, 8 relu"


def test_the_comma_form_still_works_where_it_is_unambiguous(stacks):
    row = select_run(stacks, where="activation=relu,seed=1")
    assert (row.depth, row.width, row.seed) == (1, 8, 1)


def test_no_match_lists_the_axis_values_one_per_line_quoted(stacks):
    with pytest.raises(PickError) as caught:
        select_run(stacks, where=["layers=16 relu, 8 sigmoid", "seed=0"])
    first, *values = str(caught.value).split("\n")
    assert first.endswith("no run has layers = '16 relu, 8 sigmoid'; layers takes:")
    # a uniform stack ("8 relu") is the ordinary network (its layers are stored empty)
    assert values == [
        "  --where 'layers=16 relu, 8 tanh'",
        "  --where 'layers=16 tanh, 8 relu'",
    ]


def test_several_matches_name_the_axes_that_still_vary_with_quoted_values(stacks):
    with pytest.raises(PickError, match=r"matches 3 runs; .*activation \('\[16 relu, 8 tanh\]'"):
        select_run(stacks, where=["seed=0"])


def test_a_start_of_several_ids_is_ambiguous_and_lists_them(stacks):
    ids = stacks.run_id.tolist()
    first = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    matching = sorted(i for i in ids if i.startswith(first))
    with pytest.raises(PickError) as caught:
        select_run(stacks, run=first)
    head, *listed = str(caught.value).split("\n")
    assert head.startswith(f"run '{first}' is ambiguous: {len(matching)} run ids start with it")
    assert sorted(line.strip() for line in listed) == matching
    unique = next(i for i in ids if sum(j.startswith(i[:2]) for j in ids) == 1)
    assert select_run(stacks, run=unique[:2]).run_id == unique  # short but unique: fine


def test_the_readmes_export_example_names_exactly_one_run_of_the_default_grid():
    command = next(
        line
        for line in README.read_text().splitlines()
        if re.match(r"nonlinbench export default --where", line)
    )
    args = shlex.split(command.split("#")[0])
    where = [args[i + 1] for i, a in enumerate(args) if a == "--where"]
    assert len(where) > 1
    row = select_run(runs_of(load_grid("default")), where=where)
    assert row.dataset == "circles"
