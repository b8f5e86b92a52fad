"""Had training converged? A diagnosis per run from its learning curve, summarised per setting.

Rule: a run *had not converged* when its training loss was still falling by more than
STILL_FALLING nats per 100 epochs over the last TAIL of its epochs (from the stored evaluation
nearest to 90% of the budget to the last one). An absolute rate rather than a relative one: on
separable data the loss of a trained network keeps shrinking towards zero by a steady fraction of
itself forever, which changes no prediction, while a network still learning loses hundredths of a
nat per 100 epochs at a loss of 0.3 or more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.report.results import usable

TAIL = 0.1  # the last 10% of the epochs
STILL_FALLING = 0.01  # nats per 100 epochs
RULE = (
    f"A run had not converged when its training loss was still falling by more than "
    f"{STILL_FALLING:g} nats per 100 epochs over the last {100 * TAIL:.0f}% of its epochs."
)
CONVERGENCE_COLUMNS = ("runs", "not_converged", "share", "median_rate", "epochs")
MAJORITY = 0.5  # a cell is named when at least this share of its runs had not converged


def falling_rate(runs: pd.DataFrame, curves: pd.DataFrame) -> pd.Series:
    """Per run (indexed by run_id): the training loss's fall per 100 epochs over the last TAIL of
    its epochs (NaN without a curve that spans them)."""
    if curves.empty or "train_loss" not in curves:
        return pd.Series(dtype=float)
    budget = runs.set_index("run_id")["epochs"].astype(float)
    part = curves[curves["run_id"].isin(budget.index)][["run_id", "epoch", "train_loss"]]
    part = part.assign(budget=part["run_id"].map(budget).to_numpy())
    last = part[part["epoch"] == part["budget"]].set_index("run_id")
    # the stored evaluation nearest to (1 - TAIL) x budget, and before the last one
    start = part[part["epoch"] < part["budget"]]
    start = start.assign(gap=(start["epoch"] - (1 - TAIL) * start["budget"]).abs())
    start = (
        start.sort_values(["run_id", "gap", "epoch"]).drop_duplicates("run_id").set_index("run_id")
    )
    common = last.index.intersection(start.index)
    fall = start.loc[common, "train_loss"].astype(float) - last.loc[common, "train_loss"].astype(
        float
    )
    span = last.loc[common, "epoch"].astype(float) - start.loc[common, "epoch"].astype(float)
    return (100 * fall / span).rename("rate")


def convergence_table(
    runs: pd.DataFrame, curves: pd.DataFrame, by: Sequence[str] = ("activation", "dataset")
) -> pd.DataFrame:
    """Per group of ``by`` (usable runs with hidden layers and a curve; the caller selects them
    on common support): runs, runs that had not converged, their share, the median falling rate
    of the runs that had not converged (nats per 100 epochs; NaN when every run had) and the
    epoch budget (the largest, when it varies)."""
    by = list(by)
    runs = usable(runs)
    runs = runs[runs["depth"] > 0] if "depth" in runs else runs
    rate = falling_rate(runs, curves)
    columns = [*by, *CONVERGENCE_COLUMNS]
    if rate.empty:
        return pd.DataFrame(columns=columns)
    frame = runs[[*by, "run_id", "epochs"]].assign(rate=runs["run_id"].map(rate).to_numpy(float))
    frame = frame[np.isfinite(frame["rate"])]
    frame = frame.assign(still=frame["rate"] > STILL_FALLING)
    grouped = frame.groupby(by, sort=True)
    table = pd.DataFrame(
        {
            "runs": grouped.size(),
            "not_converged": grouped["still"].sum().astype(int),
            "median_rate": frame[frame["still"]].groupby(by, sort=True)["rate"].median(),
            "epochs": grouped["epochs"].max().astype(int),
        }
    )
    table["share"] = table["not_converged"] / table["runs"]
    return table.reset_index()[columns]


def unconverged(table: pd.DataFrame, majority: float = MAJORITY) -> pd.DataFrame:
    """The rows of a convergence table where ``majority`` or more of the runs had not
    converged."""
    return table[table["share"] >= majority] if len(table) else table
