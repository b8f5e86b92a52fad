"""Which runs store a decision surface (bench.run.plan.surface_runs): one per cell of every axis
that changes the learned function, so a report or the explore page never shows another cell's
surface as this one's."""

from __future__ import annotations

import itertools

from bench.run.plan import surface_runs
from bench.spec import RunSpec


def test_each_cell_of_every_axis_that_changes_the_function_gets_one_surface():
    specs = [
        RunSpec(features=f, dropout=d, weight_decay=w, seed=s, data_seed=ds, eval_every=e)
        for f, d, w, s, ds, e in itertools.product(
            ("raw", "quadratic"), (0.0, 0.2), (0.0, 0.01), (0, 1, 2), (42, 43), (10, 50)
        )
    ]
    ids = [f"run{i}" for i in range(len(specs))]
    chosen = surface_runs(specs, ids)
    # 2 feature maps x 2 dropouts x 2 weight decays; seeds and eval_every do not make a cell
    assert len(chosen) == 8
    cells = {(specs[ids.index(r)].features, specs[ids.index(r)].dropout,
              specs[ids.index(r)].weight_decay) for r in chosen}  # fmt: skip
    assert len(cells) == 8
    # the first run of each cell in grid order: seed 0 of the first data sample
    assert all(
        specs[ids.index(r)].seed == 0 and specs[ids.index(r)].data_seed == 42 for r in chosen
    )
