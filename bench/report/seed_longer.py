"""The seed notebook's network trained longer: had it converged at its 1000 epochs, and what
does the same network, on the same data with the same optimiser, reach when it has?

The notebook stops at 1000 epochs of full-batch SGD; with ReLU most seeds are still learning
then (bench.report.convergence's rule), so its 79% is a snapshot, not what the network can do.
The seed grid's block "longer" trains the same configuration for more epochs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.grid import notebook
from bench.report.convergence import RULE, convergence_table
from bench.report.markdown import pct_ci
from bench.report.results import usable
from bench.report.tables import summarize


def longer_runs(runs: pd.DataFrame, final_epoch: int) -> pd.DataFrame:
    """The usable runs of the notebook's configuration in every axis but the epoch budget,
    trained for more than ``final_epoch`` epochs."""
    runs = usable(runs)
    mask = np.ones(len(runs), dtype=bool)
    for axis, value in notebook.configuration().items():
        if axis == "epochs":
            continue
        if axis not in runs:
            return runs.iloc[0:0]
        column = runs[axis]
        mask &= (
            np.isclose(column.astype(float), value)
            if isinstance(value, float)
            else (column == value).to_numpy()
        )
    return runs[mask & (runs["epochs"] > final_epoch).to_numpy()]


def longer_paragraph(cells, runs: pd.DataFrame, curves: pd.DataFrame, **options) -> str:
    """Whether the notebook's ReLU network had converged at its budget and, when the results
    train the same configuration longer, what it reaches then; '' without relu in ``cells``."""
    if cells is None:
        return ""
    at_budget = cells.convergence.set_index("activation") if len(cells.convergence) else None
    if at_budget is None or "relu" not in at_budget.index:
        return ""
    relu = at_budget.loc["relu"]
    text = (
        f"**The notebook's ReLU network had not finished training:** at epoch "
        f"{cells.final_epoch}, {int(relu['not_converged'])} of {int(relu['runs'])} ReLU runs "
        "had not converged (their training loss was still falling by more than 0.01 nats per "
        "100 epochs), which is why their accuracy varies so much from seed to seed."
    )
    longer = longer_runs(runs, cells.final_epoch)
    if longer.empty:
        return text
    epochs = int(longer["epochs"].max())
    longer = longer[longer["epochs"] == epochs]
    table = summarize(longer, ["activation"], within=[], **options).set_index("activation")
    converged = convergence_table(longer, curves, by=["activation"]).set_index("activation")
    parts = []
    for activation in ("relu", cells.control):
        if activation not in table.index:
            continue
        row = table.loc[activation]
        name = "with ReLU" if activation == "relu" else "without an activation"
        still = ""
        if activation in converged.index:
            c = converged.loc[activation]
            still = f" ({int(c['not_converged'])} of {int(c['runs'])} runs still not converged)"
        parts.append(f"{pct_ci(row)} {name}{still}")
    if parts:
        text += (
            f' Trained for {epochs} epochs instead (the grid\'s block "longer"), the same '
            f"network, data and optimiser reach {' and '.join(parts)}: training longer helps "
            "the network with an activation and changes nothing for the one without. " + RULE
        )
    return text
